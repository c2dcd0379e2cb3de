// Controller — executes one compute step's fold walk (sim/program.h: FoldWalk, the
// plan the analytical model sums) on the array and the DRAM channel: stage by
// stage, it starts the stage's fold, moves the stage's transfers, and ends the stage
// when the fold and both transfers are done, so every fold and transfer waits for
// exactly what it waits for in the walk.
#pragma once

#include <cstdint>
#include <functional>

#include <systemc>

#include "sim/memory/memory_if.h"
#include "sim/memory/operand_layout.h"
#include "sim/program.h"
#include "sim/systolic/array_if.h"

namespace qsim {

struct ControllerJob {
  const FoldWalk* walk = nullptr;
  // Value mode: the operands of GEMM repeat r (empty: timing mode).
  std::function<const GemmOperands*(int64_t repeat)> values;
  const OperandLayout* layout = nullptr;  // DRAM trace addresses (trace only)
  bool trace = false;
};

class Controller : public sc_core::sc_module {
 public:
  sc_core::sc_port<array_if> array;
  sc_core::sc_port<dram_if> dram;

  SC_HAS_PROCESS(Controller);
  explicit Controller(sc_core::sc_module_name name);

  // Hands the controller a layer; it runs at the next sc_start(). `job` must
  // outlive the run.
  void post(const ControllerJob* job);
  bool finished() const { return job_ == nullptr; }
  sc_core::sc_time layer_end() const { return end_; }

  // A stage's inputs are requested this many stages before the stage (their data
  // still moves only once the half they fill is free), so the read latency
  // overlaps the compute of the stages between; the walk assumes it hidden after
  // the first fill. Serial walks request at the stage itself.
  static constexpr int64_t kRequestAhead = 2;

  int64_t vcd_fold = -1;  // the fold on the array (waveforms)

 private:
  void run();
  void execute(const ControllerJob& job);
  int64_t submit_inputs(const ControllerJob& job, const FoldStep& f, int64_t after_fold);
  int64_t submit_outputs(const ControllerJob& job, const FoldStep& f, int64_t needed_by);
  void start_fold(const ControllerJob& job, const FoldStep& f);
  // Waits until `ready()` holds, waking on array and DRAM progress.
  template <typename Ready>
  void wait_until(Ready ready);

  const ControllerJob* job_ = nullptr;
  sc_core::sc_event posted_;
  sc_core::sc_time end_;
};

}  // namespace qsim
