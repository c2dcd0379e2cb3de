// TimingBackend — the one interface every timing model implements.
//
// analytical (closed form over the Schedule, fast; the search calls it in its
// loop), systemc (cycle-level) and rtl (Verilator) all turn the same inputs into
// the same TimingReport type, so any two can be compared layer by layer.
//
// Reentrancy (the sweep calls backends from several threads):
//   analytical  reentrant: run() is const and keeps no state.
//   systemc     serialised: SystemC has one simulation kernel per process and is
//               not reentrant; run() holds a process-wide lock while it simulates
//               (sim/systemc/systemc_backend.h), so concurrent calls wait their turn.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "sim/hw_spec.h"
#include "sim/timing_report.h"

namespace qsim {

class TimingBackend {
 public:
  virtual ~TimingBackend() = default;
  virtual std::string_view name() const = 0;
  // `precision` holds one entry per compute layer, in graph.compute_layers() order
  // (PrecisionAlloc::resolve gives it). Throws qsim::Error for widths `hw` cannot run.
  virtual TimingReport run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                           const HwSpec& hw) const = 0;

  TimingReport run(const LayerGraph& graph, const PrecisionAlloc& alloc, const HwSpec& hw) const {
    const auto p = alloc.resolve(graph, "precision");
    return run(graph, std::span<const LayerPrecision>(p), hw);
  }
};

}  // namespace qsim
