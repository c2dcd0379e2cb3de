// Accelerator — the top module: the systolic array, the vector unit, the three
// operand SRAMs, the DRAM channel and the controller, their ports bound here (as in
// the Accellera examples). Elaborated once per process; run() simulates one step of
// the Program after another on the same modules without re-elaboration (each module
// is re-configured between runs: sizes live in plain arrays, not in the module
// structure); a step starts when the previous one has finished.
#pragma once

#include <cstdint>
#include <functional>

#include <systemc>

#include "sim/hw_spec.h"
#include "sim/mapping.h"
#include "sim/memory/controller.h"
#include "sim/memory/dram_channel.h"
#include "sim/memory/sram.h"
#include "sim/systemc/layer_trace.h"
#include "sim/systolic/systolic_array.h"
#include "sim/vector/vector_unit.h"

namespace qsim {

// One compute layer to simulate.
struct LayerRun {
  const FoldWalk* walk = nullptr;  // the compute step's fold walk (sim/program.h) and its Schedule
  const HwSpec* hw = nullptr;
  PeArith pe;
  const OperandLayout* layout = nullptr;
  std::function<const GemmOperands*(int64_t repeat)> values;  // value mode (empty: timing only)
  LayerTrace* trace = nullptr;  // per-cycle SCALE-Sim traces (null: none)
  bool fast_forward = true;     // skip steady streams (only when nothing observes single cycles)
};

// What the simulation measured.
struct LayerTotals {
  int64_t compute_cycles = 0;   // the array computing folds
  int64_t total_cycles = 0;     // from the layer's first DRAM request to its last byte out
  int64_t conflict_cycles = 0;  // array waits for crowded SRAM banks (part of the stalls)
  int64_t stepped_cycles = 0;
  int64_t forwarded_cycles = 0;
  int64_t sram_read[3] = {0, 0, 0};   // per operand, both sides of each SRAM
  int64_t sram_write[3] = {0, 0, 0};
  int64_t dram_read[3] = {0, 0, 0};
  int64_t dram_write[3] = {0, 0, 0};
  int64_t peak_fill[3] = {0, 0, 0};   // largest single fill of an operand SRAM
  int64_t overfull_folds = 0;         // fills larger than the working half
};

// One Requantize or Vector step to simulate.
struct VectorRun {
  VectorWork work;
  const HwSpec* hw = nullptr;
  bool fast_forward = true;  // a chunk's cycles at once (else cycle by cycle)
};

struct VectorTotals {
  int64_t ops = 0;            // element operations the unit did
  int64_t vector_cycles = 0;  // the unit busy
  int64_t total_cycles = 0;   // from the step's first DRAM request to its last byte out
  int64_t chunks = 0;
  int64_t stepped_cycles = 0;
  int64_t forwarded_cycles = 0;
  int64_t dram_read = 0;   // bytes the channel moved
  int64_t dram_write = 0;
  int64_t dram_busy_cycles = 0;  // cycles with bytes on the bus
};

class Accelerator : public sc_core::sc_module {
 public:
  Controller controller;
  SystolicArray array;
  VectorUnit vector;
  Sram ifmap_sram, filter_sram, ofmap_sram;
  DramChannel dram;

  explicit Accelerator(sc_core::sc_module_name name);
  // Waveform of the array lanes and the DRAM channel (before the first run).
  void record_waveform(sc_core::sc_trace_file* tf, int64_t rows, int64_t cols);
  void end_trace() { waveform_ = false; }  // the waveform file was closed
  // Simulates one layer (outside any process: it calls sc_start).
  LayerTotals run(const LayerRun& r);
  // Simulates one Requantize or Vector step (outside any process).
  VectorTotals run(const VectorRun& r);

  static constexpr double kPeriodNs = 1.0;  // one cycle = 1 ns of simulated time

 private:
  // Hands `job` to the controller and simulates until every process waits; throws
  // if the job (a layer or a vector step: `what`) did not finish.
  void simulate(const ControllerJob& job, const char* what);

  bool waveform_ = false;  // a waveform is recorded: simulated time follows every cycle
};

}  // namespace qsim
