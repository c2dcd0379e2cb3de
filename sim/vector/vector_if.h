// vector_if — what the controller and the DRAM channel see of the vector unit
// (implemented by VectorUnit, sim/vector/vector_unit.h): the unit processes one
// chunk of a Requantize or Vector step at a time, as the array processes one fold.
#pragma once

#include <cstdint>

#include <systemc>

namespace qsim {

class vector_if : public virtual sc_core::sc_interface {
 public:
  // Starts chunk `index` of the current step now: `ops` element operations; the
  // unit must be idle. It takes ceil(ops / lanes) cycles.
  virtual void start_chunk(int64_t index, int64_t ops) = 0;
  // Chunks of the current step the unit has finished (the buffer half a chunk used
  // is free once this passes its index).
  virtual int64_t chunks_done() const = 0;
  // When chunk `index` (< chunks_done()) finished.
  virtual sc_core::sc_time chunk_end(int64_t index) const = 0;
  virtual const sc_core::sc_event& chunk_done_event() const = 0;
};

}  // namespace qsim
