// AnalyticalBackend — the closed-form timing, traffic and energy model.
//
// It times the Program (sim/program.h) step by step: every Compute step's Schedule
// is summed over its fold classes (sim/analytical/fold_classes.h), the exact sum of
// its FoldWalk's stages in O(1) per layer; Requantize and Vector steps are passes on
// the vector unit. Every formula is in docs/timing-model.md; in 8-bit `fixed` mode
// the compute cycles equal SCALE-Sim v2's (checked on every CALC reference run by
// tests/sim). The search's incremental evaluator (analytical_evaluator.h) times the
// same steps with the same functions, without building rows.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "sim/backend.h"
#include "sim/mapping.h"
#include "sim/program.h"

namespace qsim {

class AnalyticalBackend : public TimingBackend {
 public:
  std::string_view name() const override { return "analytical"; }
  using TimingBackend::run;
  TimingReport run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                   const HwSpec& hw) const override;
  // The rows of an already lowered Program (`low` must be the Lowering it came from).
  TimingReport run(const Lowering& low, const Program& program) const;
};

// The row of one mapped compute layer (name, op and widths left for the caller):
// cycles, stalls, traffic, energy -- the sum of the schedule's FoldWalk stages.
// Exposed for tools that time a single GEMM (lookup tables). `layer` names the
// layer in error messages.
LayerTiming time_schedule(const Schedule& s, const HwSpec& hw, std::string_view layer);

// One pass of `ops` elements through the vector unit that reads `read_bytes`
// from and writes `write_bytes` to DRAM (a requantization or a standalone op).
// Throws qsim::Error naming `what` when hw.vector.lanes < 1.
LayerTiming time_vector_op(int64_t ops, int64_t read_bytes, int64_t write_bytes, const HwSpec& hw,
                           std::string_view what);

// The energy of a vector-unit pass from its counts: `ops` element operations
// (energy.vector_op_pj each, the unit's buffer accesses included) and `dram_bytes`
// moved. The one rule for every backend's Requantize and Vector rows.
EnergyBreakdown vector_energy(int64_t ops, int64_t dram_bytes, const HwSpec& hw);

}  // namespace qsim
