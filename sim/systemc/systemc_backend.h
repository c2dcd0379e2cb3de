// SystemcBackend — the cycle-level timing backend (docs/systemc.md).
//
// The Program (sim/program.h) runs step by step, each step starting when the
// previous one has finished, on a SystemC model of the accelerator
// (sim/systemc/accelerator.h: the systolic array, the vector unit, per-operand
// SRAMs, the DRAM channel and a controller executing the Program's plan):
//   Compute steps fold by fold (their FoldWalk);
//   Requantize and Vector steps chunk by chunk on the vector unit (VectorStream,
//   sim/memory/controller.h), their bytes through the same DRAM channel.
// The report has the analytical backend's rows and columns; every row's cycles,
// stalls and DRAM traffic are measured by the simulation (compute rows also their
// SRAM traffic and utilization). Energy: compute rows keep the analytical energy
// (their counts are checked equal to the plan's), Requantize/Vector rows have the
// energy of their simulated counts (vector_energy, the one rule).
//
// Reentrancy: SystemC has one simulation kernel per process and is not reentrant.
// The model is elaborated once per process, on first use, and run() holds a
// process-wide lock while it simulates: concurrent calls (qsim sweep's workers)
// are serialised, never run in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/backend.h"
#include "sim/systemc/layer_trace.h"

namespace qsim {

// The integer operands of one compute layer as the array runs them (--verify).
struct GemmValues {
  std::vector<int32_t> a;  // repeats x M x K: activations (im2col; k ordered as sim/memory/operand_layout.h)
  std::vector<int32_t> b;  // repeats x K x N: weights (signed)
  bool a_signed = false;
};

class LayerValueSource {
 public:
  virtual ~LayerValueSource() = default;
  // The operands of compute layer `index` (graph.compute_layers() order); null:
  // time it without values.
  virtual const GemmValues* operands(std::size_t index) = 0;
  // The accumulators the array wrote for it: repeats x M x N, wrapped to pe.acc_bits.
  virtual void accumulators(std::size_t index, std::span<const int64_t> y) = 0;
};

struct SystemcOptions {
  // Rows to run, by name (empty: all). Compute rows not selected are not simulated.
  std::function<bool(std::string_view row)> select;
  // Waveform of the process's first simulated layer: SystemC writes `vcd` + ".vcd".
  std::string vcd;
  LayerValueSource* values = nullptr;
  // Per-cycle SCALE-Sim traces of every simulated compute layer (its compute index):
  // the files of its LayerTrace, (file name, CSV text).
  std::function<void(std::size_t index, std::vector<std::pair<std::string, std::string>> files)> trace;
  bool fast_forward = true;  // skip steady streams when nothing observes single cycles
};

// What the last run() simulated.
struct SystemcStats {
  int64_t layers = 0;
  int64_t cycles = 0;            // simulated compute-layer cycles (total, stalls included)
  int64_t stepped_cycles = 0;    // array cycles stepped one by one
  int64_t forwarded_cycles = 0;  // array cycles fast-forwarded
  int64_t conflict_cycles = 0;   // bank-conflict waits
  int64_t overfull_folds = 0;    // fills larger than the working half of their SRAM
  int64_t vector_steps = 0;      // Requantize and Vector steps simulated
  int64_t vector_cycles = 0;     // their total cycles (stalls included)
};

class SystemcBackend : public TimingBackend {
 public:
  explicit SystemcBackend(SystemcOptions o = {});
  std::string_view name() const override { return "systemc"; }
  using TimingBackend::run;
  TimingReport run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                   const HwSpec& hw) const override;
  SystemcStats last_stats() const;

 private:
  SystemcOptions opts_;
  mutable SystemcStats stats_;
};

}  // namespace qsim
