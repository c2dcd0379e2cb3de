// The one rule of how a network's activations are stored, where their width
// changes and which element-wise ops ride in a compute layer's output stage.
//
// The timing backends (through sim/program.h), the quantization plan (quant/) and
// QuantuneV2's fused groups and boundaries (search/) all read it, so widths,
// requantization points and fusion are decided here and nowhere else
// (docs/timing-model.md section 5).
//
// Widths. A compute layer (Conv/Gemm/MatMul) reads its activation input (inputs[0])
// at its `abits` and writes its outputs at its `abits` (the output stage emits the
// layer's activation width). A graph input is stored at the `abits` of its first
// reader in topological order when that reader is a compute layer, otherwise at the
// first compute layer's `abits` (the default width; 8 when there are none). A
// non-compute op's outputs are stored at the widest of its activation inputs (the
// default width when it has none). So every stored width is the largest `abits`
// over a fixed set of compute layers, its *width sources*, which depend on the graph
// only: an incremental evaluator re-derives exactly the widths a change touches.
//
// Requantization. Where a compute layer reads a tensor stored at another width than
// its `abits`, a requantization converts it first: one per (tensor, new width),
// run before the first compute layer (in topological order) that reads it at that
// width; later readers at that width share the converted copy.
//
// Roles and fused groups. A non-compute op is free (views; Concat, written in place
// by its producers), element-wise (vector_kind below) or standalone. With
// `fuse_elementwise` (HwSpec vector.fuse_elementwise), an element-wise op with an
// input produced by a compute layer's output stage (directly, through views, or
// through ops already fused) is applied by that output stage: it is fused, and the
// compute layers feeding it directly (through views only) form one fused group that
// shares one width choice (QuantuneV2). Every other element-wise or standalone op is
// a pass on the vector unit. Widths and requantizations do not depend on fusion.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"

namespace qsim {

// What a non-compute op costs: nothing (kFree), a ride in the producer's output stage
// when fusion is on (kElementwise), or always a vector-unit pass (kStandalone).
enum class VectorKind : uint8_t { kFree, kElementwise, kStandalone };
VectorKind vector_kind(OpKind op);

// How a node runs on the accelerator.
enum class NodeRole : uint8_t {
  kCompute,  // a compute layer on the array
  kFree,     // no work: a view, or a Concat its producers write in place
  kFused,    // element-wise op applied by a compute layer's output stage
  kVector,   // a pass on the vector unit (standalone op, or element-wise op not fused)
};
std::string_view node_role_name(NodeRole r);

// Compute layers that share one fused output stage.
struct LayerGroup {
  std::vector<std::size_t> layers;  // indices into g.compute_layers(), ascending
  std::vector<NodeId> fused;        // element-wise nodes applied by the group's output stage, topological order
};

// One conversion of a stored tensor to another width.
struct Requantization {
  ValueId value = -1;
  int from_bits = 0;
  int to_bits = 0;
  std::size_t first_layer = 0;  // compute layer before which it runs (the first reader at to_bits)
};

// The rule applied to one allocation.
struct PrecisionPlan {
  std::vector<int> width;                // per value: stored width of an activation (0: constant)
  std::vector<Requantization> requants;  // in program order (by first_layer)
  std::vector<int> input_requant;        // per compute layer: index into requants of the copy it reads, or -1
};

// The graph-dependent part of the rule, derived once per graph and fusion flag.
// Holds a reference to `g`, which must outlive it.
class PrecisionRule {
 public:
  PrecisionRule(const LayerGraph& g, bool fuse_elementwise);

  const LayerGraph& graph() const { return *g_; }
  bool fuse_elementwise() const { return fuse_; }
  std::size_t layers() const { return compute_.size(); }
  NodeId layer_node(std::size_t layer) const { return compute_[layer]; }
  int layer_of(NodeId n) const { return layer_of_[static_cast<std::size_t>(n)]; }  // -1: not a compute layer
  NodeRole role(NodeId n) const { return role_[static_cast<std::size_t>(n)]; }
  std::span<const LayerGroup> groups() const { return groups_; }

  // The activation input a compute layer reads (inputs[0]), or -1 when it is a constant or absent.
  ValueId layer_input(std::size_t layer) const { return input_[layer]; }
  // True for the activations the rule gives a width (graph inputs and every value a node produces).
  bool is_activation(ValueId v) const { return v >= 0 && activation_[static_cast<std::size_t>(v)] != 0; }
  // Compute layers whose largest `abits` is v's stored width.
  std::span<const uint32_t> width_sources(ValueId v) const { return row(src_off_, src_, v); }
  // Compute layers reading v as their activation input, in topological order.
  std::span<const uint32_t> readers(ValueId v) const { return row(rd_off_, rd_, v); }

  // v's stored width under `precision` (one entry per compute layer); 0 for constants.
  int width(ValueId v, std::span<const LayerPrecision> precision) const;
  // Throws std::logic_error unless precision has one entry per compute layer.
  PrecisionPlan plan(std::span<const LayerPrecision> precision) const;

 private:
  static std::span<const uint32_t> row(const std::vector<uint32_t>& off, const std::vector<uint32_t>& data,
                                       ValueId v) {
    const auto i = static_cast<std::size_t>(v);
    return std::span<const uint32_t>(data).subspan(off[i], off[i + 1] - off[i]);
  }

  const LayerGraph* g_;
  bool fuse_;
  std::vector<NodeId> compute_;
  std::vector<int> layer_of_;
  std::vector<NodeRole> role_;
  std::vector<LayerGroup> groups_;
  std::vector<ValueId> input_;
  std::vector<uint8_t> activation_;
  std::vector<uint32_t> src_off_, src_;  // CSR: width sources per value
  std::vector<uint32_t> rd_off_, rd_;    // CSR: compute readers per value
};

// The rule for one allocation, without keeping the graph-dependent part.
PrecisionPlan plan_precision(const LayerGraph& g, std::span<const LayerPrecision> precision);

}  // namespace qsim
