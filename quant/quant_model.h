// The quantized model both executors run (QuantizedModel): the graph with the
// inserted requantize / dequantize / quantize steps and, per node, its integer
// parameters, built from a QuantSpec and the plan (quant/quant_plan.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "arith/int_arith.h"
#include "graph/layer_graph.h"
#include "quant/calibrate.h"
#include "quant/quant_plan.h"
#include "quant/quant_spec.h"
#include "quant/quantizer.h"
#include "runtime/kernels.h"

namespace qsim {

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
  // layer when `spec` lacks parameters the graph needs. `input_widths`: as
  // plan_quantization's (a part of a model cut out by graph/subgraph.h).
  QuantizedModel(const LayerGraph& g, const QuantSpec& spec, std::string_view spec_source = "quantization",
                 std::span<const int> input_widths = {});

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
