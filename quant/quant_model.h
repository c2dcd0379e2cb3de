// Post-training quantization of a LayerGraph: where tensors are quantized, the
// calibrated parameters (QuantSpec, stored in alloc.json), and the quantized model
// both executors run (QuantizedModel).
//
// Quantization points. Every float activation tensor holds integers at a width:
// - a compute layer (Conv/Gemm/MatMul with constant weights) reads its input at its
//   `abits`, multiplies by `wbits`-wide symmetric weights (per channel or per tensor),
//   accumulates, adds an int32 bias and requantizes (int_arith.h) to its output, which
//   is stored at the layer's own `abits` (docs/timing-model.md section 5);
// - a graph input is stored at the `abits` of its first compute consumer;
// - Add/Sum of same-shaped tensors, Concat, AveragePool and GlobalAveragePool rescale
//   their integer inputs to their own calibrated output (width: the widest input);
// - MaxPool, views (Reshape, Flatten, Squeeze, Unsqueeze, Identity), Transpose, Pad with
//   zeros and standalone Relu/Clip keep their input's parameters (exact on integers);
// - every other operator (Sigmoid, Softmax, Mul, BatchNormalization, LRN, LeakyRelu,
//   ..., and compute layers without constant weights) dequantizes its inputs, runs in
//   float32 and quantizes its output (own parameters at the widest input width);
// - where a compute layer reads a tensor stored at another width than its `abits`,
//   a requantization step converts it (one per tensor and new width, named
//   "<first consumer>.requant" as the timing model's row).
// Graph outputs are dequantized to float32; those computed by a compute layer, Add,
// average pool or float operator are dequantized from its integer result directly
// (the logits keep the accumulator's precision).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "quant/calib.h"
#include "quant/dataset.h"
#include "quant/int_arith.h"
#include "quant/kernels.h"
#include "quant/quantizer.h"

namespace qsim {

// ------------------------------------------------------------------ options and spec

struct QuantOptions {
  CalibMethod calib = CalibMethod::kMinMax;
  CalibParams calib_params;
  WeightClip weight_clip = WeightClip::kMinMax;
  bool act_symmetric = false;    // symmetric activations (zero point 0)
  bool bias_correction = false;  // empirical bias correction of the weight quantization error
  int acc_bits = 32;             // accumulator width (pe.acc_bits), 16..32
  int64_t calib_samples = 512;
  int threads = 0;               // calibration executor threads (0: all)
};

// The calibrated, batch-independent parameters of a quantized model, by tensor and
// layer name: what `qsim quantize` writes into alloc.json and reads back.
struct QuantSpec {
  PrecisionAlloc alloc;  // wbits / abits / per_channel of every compute layer
  int acc_bits = 32;
  bool act_symmetric = false;
  struct Act {
    std::string tensor;
    QParams q;
  };
  std::vector<Act> activations;  // one entry per (tensor, width)
  struct Layer {
    std::vector<float> weight_scales;    // per output channel, or one
    std::vector<float> bias_correction;  // per output channel, subtracted from the bias (empty: none)
  };
  std::map<std::string, Layer> layers;
  nlohmann::json calibration = nlohmann::json::object();  // provenance: method, samples, data, ...

  const QParams* find(std::string_view tensor, int bits) const;
  void set(const std::string& tensor, const QParams& q);
  // alloc with the per-layer keys "weight_scale" (and "bias_correction") and the
  // top-level section "quantization" {acc_bits, act_scheme, calibration, activations}.
  PrecisionAlloc to_alloc() const;
  // The spec stored in `a`, or nullopt when `a` has no "quantization" section (widths
  // only: calibrate). Throws qsim::Error("<source>: ...") for a malformed section.
  static std::optional<QuantSpec> from_alloc(const PrecisionAlloc& a, std::string_view source);
};

// ------------------------------------------------------------------ plan

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
  // Width changes in front of compute layers: (tensor, consumer node, new width).
  struct WidthChange {
    ValueId value;
    NodeId consumer;
    int bits;
  };
  std::vector<WidthChange> width_changes;
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

// ------------------------------------------------------------------ calibration

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

// Deterministic calibration indices: n evenly spaced samples, floor(i * size / n).
std::vector<int64_t> calibration_indices(int64_t size, int64_t n);

// Calibrates `g` at the widths of `alloc` on `calib` (the samples of
// calibration_indices(calib.size(), o.calib_samples)).
QuantSpec calibrate(const LayerGraph& g, const PrecisionAlloc& alloc, std::string_view alloc_source,
                    const Dataset& calib, const QuantOptions& o);

// ------------------------------------------------------------------ the quantized model

struct ComputeQ {
  QParams in, out;
  int wbits = 8;
  int64_t channels = 0;                     // output channels
  int64_t outer = 1, inner = 1;             // output viewed as [outer, channels, inner]
  std::vector<int32_t> qweight;             // effective weights, the graph's layout
  int64_t weight_axis = 0;
  std::vector<float> wscale;                // per output channel
  std::vector<int32_t> bias;                // per output channel, at in.scale * wscale
  std::vector<intarith::Multiplier> mult;   // per output channel: in.scale * wscale / out.scale
  intarith::QRange out_range;               // narrowed by a fused Relu / Clip
  bool float_epilogue = false;              // another fused activation: dequantize, apply, quantize
  Activation act;
  std::vector<float> acc_scale;             // per channel: in.scale * wscale (float epilogue)
  int acc_bits = 32;
  int64_t acc_bound = 0;                    // max |sum w (x - z) + bias| over inputs in range
  bool fake_exact = false;                  // acc_bound < 2^24: float32 accumulation is exact
  bool float_output = false;                // a graph output: dequantized accumulator (real())

  // Rule 5 of int_arith.h (or the float epilogue) for channel c; acc includes the bias.
  int32_t finish(int64_t acc, int64_t c) const {
    const int32_t a = intarith::acc_to_int32(acc, acc_bits);
    if (!float_epilogue) return intarith::requantize(a, mult[static_cast<std::size_t>(c)], out.zero_point, out_range);
    return finish_float(a, c);
  }
  int32_t finish_float(int32_t acc, int64_t c) const;
  // The real value of an accumulator of channel c (bias included), activation applied.
  float real(int32_t acc, int64_t c) const;
};

struct AddQ {
  int left_shift = 20;
  std::vector<intarith::AddInput> in;
  intarith::Multiplier out_m;
  int32_t out_zp = 0;
  intarith::QRange range;
  bool float_output = false;  // a graph output: float(sum of terms) * out_real, then act
  float out_real = 0.0f;
  Activation act;
};

struct RescaleQ {  // q_out = clamp(z_out + M * (q_in - z_in))
  int32_t in_zp = 0, out_zp = 0;
  intarith::Multiplier m;
  intarith::QRange range;
  bool identity = false;  // same parameters: a copy
};

struct ConcatQ {
  std::vector<RescaleQ> in;
  int64_t outer = 1;
  std::vector<int64_t> block;  // per input: elements per outer index (axis extent * inner)
};

struct PoolQ {
  kernels::Spatial3 geom;
  bool include_pad = false;
  int32_t in_zp = 0, out_zp = 0;
  intarith::QRange range;
  std::vector<intarith::Multiplier> by_count;  // index: number of taps averaged
  bool float_output = false;                    // a graph output: float(sum) * s_in / count
  std::vector<float> real_by_count;
};

struct ClampQ {
  intarith::QRange range;  // in the tensor's own parameters
  int32_t zp = 0;
};

struct ConvertQ {  // kDequant / kQuant steps
  QParams q;
};

class QuantizedModel {
 public:
  // `g` (any batch) must outlive the model. Throws qsim::Error naming the tensor or
  // layer when `spec` lacks parameters the graph needs.
  QuantizedModel(const LayerGraph& g, const QuantSpec& spec, std::string_view spec_source = "quantization");

  // The graph both executors run: `source()` with the inserted steps, and (for the
  // fake-quant executor) compute layers holding their integer weights and biases as
  // float32 values, fused activations removed (applied by the requantization).
  const LayerGraph& graph() const { return qg_; }
  const LayerGraph& source() const { return g_; }
  QRole role(NodeId n) const { return role_[static_cast<std::size_t>(n)]; }
  // Parameters of a value of graph(); null for values that hold float32 or other types.
  const QParams* params(ValueId v) const {
    const auto& p = params_[static_cast<std::size_t>(v)];
    return p ? &*p : nullptr;
  }
  const ComputeQ& compute(NodeId n) const { return compute_.at(index_.at(static_cast<std::size_t>(n))); }
  const AddQ& add(NodeId n) const { return add_.at(index_.at(static_cast<std::size_t>(n))); }
  const RescaleQ& rescale(NodeId n) const { return rescale_.at(index_.at(static_cast<std::size_t>(n))); }
  const ConcatQ& concat(NodeId n) const { return concat_.at(index_.at(static_cast<std::size_t>(n))); }
  const PoolQ& pool(NodeId n) const { return pool_.at(index_.at(static_cast<std::size_t>(n))); }
  const ClampQ& clamp(NodeId n) const { return clamp_.at(index_.at(static_cast<std::size_t>(n))); }
  const ConvertQ& convert(NodeId n) const { return convert_.at(index_.at(static_cast<std::size_t>(n))); }
  int acc_bits() const { return acc_bits_; }
  // Compute layers whose fake-quant float32 accumulation is provably exact (and all of them).
  int exact_layers() const;
  int compute_layer_count() const { return static_cast<int>(compute_.size()); }

 private:
  void build_steps(const QuantSpec& spec, std::string_view source);

  const LayerGraph& g_;
  LayerGraph qg_;
  int acc_bits_ = 32;
  std::vector<QRole> role_;
  std::vector<std::optional<QParams>> params_;
  std::vector<std::size_t> index_;  // per node: index into its role's vector
  std::vector<ComputeQ> compute_;
  std::vector<AddQ> add_;
  std::vector<RescaleQ> rescale_;
  std::vector<ConcatQ> concat_;
  std::vector<PoolQ> pool_;
  std::vector<ClampQ> clamp_;
  std::vector<ConvertQ> convert_;
};

}  // namespace qsim
