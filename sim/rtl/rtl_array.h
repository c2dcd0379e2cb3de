// RtlArray — the verilated RTL array (rtl/qsim_array.sv) behind one interface,
// whatever model class (size, accumulator width) was built, and its driver: the
// operand buffers that serve the lanes' reads, the output buffer that takes the
// column writes, and the fold queue kept full so folds run back to back
// (docs/rtl.md).
//
// Fold cycles are counted as the SystemC model counts them: a lane read the RTL
// requests for fold cycle t (it requests one cycle ahead: synchronous buffers) is
// an event of cycle t; an output the array writes in its t-th cycle of a fold is an
// event of cycle t.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/systolic/tile_vectors.h"

namespace qsim {

// One fold as the RTL runs it.
struct RtlFold {
  Dataflow dataflow = Dataflow::kOS;
  int64_t rows = 1, cols = 1;  // the active array (<= the model's size)
  PeArith pe;                  // fixed (runs 8 x 8) or bitfusion at 2/4/8 bits; signed or unsigned operands
  FoldWork work;
  // The operands of work.repeat; the array's outputs are written to y (and read
  // back from it as partial sums). Null: zeros (timing only).
  const GemmOperands* values = nullptr;
};

class RtlObserver {
 public:
  virtual ~RtlObserver() = default;
  virtual void on_event(std::size_t fold, const TileEvent& e) = 0;
};

struct RtlRunStats {
  std::vector<int64_t> fold_cycles;  // each fold's length as the RTL ran it
  int64_t compute_cycles = 0;        // their sum
  int64_t clock_cycles = 0;          // clock cycles simulated (with reset and pipeline fill)
};

struct RtlModelInfo {
  std::string name;  // "8x8_a32"
  int64_t rows = 0, cols = 0;
  int acc_bits = 0;
};

class RtlArray {
 public:
  virtual ~RtlArray() = default;
  virtual const RtlModelInfo& info() const = 0;
  // Idle lanes carry random data instead of zeros (the array must ignore them).
  virtual void poison_idle_lanes(bool on) = 0;
  // Runs the folds back to back from reset. Throws std::invalid_argument for a
  // fold the model cannot run and std::runtime_error when the RTL breaks the fold
  // protocol (a fold not starting right after its first requests or its
  // predecessor, an output of no fold).
  virtual RtlRunStats run(std::span<const RtlFold> folds, RtlObserver* obs = nullptr) = 0;
};

// The models this build holds, smallest first.
const std::vector<RtlModelInfo>& rtl_models();
// The model called `name`; throws std::invalid_argument for an unknown name.
std::unique_ptr<RtlArray> make_rtl_array(std::string_view name);

}  // namespace qsim
