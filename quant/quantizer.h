// Uniform affine quantizers: parameters from a real range, per-tensor and
// per-channel weight quantization, fake quantization.
//
// A quantized value q stands for the real value scale * (q - zero_point); q lies in
// the integer range of its width (intarith::qrange). Scales are float32 (what ONNX
// QuantizeLinear stores), zero points int32. Symmetric quantization has
// zero_point 0; asymmetric quantization places the range [lo, hi] (widened to
// contain 0, so zero padding and Relu are exact) on the whole integer range.
// Rounding is round-half-to-even everywhere (intarith::quantize).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/tensor.h"
#include "arith/int_arith.h"

namespace qsim {

inline constexpr int kMinQuantBits = 2;
inline constexpr int kMaxQuantBits = 16;

struct QParams {
  int bits = 8;
  bool is_signed = false;
  bool narrow = false;  // signed only: symmetric integer range [-(2^(b-1)-1), 2^(b-1)-1]
  float scale = 1.0f;
  int32_t zero_point = 0;

  intarith::QRange range() const { return intarith::qrange(bits, is_signed, narrow); }
  int32_t quantize(float x) const { return intarith::quantize(x, scale, zero_point, range()); }
  float dequantize(int32_t q) const { return intarith::dequantize(q, scale, zero_point); }
  float fake(float x) const { return dequantize(quantize(x)); }
  bool operator==(const QParams&) const = default;
};

enum class Scheme : uint8_t { kSymmetric, kAsymmetric };

// Parameters that map the real range [lo, hi] onto `bits` (2..16; throws
// std::invalid_argument outside). Asymmetric: [min(lo,0), max(hi,0)] over the whole
// integer range, zero point rounded (half to even) and clamped into the range.
// Symmetric: zero point 0, scale = max(|lo|, |hi|) / qmax; unsigned symmetric needs
// lo >= 0. A degenerate range (all zeros) gets scale 1. Scales are kept at least
// kMinScale so multipliers derived from them stay finite.
inline constexpr float kMinScale = 1e-12f;
QParams params_from_range(float lo, float hi, int bits, Scheme scheme, bool is_signed, bool narrow = false);

// How a weight tensor's clipping range is chosen: its max |w| (per channel or
// tensor), or the clip value that minimises the squared quantization error over a
// grid of 100 fractions of max |w| (0.01 .. 1.00).
enum class WeightClip : uint8_t { kMinMax, kMse };
std::optional<WeightClip> parse_weight_clip(std::string_view s);
std::string_view weight_clip_name(WeightClip c);

// Symmetric, signed, narrow-range quantized weights.
struct QuantizedWeights {
  std::vector<float> scales;   // one per channel (per_channel) or one for the tensor
  std::vector<int32_t> q;      // same layout as the float weights
  int64_t channels = 1;        // extent of the channel axis
  int64_t axis = 0;            // channel axis
  float scale_of(int64_t c) const { return scales.size() == 1 ? scales[0] : scales[static_cast<std::size_t>(c)]; }
};

// Scales for weights `w` (float32) with channel axis `axis`: one per channel or one
// for the tensor. MSE clipping searches each channel (or the tensor) separately.
std::vector<float> weight_scales(const Tensor& w, int64_t axis, int bits, bool per_channel, WeightClip clip);
// Quantizes with given scales (from weight_scales, or read back from alloc.json).
// Throws qsim::Error when the count of scales fits neither per-tensor nor per-channel.
QuantizedWeights quantize_weights(const Tensor& w, int64_t axis, int bits, std::span<const float> scales);

// In-place fake quantization x -> dequantize(quantize(x)).
void fake_quantize(std::span<float> x, const QParams& p);

// Squared error sum over x of quantizing with p (for tests and clip searches).
double quantization_sse(std::span<const float> x, const QParams& p);

}  // namespace qsim
