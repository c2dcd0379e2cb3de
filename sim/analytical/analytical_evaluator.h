// AnalyticalEvaluator — the analytical model's totals for many allocations of one
// network on one hardware point, re-timing only what a change touches.
//
//   AnalyticalEvaluator ev;
//   ev.prepare(graph, hw);                 // once: checks, statistics, dependencies
//   ev.evaluate(precision);                // a full evaluation: the totals of run()
//   ev.update(layer, wbits, abits);        // one layer's widths changed: new totals
//
// The steps are the Program's (sim/program.h), built by the same Lowering and timed
// by the same functions as AnalyticalBackend::run, so the totals are run()'s, without
// building a TimingReport. Integers (cycles, bytes, requantization boundaries) equal
// run()'s exactly. The energy is re-summed after every change from the per-step
// energies, in program order (the order of run()'s rows, a step without a
// requantization adding 0.0), so it too equals run()'s sum bit for bit, and a chain
// of updates gives exactly the energy of a fresh evaluation of the same allocation
// (no drift from adding and subtracting).
//
// What an update re-times (graph/precision_plan.h gives the dependencies):
//   - the layer's Compute step, memoised per (layer, wbits, abits): each pair is
//     mapped once per hardware point;
//   - when abits changes: the stored widths whose width sources include the layer,
//     the requantizations of the tensors the layer reads or whose width changed
//     (every reader's, since which reader converts first can move), and the vector
//     steps that read or write a tensor whose width changed.
// With the memo warm an update allocates nothing.
//
// Widths the hardware cannot run (a width above the PE's, a missing energy entry, a
// buffer one fold does not fit at that width) are a returned status, not an
// exception: the evaluator keeps its previous allocation and totals, and error()
// says why. Hardware that cannot time the graph at all throws from prepare().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "sim/hw_spec.h"

namespace qsim {

// The totals of a TimingReport (sim/timing_report.h), same definitions.
struct EvalTotals {
  int64_t total_cycles = 0;
  int64_t compute_cycles = 0;
  int64_t stall_cycles = 0;
  int64_t vector_cycles = 0;
  int64_t sram_bytes = 0;
  int64_t dram_bytes = 0;
  int requant_boundaries = 0;
  double energy_pj = 0.0;
  double latency_ms = 0.0;  // total_cycles at array.clock_mhz
  double energy_uj() const { return energy_pj * 1e-6; }
};

enum class EvalStatus : uint8_t {
  kOk,
  kUnsupported,  // a layer's widths cannot run on this hardware: nothing changed (error() says why)
};

struct Evaluation {
  EvalStatus status = EvalStatus::kOk;
  std::size_t layer = 0;  // kUnsupported: the compute layer whose widths were refused
  EvalTotals totals;      // the current totals (unchanged when refused)
  bool ok() const { return status == EvalStatus::kOk; }
};

class AnalyticalEvaluator {
 public:
  AnalyticalEvaluator();
  ~AnalyticalEvaluator();
  AnalyticalEvaluator(AnalyticalEvaluator&&) noexcept;
  AnalyticalEvaluator& operator=(AnalyticalEvaluator&&) noexcept;

  // Once per (graph, hardware point). `graph` must outlive the evaluator; `hw` is
  // copied. Throws qsim::Error for hardware values that cannot time the graph or
  // counts that could overflow (as run() does), and when the graph needs the vector
  // unit and hw.vector.lanes < 1.
  void prepare(const LayerGraph& graph, const HwSpec& hw);

  // All layers at once (one entry per compute layer, graph.compute_layers() order).
  // Throws qsim::Error when the size is wrong; a width the hardware cannot run is a
  // kUnsupported result (the previous allocation, if any, stays).
  Evaluation evaluate(std::span<const LayerPrecision> precision);

  // One compute layer's widths changed. Needs a successful evaluate() first.
  Evaluation update(std::size_t layer, int wbits, int abits);

  const EvalTotals& totals() const;
  std::span<const LayerPrecision> precision() const;  // the allocation the totals are for
  std::size_t layers() const;
  std::string_view error() const;  // why the last kUnsupported result was refused

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace qsim
