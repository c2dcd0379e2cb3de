// LayerFoldPlan — the plan of one compute layer as the cycle-level controller executes
// it: the folds in order with their tiles and DRAM transfers, and the dependencies
// of double buffering. The one place the controller learns the plan from.
//
// Today it reads a Schedule (sim/mapping.h: Schedule::fold gives each fold's tiles,
// cycles and bytes) and states the double-buffering rule the analytical backend sums
// (sim/analytical/analytical_backend.cpp, time_schedule):
//   total = L + x(in_0) + sum_f max(c_f, x(in_{f+1} + out_{f-1})) + x(out_{F-1})
// i.e. fold f's inputs are prefetched during fold f-1 and fold f-1's outputs drain
// during fold f; the first fold waits for the latency and its inputs, the last drain
// comes after. As dependencies: fold f's inputs go into buffer half f % 2, which
// fold f-2 used; fold f's outputs go into output half f % 2, which must have been
// drained of fold f-2's; fold f starts when fold f-1 is done, its inputs are in and
// fold f-2's outputs are out. Single-buffered: load, compute, store, fold by fold.
// When the lowered Program (issue 11) exposes each Compute step's fold walk with
// these dependencies, this adapter reads it instead, and nothing else changes.
#pragma once

#include <cstdint>

#include "sim/hw_spec.h"
#include "sim/mapping.h"

namespace qsim {

class LayerFoldPlan {
 public:
  LayerFoldPlan(const Schedule& s, const MemorySpec& m) : s_(&s), double_buffered_(m.double_buffer) {}

  const Schedule& schedule() const { return *s_; }
  int64_t folds() const { return s_->folds(); }
  FoldStep fold(int64_t i) const { return s_->fold(i); }
  bool double_buffered() const { return double_buffered_; }

  // Double-buffered: the fold whose end frees the buffer half fold f's inputs (and
  // outputs) use, -1 when the half starts free.
  int64_t frees_half_of(int64_t f) const { return f >= 2 ? f - 2 : -1; }
  // Double-buffered: fold f's inputs are requested when fold f - kRequestAhead
  // starts (folds 0..kRequestAhead-1 at the start of the layer); their data moves
  // once the half is free, so the read latency hides behind two folds of compute.
  // Fold f's outputs are submitted when fold f+1 starts; they move once fold f is done.
  static constexpr int64_t kRequestAhead = 3;
 private:
  const Schedule* s_;
  bool double_buffered_;
};

}  // namespace qsim
