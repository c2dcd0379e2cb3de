// AnalyticalBackend — the closed-form timing, traffic and energy model.
//
// Every compute layer is mapped once (sim/mapping.h) and its Schedule is summed
// over its fold classes: O(1) per layer, no per-fold loop, no allocation beyond
// the report rows. Between layers it charges requantization where the
// producer's output width differs from the consumer's input width, and it
// charges standalone non-compute ops as vector-unit rows. Every formula is in
// docs/timing-model.md; in 8-bit `fixed` mode the compute cycles equal
// SCALE-Sim v2's (checked on every CALC reference run by tests/sim).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sim/backend.h"
#include "sim/mapping.h"

namespace qsim {

// What a non-compute op costs. kFree ops move no data (views) or are written in
// place by their producers (Concat); kElementwise ops can ride in the producing
// layer's output stage (vector.fuse_elementwise); the rest always run as a pass on
// the vector unit. The allocation's fused groups (search/quantune.h) use the same rule.
enum class VectorKind : uint8_t { kFree, kElementwise, kStandalone };
VectorKind vector_kind(OpKind op);

class AnalyticalBackend : public TimingBackend {
 public:
  std::string_view name() const override { return "analytical"; }
  using TimingBackend::run;
  TimingReport run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                   const HwSpec& hw) const override;
};

// The row of one mapped compute layer (name, op and widths left for the caller):
// cycles, stalls, traffic, energy. Exposed for tools that time a single GEMM
// (lookup tables). `layer` names the layer in error messages.
LayerTiming time_schedule(const Schedule& s, const HwSpec& hw, std::string_view layer);

// One pass of `ops` elements through the vector unit that reads `read_bytes`
// from and writes `write_bytes` to DRAM (a requantization or a standalone op).
// Throws qsim::Error naming `what` when hw.vector.lanes < 1.
LayerTiming time_vector_op(int64_t ops, int64_t read_bytes, int64_t write_bytes, const HwSpec& hw,
                           std::string_view what);

// ceil(bytes / dram_bytes_per_cycle), robust to the rounding of the division.
int64_t dram_transfer_cycles(int64_t bytes, double bytes_per_cycle);

}  // namespace qsim
