// array_if — what the controller and the DRAM channel see of the systolic array
// (implemented by SystolicArray, sim/systolic/systolic_array.h).
#pragma once

#include <cstdint>

#include <systemc>

#include "sim/systolic/array_core.h"

namespace qsim {

class array_if : public virtual sc_core::sc_interface {
 public:
  // Starts fold `index` of the current layer now; the array must be idle. `values`
  // (value mode) must stay valid until the fold is done.
  virtual void start_fold(int64_t index, const FoldWork& work, const GemmOperands* values) = 0;
  // Folds of the current layer the array has finished (the next one's buffer half
  // and output registers are free once this passes its index).
  virtual int64_t folds_done() const = 0;
  // When fold `index` (< folds_done()) finished.
  virtual sc_core::sc_time fold_end(int64_t index) const = 0;
  virtual const sc_core::sc_event& fold_done_event() const = 0;
};

}  // namespace qsim
