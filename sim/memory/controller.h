// Controller — executes the Program's steps (sim/program.h), one at a time, on the
// array, the vector unit and the DRAM channel:
//   Compute: the step's fold walk (FoldWalk, the plan the analytical model sums),
//     stage by stage: it starts the stage's fold, moves the stage's transfers, and
//     ends the stage when the fold and both transfers are done, so every fold and
//     transfer waits for exactly what it waits for in the walk;
//   Requantize / Vector: the step's VectorStream (below): its inputs read from DRAM
//     chunk by chunk, each chunk processed on the vector unit once it has arrived,
//     its outputs written back (docs/systemc.md, "The vector unit").
#pragma once

#include <cstdint>
#include <functional>

#include <systemc>

#include "sim/memory/memory_if.h"
#include "sim/memory/operand_layout.h"
#include "sim/program.h"
#include "sim/systolic/array_if.h"
#include "sim/vector/vector_if.h"

namespace qsim {

// A Requantize or Vector step: `ops` element operations on the vector unit, reading
// `read_bytes` from DRAM and writing `write_bytes` back (RequantizeStep::elems /
// VectorStep::ops and their bytes).
struct VectorWork {
  int64_t ops = 0;
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
};

struct VectorChunk {
  int64_t ops = 0;     // element operations
  int64_t cycles = 0;  // ceil(ops / lanes): the chunks' cycles sum to ceil(work.ops / lanes)
  int64_t in = 0;      // bytes read from DRAM (into the ifmap SRAM)
  int64_t out = 0;     // bytes written to DRAM (from the ofmap SRAM)
};

// How the controller streams a vector step through the buffers. The step's inputs
// go into the ifmap SRAM and its outputs come out of the ofmap SRAM: the array's
// buffers, idle while the step runs (steps do not overlap), on the same sides of
// the DRAM channel as a layer's activations and outputs. The step is cut into
// chunks() equal chunks (whole lane cycles; bytes spread evenly), as many as
//   max(chunks whose inputs fit a buffer half (the whole buffer single-buffered)
//       and whose outputs fit one,
//       double-buffered: min(kMinChunks, ceil(ops / lanes))).
// Single-buffered, a buffer holds one chunk: read, compute, write serialise.
// Double-buffered, each buffer is a ring of slots (in_slots(), out_slots()): as many
// chunks as fit, at least its two halves; the unit computes on one slot while the
// channel fills and drains the others. The first chunk's fill and the last one's
// compute and drain are what the stream adds to the analytical closed form (at most
// one chunk's time: docs/systemc.md).
class VectorStream {
 public:
  static constexpr int64_t kMinChunks = 128;
  VectorStream(const VectorWork& w, int64_t lanes, const MemorySpec& m);
  const VectorWork& work() const { return w_; }
  Overlap overlap() const { return overlap_; }
  int64_t chunks() const { return n_; }
  VectorChunk chunk(int64_t i) const;  // 0 <= i < chunks(); O(1)
  int64_t in_slots() const { return in_slots_; }    // chunk i's inputs fill the slot of chunk i - in_slots
  int64_t out_slots() const { return out_slots_; }  // chunk i's outputs reuse the slot of chunk i - out_slots

 private:
  VectorWork w_;
  int64_t lanes_;
  int64_t cycles_;  // ceil(ops / lanes)
  Overlap overlap_;
  int64_t n_;
  int64_t in_slots_ = 1, out_slots_ = 1;
};

struct ControllerJob {
  const FoldWalk* walk = nullptr;      // a compute step, or
  const VectorStream* stream = nullptr;  // a Requantize or Vector step
  // Value mode: the operands of GEMM repeat r (empty: timing mode).
  std::function<const GemmOperands*(int64_t repeat)> values;
  const OperandLayout* layout = nullptr;  // DRAM trace addresses (trace only)
  bool trace = false;
};

class Controller : public sc_core::sc_module {
 public:
  sc_core::sc_port<array_if> array;
  sc_core::sc_port<dram_if> dram;
  sc_core::sc_port<vector_if> vector;

  SC_HAS_PROCESS(Controller);
  explicit Controller(sc_core::sc_module_name name);

  // Hands the controller a step; it runs at the next sc_start(). `job` must
  // outlive the run.
  void post(const ControllerJob* job);
  bool finished() const { return job_ == nullptr; }
  sc_core::sc_time layer_end() const { return end_; }

  // A stage's inputs are requested this many stages before the stage (their data
  // still moves only once the half they fill is free), so the read latency
  // overlaps the compute of the stages between; the walk assumes it hidden after
  // the first fill. Serial walks request at the stage itself.
  static constexpr int64_t kRequestAhead = 2;
  // A vector step's transfers are requested this many chunks ahead (the reads'
  // latency is paid once, as in the closed form; their data still moves only once
  // the slot they fill is free).
  static constexpr int64_t kChunksAhead = VectorStream::kMinChunks;

  int64_t vcd_fold = -1;  // the fold on the array (waveforms)

 private:
  void run();
  void execute(const ControllerJob& job);
  void stream(const VectorStream& v);
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
