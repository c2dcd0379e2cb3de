// Program — the network lowered onto one hardware point: what the accelerator
// executes, in order, and everything a timing backend needs to time it.
//
//   lower(graph, precision, hw) -> Program
//
// Steps, in execution order (topological order of the graph):
//   Compute     a compute layer (Conv/Gemm/MatMul) on the array, with its Schedule
//               (sim/mapping.h): reads its activation input at `abits`, writes its
//               output at `abits`, its weights at `wbits`; fused element-wise ops run
//               in its output stage at no cost;
//   Requantize  a stored tensor converted to another width on the vector unit, right
//               before the first compute layer that reads it at that width;
//   Vector      a non-compute op on the vector unit (pooling, LRN, Softmax, ..., and
//               element-wise ops that are not fused).
// Steps run one after another; a step starts when the previous one has finished
// (no overlap across steps). Free ops (views, Concat) are no step. Which tensor is
// stored at which width, where requantizations run and which ops fuse is decided
// by one rule, graph/precision_plan.h; the Program carries its result (`width`,
// `groups`, `roles`) so no reader derives it again.
//
// Inside a Compute step the folds run as the FoldWalk below describes. The
// analytical backend sums exactly these stages in closed form
// (sim/analytical/fold_classes.h); a cycle-level controller executes them, so the
// two differ only where the controller models time more finely, never in what runs
// or what waits for what. Every formula: docs/timing-model.md sections 4 and 9.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "graph/precision_plan.h"
#include "sim/hw_spec.h"
#include "sim/mapping.h"

namespace qsim {

// ---------------------------------------------------------------- fold walk

// How a compute step's folds share the DRAM channel.
enum class Overlap : uint8_t {
  kNone,          // memory.dram_bytes_per_cycle unlimited: transfers take no time
  kDoubleBuffer,  // memory.double_buffer: fold f computes while the channel prefetches
                  // fold f+1's inputs and drains fold f-1's outputs
  kSerial,        // one buffer per operand: load fold f's inputs, compute it, store its outputs
};
Overlap overlap_of(const MemorySpec& m);

// Cycles to move `bytes` at `bytes_per_cycle`: ceil(bytes / bytes_per_cycle), robust
// to the rounding of the division (3 bytes at 0.1 bytes/cycle take 30 cycles).
int64_t dram_transfer_cycles(int64_t bytes, double bytes_per_cycle);

// One stage of the walk. Stages run strictly one after another. Within a stage the
// array computes `fold` (if any) while the DRAM channel brings in `dram_in` bytes
// (inputs of fold `in_fold`, into SRAM) and writes out `dram_out` bytes (outputs of
// fold `out_fold`, from SRAM); the stage ends when the array and the channel are
// both done. Its length is
//   [latency] dram_latency_cycles + max(compute_cycles, ceil((dram_in + dram_out) / dram_bytes_per_cycle))
// (compute_cycles alone with Overlap::kNone).
struct FoldStage {
  int64_t fold = -1;  // the fold computing in this stage; -1: none (a fill, load, store or drain)
  int64_t compute_cycles = 0;
  int64_t in_fold = -1;   // the fold whose DRAM inputs (ifmap, filter, spilled partial sums) arrive; -1: none
  int64_t dram_in = 0;
  int64_t out_fold = -1;  // the fold whose DRAM outputs (outputs, spilled partial sums) leave; -1: none
  int64_t dram_out = 0;
  bool latency = false;  // the stage's first request pays memory.dram_latency_cycles
};

// The fold-by-fold execution of one Schedule, with the dependencies between folds
// and transfers (F folds, fold f's FoldStep from Schedule::fold(f)):
//   kDoubleBuffer: F + 2 stages
//     stage 0      fill: fold 0's inputs arrive (latency paid once, here, when there are any);
//     stage f + 1  fold f computes; meanwhile fold f+1's inputs arrive (prefetch into the
//                  half fold f does not read) and fold f-1's outputs leave (drain from the
//                  half fold f does not write). Fold f+1 starts only when fold f is done
//                  AND both transfers are: then the halves swap. Later requests are issued
//                  a fold ahead, so their latency is hidden;
//     stage F + 1  drain: the last fold's outputs leave.
//   kSerial: 3F stages, per fold: load (its inputs; latency when there are any), compute,
//     store (its outputs).
//   kNone: F stages, each fold computing; its transfers are listed but take no time.
// So a fold never starts before its inputs are in SRAM, and a half of a buffer is
// refilled only after the fold that read it has finished.
class FoldWalk {
 public:
  FoldWalk(const Schedule& s, const MemorySpec& m);
  const Schedule& schedule() const { return *s_; }
  Overlap overlap() const { return overlap_; }
  int64_t stages() const;
  FoldStage stage(int64_t i) const;  // 0 <= i < stages(); O(1)
  int64_t stage_cycles(const FoldStage& st) const;
  // Every stage in order.
  template <typename F>
  void for_each_stage(F&& f) const;
  // Sum of every stage's cycles: O(folds), the reference the closed form equals.
  int64_t total_cycles() const;

 private:
  const Schedule* s_;
  Overlap overlap_;
  double bytes_per_cycle_;
  int64_t whole_bytes_per_cycle_;  // bytes_per_cycle_ when it is a whole number (exact integer ceil), else 0
  int64_t latency_;
};

// ---------------------------------------------------------------- steps

struct ComputeStep {
  std::size_t layer = 0;  // index into graph.compute_layers()
  NodeId node = -1;
  int wbits = 8;
  int abits = 8;
  Schedule schedule;
  FoldWalk walk(const MemorySpec& m) const { return FoldWalk(schedule, m); }
};

// A stored tensor converted from one width to another: reads `elems` elements from
// DRAM at from_bits, writes them back at to_bits, `elems` vector-unit operations.
struct RequantizeStep {
  ValueId value = -1;
  NodeId before = -1;           // the compute layer it runs in front of (its first reader at to_bits)
  std::size_t first_layer = 0;  // that layer's compute index
  int from_bits = 8;
  int to_bits = 8;
  int64_t elems = 0;
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
};

// A non-compute op on the vector unit at `bits` (the widest of its activation inputs):
// `ops` element operations, reading its activation inputs and writing its outputs
// through DRAM.
struct VectorStep {
  NodeId node = -1;
  int bits = 8;
  int64_t ops = 0;
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
};

using Step = std::variant<ComputeStep, RequantizeStep, VectorStep>;

struct Program {
  std::vector<Step> steps;        // execution order
  std::vector<int> width;         // per value: stored width of an activation (0: constant)
  std::vector<LayerGroup> groups; // compute layers sharing a fused output stage
  std::vector<NodeRole> roles;    // per node
};

// ---------------------------------------------------------------- lowering

// The precision-independent part of lowering one graph onto one hardware point,
// built once: checks the hardware values a timing needs and that no count can
// overflow (qsim::Error otherwise), gathers every layer's statistics and every
// vector op's operation count. lower() and the incremental evaluator
// (sim/analytical/analytical_evaluator.h) build their steps from it, one at a time.
// Holds references to `g` and `hw`, which must outlive it.
class Lowering {
 public:
  Lowering(const LayerGraph& g, const HwSpec& hw);
  const LayerGraph& graph() const { return *g_; }
  const HwSpec& hw() const { return *hw_; }
  const PrecisionRule& rule() const { return rule_; }

  // Throws qsim::Error naming the layer for widths the PE cannot run (map_layer).
  ComputeStep compute_step(std::size_t layer, int wbits, int abits) const;
  RequantizeStep requantize_step(ValueId value, std::size_t first_layer, int from_bits, int to_bits) const;
  // `width(v)` gives the stored width of value v.
  template <typename WidthOf>
  VectorStep vector_step(NodeId node, WidthOf&& width) const;

  // Throws qsim::Error when precision is not one entry per compute layer, or names a
  // width the PE cannot run.
  Program lower(std::span<const LayerPrecision> precision) const;

 private:
  int64_t bytes(int bits, int64_t elems) const { return Storage::of(bits, hw_->memory).bytes(elems); }
  const LayerGraph* g_;
  const HwSpec* hw_;
  PrecisionRule rule_;
  std::vector<MapRequest> requests_;  // per compute layer, widths unset
  std::vector<int64_t> numel_;        // per value
  std::vector<int64_t> vector_ops_;   // per node
};

Program lower(const LayerGraph& g, std::span<const LayerPrecision> precision, const HwSpec& hw);

// ---------------------------------------------------------------- implementation

template <typename F>
void FoldWalk::for_each_stage(F&& f) const {
  const int64_t n = stages();
  for (int64_t i = 0; i < n; ++i) f(stage(i));
}

template <typename WidthOf>
VectorStep Lowering::vector_step(NodeId node, WidthOf&& width) const {
  const Node& n = g_->node(node);
  VectorStep v;
  v.node = node;
  v.ops = vector_ops_[static_cast<std::size_t>(node)];
  int w = 0;
  for (ValueId x : n.inputs) {
    if (!rule_.is_activation(x)) continue;
    const int wx = width(x);
    w = std::max(w, wx);
    v.read_bytes += bytes(wx, numel_[static_cast<std::size_t>(x)]);
  }
  if (w == 0) w = n.outputs.empty() || n.outputs[0] < 0 ? 8 : width(n.outputs[0]);
  v.bits = w;
  for (ValueId o : n.outputs)
    if (o >= 0) v.write_bytes += bytes(w, numel_[static_cast<std::size_t>(o)]);
  return v;
}

}  // namespace qsim
