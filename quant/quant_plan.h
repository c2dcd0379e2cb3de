// The quantization plan: what every node of a LayerGraph does in the quantized
// model and at which width every activation tensor is stored.
//
// Quantization points. Every float activation tensor holds integers at a width:
// - a compute layer (Conv/Gemm/MatMul with constant weights) reads its input at its
//   `abits`, multiplies by `wbits`-wide symmetric weights (per channel or per tensor),
//   accumulates, adds an int32 bias and requantizes (int_arith.h) to its output, which
//   is stored at the layer's own `abits` (docs/timing-model.md section 5);
// - a graph input is stored at the `abits` of its first compute consumer (widths and
//   requantization points: the one rule of graph/precision_plan.h);
// - Add/Sum of same-shaped tensors, Concat, AveragePool and GlobalAveragePool rescale
//   their integer inputs to their own calibrated output (width: the widest input);
// - MaxPool, views (Reshape, Flatten, Squeeze, Unsqueeze, Identity), Transpose, Pad with
//   zeros and standalone Relu/Clip keep their input's parameters (exact on integers);
// - every other operator (Sigmoid, Softmax, Mul, BatchNormalization, LRN, LeakyRelu,
//   ..., and compute layers without constant weights) dequantizes its inputs, runs in
//   float32 and quantizes its output (own parameters at the widest input width);
// - where a compute layer reads a tensor stored at another width than its `abits`,
//   a requantization step converts it (one per tensor and new width, named
//   "<first consumer>.requant" as the timing model's row), whatever that layer's
//   role (a compute layer without constant weights reads the converted copy too).
// Graph outputs are dequantized to float32; those computed by a compute layer, Add,
// average pool or float operator are dequantized from its integer result directly
// (the logits keep the accumulator's precision).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "graph/precision_plan.h"
#include "graph/tensor.h"

namespace qsim {

// What a node does in the quantized model.
enum class QRole : uint8_t {
  kCompute,  // integer Conv/Gemm/MatMul: acc = sum w (x - z) + bias, requantized
  kAdd,      // integer Add/Sum with rescaling
  kConcat,   // integer Concat with rescaling
  kAvgPool,  // AveragePool / GlobalAveragePool: integer window sum, requantized
  kMaxPool,  // on the integers themselves (keeps parameters)
  kView,     // Reshape, Flatten, Squeeze, Unsqueeze, Identity (keeps parameters)
  kMove,     // Transpose, zero Pad (keeps parameters)
  kClamp,    // standalone Relu / Clip: integer clamp (keeps parameters)
  kFloat,    // float32 on dequantized inputs (outputs quantized by a kQuant step)
  kRequant,  // inserted: a tensor converted to another width / scale
  kDequant,  // inserted: integers -> float32 for a kFloat node
  kQuant,    // inserted: float32 -> integers after a kFloat node
};
std::string_view qrole_name(QRole r);

struct QuantPlan {
  std::vector<QRole> role;            // per node of the graph it was made for
  std::vector<int> width;             // per value: stored width (0: not a quantized tensor)
  std::vector<ValueId> params_of;     // per value: the value whose parameters it carries (-1: none)
  // Conversions of quantized tensors to another width in front of compute layers
  // (graph/precision_plan.h), in program order, and per compute layer the one it
  // reads (-1: none).
  std::vector<Requantization> requants;
  std::vector<int> input_requant;
  // Every (tensor, width) whose parameters calibration must provide.
  std::vector<std::pair<ValueId, int>> required;
  std::vector<LayerPrecision> precision;  // per compute layer (g.compute_layers() order)
  // Per value: a graph output (or one only views lead to) of a compute layer, Add,
  // average pool or float operator, dequantized from that operator's integer result
  // (float32, no parameters) instead of requantized.
  std::vector<char> float_output;
};
// Throws qsim::Error when a width is outside 2..16.
QuantPlan plan_quantization(const LayerGraph& g, std::span<const LayerPrecision> precision);

// A compute layer's effective weights (Gemm's alpha folded in), its channel axis and
// per-channel bias (Gemm's beta * C, zeros when it has none).
struct LayerWeights {
  Tensor w;
  int64_t axis = 0;
  int64_t channels = 0;
  std::vector<float> bias;
};
// nullopt when the node is not quantizable as kCompute (weights not constant, ...).
std::optional<LayerWeights> layer_weights(const LayerGraph& g, NodeId n);

}  // namespace qsim
