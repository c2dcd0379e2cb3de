#include "quant/quantizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "graph/error.h"

namespace qsim {

QParams params_from_range(float lo, float hi, int bits, Scheme scheme, bool is_signed, bool narrow) {
  if (bits < kMinQuantBits || bits > kMaxQuantBits)
    throw std::invalid_argument("quantization width " + std::to_string(bits) + " is outside 2..16");
  if (!std::isfinite(lo)) lo = 0.0f;
  if (!std::isfinite(hi)) hi = 0.0f;
  QParams p;
  p.bits = bits;
  p.is_signed = is_signed;
  p.narrow = is_signed && narrow;
  const auto r = p.range();
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (scheme == Scheme::kSymmetric) {
    if (!is_signed && lo < 0.0f) throw std::invalid_argument("unsigned symmetric quantization of a negative range");
    const float amax = std::max(-lo, hi);
    p.scale = amax > 0.0f ? amax / static_cast<float>(r.hi) : 1.0f;
    p.scale = std::max(p.scale, kMinScale);
    p.zero_point = 0;
    return p;
  }
  const double span = static_cast<double>(hi) - static_cast<double>(lo);
  p.scale = span > 0.0 ? static_cast<float>(span / (static_cast<double>(r.hi) - r.lo)) : 1.0f;
  p.scale = std::max(p.scale, kMinScale);
  const int64_t z = r.lo - intarith::round_half_even(static_cast<double>(lo) / p.scale);
  p.zero_point = static_cast<int32_t>(intarith::clamp64(z, r.lo, r.hi));
  return p;
}

std::optional<WeightClip> parse_weight_clip(std::string_view s) {
  if (s == "minmax") return WeightClip::kMinMax;
  if (s == "mse") return WeightClip::kMse;
  return std::nullopt;
}

std::string_view weight_clip_name(WeightClip c) { return c == WeightClip::kMse ? "mse" : "minmax"; }

namespace {

// Extent of the channel axis, and the element strides around it: element (o, c, i)
// of the view [outer, channels, inner] is at (o * channels + c) * inner + i.
struct AxisView {
  int64_t outer = 1, channels = 1, inner = 1;
};
AxisView axis_view(const Shape& s, int64_t axis) {
  AxisView v;
  if (s.empty()) return v;
  if (axis < 0 || axis >= static_cast<int64_t>(s.size())) throw std::logic_error("weight channel axis out of range");
  for (int64_t i = 0; i < axis; ++i) v.outer *= s[static_cast<std::size_t>(i)];
  v.channels = s[static_cast<std::size_t>(axis)];
  for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < s.size(); ++i) v.inner *= s[i];
  return v;
}

template <typename F>
void for_channel(const AxisView& v, int64_t c, F&& f) {
  for (int64_t o = 0; o < v.outer; ++o) {
    const int64_t base = (o * v.channels + c) * v.inner;
    for (int64_t i = 0; i < v.inner; ++i) f(base + i);
  }
}

// Scale for the values `vals` (one channel or the tensor), max |w| or the MSE-best clip.
float channel_scale(std::span<const float> vals, int bits, WeightClip clip) {
  float amax = 0.0f;
  for (float x : vals) amax = std::max(amax, std::abs(x));
  const QParams full = params_from_range(-amax, amax, bits, Scheme::kSymmetric, true, true);
  if (clip == WeightClip::kMinMax || amax == 0.0f) return full.scale;
  QParams best = full;
  double best_err = quantization_sse(vals, full);
  for (int i = 1; i < 100; ++i) {
    const float c = amax * static_cast<float>(100 - i) / 100.0f;
    const QParams p = params_from_range(-c, c, bits, Scheme::kSymmetric, true, true);
    const double e = quantization_sse(vals, p);
    if (e < best_err) {
      best_err = e;
      best = p;
    }
  }
  return best.scale;
}

}  // namespace

std::vector<float> weight_scales(const Tensor& w, int64_t axis, int bits, bool per_channel, WeightClip clip) {
  const auto data = w.data<float>();
  if (!per_channel) return {channel_scale(data, bits, clip)};
  const AxisView v = axis_view(w.shape(), axis);
  std::vector<float> scales(static_cast<std::size_t>(v.channels));
  std::vector<float> vals;
  for (int64_t c = 0; c < v.channels; ++c) {
    vals.clear();
    for_channel(v, c, [&](int64_t i) { vals.push_back(data[static_cast<std::size_t>(i)]); });
    scales[static_cast<std::size_t>(c)] = channel_scale(vals, bits, clip);
  }
  return scales;
}

QuantizedWeights quantize_weights(const Tensor& w, int64_t axis, int bits, std::span<const float> scales) {
  const AxisView v = axis_view(w.shape(), axis);
  if (scales.size() != 1 && static_cast<int64_t>(scales.size()) != v.channels)
    fail("{} weight scales for a tensor of shape {} (channel axis {} has {})", scales.size(), shape_str(w.shape()),
         axis, v.channels);
  for (float s : scales)
    if (!(s > 0.0f) || !std::isfinite(s)) fail("weight scale {} is not a positive finite number", s);
  QuantizedWeights out;
  out.scales.assign(scales.begin(), scales.end());
  out.channels = v.channels;
  out.axis = axis;
  const auto data = w.data<float>();
  out.q.resize(data.size());
  const auto r = intarith::qrange(bits, true, true);
  for (int64_t c = 0; c < v.channels; ++c) {
    const float s = out.scale_of(c);
    for_channel(v, c, [&](int64_t i) {
      const auto k = static_cast<std::size_t>(i);
      out.q[k] = intarith::quantize(data[k], s, 0, r);
    });
  }
  return out;
}

void fake_quantize(std::span<float> x, const QParams& p) {
  for (float& v : x) v = p.fake(v);
}

double quantization_sse(std::span<const float> x, const QParams& p) {
  double e = 0.0;
  for (float v : x) {
    const double d = static_cast<double>(v) - p.fake(v);
    e += d * d;
  }
  return e;
}

}  // namespace qsim
