// LayerGraph — the imported, fused model every stage works on.
//
// Nodes are operators after import passes (Conv+BN+activation fused into one
// compute layer, Identity/Dropout removed, constants folded); edges are tensors.
// Connectivity lives in a Boost.Graph adjacency_list that is rebuilt by
// finalize() after any structural change, so passes can edit freely and every
// consumer sees a checked DAG with a topological order.
//
// Compute layers (Conv, Gemm, MatMul) expose a GEMM view, the one description
// of a layer that the mapper, the timing backends and the quantizer share.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "graph/tensor.h"

namespace qsim {

using ValueId = int32_t;  // a tensor (graph input, constant or intermediate)
using NodeId = int32_t;

enum class OpKind : uint8_t {
  kConv,
  kGemm,
  kMatMul,
  kBatchNorm,  // only when it cannot be folded into a preceding Conv
  kRelu,
  kClip,
  kLeakyRelu,
  kSigmoid,
  kHardSigmoid,
  kHardSwish,
  kAdd,
  kMul,
  kSum,
  kConcat,
  kMaxPool,
  kAveragePool,
  kGlobalAveragePool,
  kFlatten,
  kReshape,
  kTranspose,
  kSqueeze,
  kUnsqueeze,
  kSoftmax,
  kLRN,
  kPad,
  kIdentity,  // kept only where removing it would change the graph's interface
  kQuantizeLinear,    // ONNX QuantizeLinear {x, scale, zero_point?}: float32 -> (u)int8/(u)int16
  kDequantizeLinear,  // ONNX DequantizeLinear {x, scale, zero_point?}: integers -> float32
};

std::string_view op_name(OpKind op);  // the ONNX op_type spelling ("Conv", ...)
bool is_compute(OpKind op);           // Conv, Gemm, MatMul: the layers mapped on the array

// An activation fused into the node that produces its input (applied elementwise
// to that node's output). Parameters follow the ONNX operator of the same name.
enum class ActKind : uint8_t { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish };
struct Activation {
  ActKind kind = ActKind::kNone;
  float alpha = 0.0f;  // Clip: min; LeakyRelu/HardSigmoid: alpha
  float beta = 0.0f;   // Clip: max; HardSigmoid: beta
};
std::string_view act_name(ActKind a);

// Spatial attributes are stored for the spatial rank of the op (1-D, 2-D, 3-D),
// pads as ONNX orders them: [x1_begin, x2_begin, ..., x1_end, x2_end, ...].
// auto_pad has been resolved into explicit pads by the importer.
struct ConvAttrs {
  std::vector<int64_t> kernel;  // spatial kernel shape
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  int64_t group = 1;
  bool has_bias = false;  // inputs: X, W[, B]
};
struct PoolAttrs {  // MaxPool, AveragePool
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool only
  int64_t storage_order = 0;       // MaxPool Indices output layout
};
struct GemmAttrs {  // Y = alpha * A' * B' + beta * C
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
  bool has_c = false;
};
struct BatchNormAttrs {
  float epsilon = 1e-5f;
  // ONNX BatchNormalization-14/15 training_mode=1: normalizes with the batch's own
  // statistics; outputs Y[, running_mean, running_var] (running = input * momentum +
  // batch * (1 - momentum)). Never folded into a Conv.
  bool training_mode = false;
  float momentum = 0.9f;
};
struct AxisAttrs {  // Concat, Flatten, Softmax (opset >= 13 semantics, resolved to >= 0)
  int64_t axis = 0;
  bool legacy_softmax = false;  // Softmax opset < 13: coerce to 2-D at axis
};
// QuantizeLinear / DequantizeLinear: a 1-D scale (and zero point) applies along
// `axis` (normalized to >= 0); a scalar or one-element scale to the whole tensor.
struct QuantLinearAttrs {
  int64_t axis = 1;
};
struct AxesAttrs {  // Squeeze, Unsqueeze, Transpose (perm)
  std::vector<int64_t> axes;
};
struct LRNAttrs {
  float alpha = 1e-4f;
  float beta = 0.75f;
  float bias = 1.0f;
  int64_t size = 1;
};
enum class PadMode : uint8_t { kConstant, kReflect, kEdge };
struct PadAttrs {
  PadMode mode = PadMode::kConstant;
  std::vector<int64_t> pads;  // begin..., end... for every axis
  double value = 0.0;
};
struct ActAttrs {  // standalone activation nodes (Relu, Clip, ...): parameters as in Activation
  Activation act;
};
using OpAttrs = std::variant<std::monostate, ConvAttrs, PoolAttrs, GemmAttrs, BatchNormAttrs, AxisAttrs,
                             AxesAttrs, LRNAttrs, PadAttrs, ActAttrs, QuantLinearAttrs>;

// A tensor: graph input, constant (initializer or folded) or intermediate value.
struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;             // static, fully known after import
  bool is_constant = false;
  std::optional<Tensor> data;  // constant payload; absent for shape-only models (SCALE-Sim topologies)
};

struct Node {
  std::string name;  // unique; the layer name users see and alloc.json uses
  OpKind op = OpKind::kIdentity;
  std::vector<ValueId> inputs;   // -1 marks an omitted optional input
  std::vector<ValueId> outputs;
  OpAttrs attrs;
  Activation act;                 // fused activation (compute layers, Add, Sum)
  std::vector<std::string> fused;  // names of the source-model nodes folded into this one
};

// GEMM view of a compute layer: `repeats` independent (M x K) * (K x N) products.
// Conv: M = batch * output pixels, N = output channels per group, K = input channels
// per group * kernel volume, repeats = groups (depthwise: M x 1 x kh*kw, C times).
// Gemm: M rows of A', N columns of B', K. MatMul: broadcast batch dims in repeats
// (or folded into M when B is a 2-D constant).
struct GemmView {
  int64_t M = 0;
  int64_t N = 0;
  int64_t K = 0;
  int64_t repeats = 1;
  // M * N * K * repeats; throws qsim::Error when the product overflows int64
  // (LayerGraph::stats checks it first and names the model and layer).
  int64_t macs() const;
};

// Sizes, in elements, of what a compute layer reads and writes. ifmap counts the
// unpadded input; filter counts weights only (bias is in `bias`).
struct OperandSizes {
  int64_t ifmap = 0;
  int64_t filter = 0;
  int64_t bias = 0;
  int64_t ofmap = 0;
};

struct LayerStats {
  GemmView gemm;
  OperandSizes operands;
  int64_t macs = 0;
  int64_t params = 0;  // weights + bias
};

class LayerGraph {
 public:
  struct VertexProp {
    NodeId node = -1;  // index into nodes()
  };
  struct EdgeProp {
    ValueId value = -1;  // the tensor carried from producer to consumer
  };
  using Bgl = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, VertexProp, EdgeProp>;

  std::string name;    // model name (file stem or graph name)
  std::string source;  // the file it was imported from, for messages ("" when built in code)

  // ---- construction (importers and passes) ----
  ValueId add_value(Value v);
  NodeId add_node(Node n);
  void set_inputs(std::vector<ValueId> ids) { inputs_ = std::move(ids); }
  void set_outputs(std::vector<ValueId> ids) { outputs_ = std::move(ids); }
  Value& value(ValueId id) { return values_.at(static_cast<std::size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<std::size_t>(id)); }
  // Marks a node dead; it disappears at the next finalize().
  void remove_node(NodeId id);
  // Drops dead nodes and unreferenced values, renumbers ids, rebuilds the Boost
  // graph and the topological order. Throws qsim::Error on a cycle, a value with
  // two producers or an intermediate value nobody produces.
  void finalize();

  // ---- queries (valid after finalize()) ----
  const Value& value(ValueId id) const { return values_.at(static_cast<std::size_t>(id)); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<std::size_t>(id)); }
  std::span<const Value> values() const { return values_; }
  std::span<const Node> nodes() const { return nodes_; }
  std::span<const ValueId> inputs() const { return inputs_; }    // non-constant graph inputs
  std::span<const ValueId> outputs() const { return outputs_; }
  std::span<const NodeId> topo_order() const { return topo_; }
  std::optional<ValueId> find_value(std::string_view name) const;
  std::optional<NodeId> find_node(std::string_view name) const;
  NodeId producer(ValueId v) const;  // -1 for graph inputs and constants
  std::span<const NodeId> consumers(ValueId v) const;
  const Bgl& bgl() const { return bgl_; }

  // Compute layers (Conv/Gemm/MatMul) in topological order.
  std::span<const NodeId> compute_layers() const { return compute_; }
  // Throws std::logic_error if `id` is not a compute layer, and qsim::Error
  // naming the model and layer when a size or the MAC count overflows int64.
  LayerStats stats(NodeId id) const;
  int64_t total_macs() const;  // throws qsim::Error on overflow, as stats()
  int64_t total_params() const;  // constants feeding compute layers (weights + biases)

 private:
  LayerStats stats_unchecked(NodeId id) const;

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<bool> dead_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  // Derived by finalize():
  Bgl bgl_;
  std::vector<NodeId> topo_;
  std::vector<NodeId> compute_;
  std::vector<NodeId> producer_;
  std::vector<std::vector<NodeId>> consumers_;
};

}  // namespace qsim
