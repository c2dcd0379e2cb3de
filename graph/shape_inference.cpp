#include "graph/shape_inference.h"

#include <algorithm>

#include "graph/error.h"

namespace qsim {

namespace {

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail("dimension overflow ({} * {})", a, b);
  return r;
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail("dimension overflow ({} + {})", a, b);
  return r;
}

int64_t rank_of(const Shape& s) { return static_cast<int64_t>(s.size()); }

int64_t at(const Shape& s, int64_t i) { return s[static_cast<std::size_t>(i)]; }

void check_spatial(const char* what, std::size_t got, std::size_t want) {
  if (got != want) fail("{} has {} values, expected {} (one per spatial axis)", what, got, want);
}

void check_pads(std::span<const int64_t> pads, std::size_t spatial) {
  if (pads.size() != 2 * spatial)
    fail("pads has {} values, expected {} (begin and end per spatial axis)", pads.size(), 2 * spatial);
  for (int64_t p : pads)
    if (p < 0) fail("pads must not be negative (got {})", p);
}

}  // namespace

int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) fail("{} {} is out of range for rank {}", what, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> normalize_axes(std::span<const int64_t> axes, int64_t rank, std::string_view what) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) out.push_back(normalize_axis(a, rank, what));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) fail("{} lists an axis twice", what);
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      fail("shapes {} and {} cannot be broadcast", shape_str(a), shape_str(b));
    }
  }
  return out;
}

std::vector<int64_t> auto_pads(AutoPad mode, std::span<const int64_t> in_spatial,
                               std::span<const int64_t> kernel, std::span<const int64_t> strides,
                               std::span<const int64_t> dilations) {
  const std::size_t n = in_spatial.size();
  std::vector<int64_t> pads(2 * n, 0);
  if (mode == AutoPad::kNotSet || mode == AutoPad::kValid) return pads;
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t eff_k = checked_add(checked_mul(kernel[i] - 1, dilations[i]), 1);
    const int64_t out = (in_spatial[i] + strides[i] - 1) / strides[i];
    const int64_t total = std::max<int64_t>(0, checked_add(checked_mul(out - 1, strides[i]), eff_k) - in_spatial[i]);
    const int64_t small = total / 2;
    const int64_t big = total - small;
    pads[i] = mode == AutoPad::kSameUpper ? small : big;
    pads[i + n] = mode == AutoPad::kSameUpper ? big : small;
  }
  return pads;
}

int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                           int64_t pad_end, bool ceil_mode) {
  if (kernel <= 0) fail("kernel size must be positive (got {})", kernel);
  if (stride <= 0) fail("strides must be positive (got {})", stride);
  if (dilation <= 0) fail("dilations must be positive (got {})", dilation);
  const int64_t eff_k = checked_add(checked_mul(kernel - 1, dilation), 1);
  const int64_t padded = checked_add(checked_add(in, pad_begin), pad_end);
  if (padded < eff_k)
    fail("window {} (dilated) is larger than the padded input {}", eff_k, padded);
  int64_t num = padded - eff_k;
  if (ceil_mode) num += stride - 1;
  int64_t out = num / stride + 1;
  // PyTorch and ONNX drop a last window that would start in the end padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

Shape conv_output_shape(const Shape& x, const Shape& w, const ConvAttrs& a) {
  if (x.size() < 3) fail("input X has rank {}, Conv needs at least 3 (N x C x D1...)", x.size());
  if (w.size() != x.size())
    fail("weight W has rank {} but input X has rank {}", w.size(), x.size());
  const std::size_t n = x.size() - 2;
  check_spatial("kernel_shape", a.kernel.size(), n);
  check_spatial("strides", a.strides.size(), n);
  check_spatial("dilations", a.dilations.size(), n);
  check_pads(a.pads, n);
  if (a.group <= 0) fail("group must be positive (got {})", a.group);
  if (w[0] % a.group != 0) fail("{} output channels are not divisible by group {}", w[0], a.group);
  if (checked_mul(w[1], a.group) != x[1])
    fail("input has {} channels but W expects {} x group {} = {}", x[1], w[1], a.group, w[1] * a.group);
  for (std::size_t i = 0; i < n; ++i)
    if (a.kernel[i] != w[i + 2])
      fail("kernel_shape {} does not match the weight's spatial size {}", a.kernel[i], w[i + 2]);
  Shape y{x[0], w[0]};
  for (std::size_t i = 0; i < n; ++i)
    y.push_back(window_output_size(x[i + 2], a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + n],
                                   false));
  return y;
}

Shape pool_output_shape(const Shape& x, const PoolAttrs& a) {
  if (x.size() < 3) fail("input has rank {}, pooling needs at least 3 (N x C x D1...)", x.size());
  const std::size_t n = x.size() - 2;
  check_spatial("kernel_shape", a.kernel.size(), n);
  check_spatial("strides", a.strides.size(), n);
  check_spatial("dilations", a.dilations.size(), n);
  check_pads(a.pads, n);
  Shape y{x[0], x[1]};
  for (std::size_t i = 0; i < n; ++i)
    y.push_back(window_output_size(x[i + 2], a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + n],
                                   a.ceil_mode));
  return y;
}

Shape global_pool_output_shape(const Shape& x) {
  if (x.size() < 3) fail("input has rank {}, global pooling needs at least 3 (N x C x D1...)", x.size());
  Shape y(x.size(), 1);
  y[0] = x[0];
  y[1] = x[1];
  return y;
}

Shape gemm_output_shape(const Shape& a, const Shape& b, const GemmAttrs& g) {
  if (a.size() != 2) fail("input A has rank {}, Gemm needs 2", a.size());
  if (b.size() != 2) fail("input B has rank {}, Gemm needs 2", b.size());
  const int64_t m = g.trans_a ? a[1] : a[0];
  const int64_t ka = g.trans_a ? a[0] : a[1];
  const int64_t kb = g.trans_b ? b[1] : b[0];
  const int64_t n = g.trans_b ? b[0] : b[1];
  if (ka != kb) fail("inner dimensions differ: A' is {}x{}, B' is {}x{}", m, ka, kb, n);
  return {m, n};
}

Shape matmul_output_shape(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) fail("MatMul inputs must have rank >= 1 (got {} and {})", a.size(), b.size());
  Shape A = a, B = b;
  if (A.size() == 1) A.insert(A.begin(), 1);
  if (B.size() == 1) B.push_back(1);
  if (A.back() != B[B.size() - 2])
    fail("inner dimensions differ: {} and {}", shape_str(a), shape_str(b));
  const Shape batch = broadcast_shapes(Shape(A.begin(), A.end() - 2), Shape(B.begin(), B.end() - 2));
  Shape y = batch;
  if (a.size() > 1) y.push_back(A[A.size() - 2]);
  if (b.size() > 1) y.push_back(B.back());
  return y;
}

Shape batchnorm_output_shape(const Shape& x, std::span<const Shape> params) {
  if (x.size() < 2) fail("input X has rank {}, BatchNormalization needs at least 2 (N x C ...)", x.size());
  static constexpr const char* kNames[] = {"scale", "B", "mean", "var"};
  for (std::size_t i = 0; i < params.size() && i < 4; ++i)
    if (params[i] != Shape{x[1]})
      fail("{} has shape {}, expected {} (one value per channel)", kNames[i], shape_str(params[i]), x[1]);
  return x;
}

Shape concat_output_shape(std::span<const Shape> inputs, int64_t axis) {
  if (inputs.empty()) fail("Concat needs at least one input");
  const Shape& first = inputs[0];
  if (first.empty()) fail("Concat inputs must have rank >= 1");
  Shape y = first;
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    const Shape& s = inputs[i];
    if (s.size() != first.size())
      fail("input {} has rank {} but input 0 has rank {}", i, s.size(), first.size());
    for (std::size_t d = 0; d < s.size(); ++d) {
      if (static_cast<int64_t>(d) == axis) continue;
      if (s[d] != first[d])
        fail("input {} has shape {}, incompatible with {} outside axis {}", i, shape_str(s), shape_str(first), axis);
    }
    y[static_cast<std::size_t>(axis)] = checked_add(y[static_cast<std::size_t>(axis)], s[static_cast<std::size_t>(axis)]);
  }
  return y;
}

Shape flatten_output_shape(const Shape& x, int64_t axis) {
  if (axis < 0 || axis > rank_of(x)) fail("axis {} is out of range for rank {}", axis, x.size());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank_of(x); ++i) {
    if (i < axis) {
      outer = checked_mul(outer, at(x, i));
    } else {
      inner = checked_mul(inner, at(x, i));
    }
  }
  return {outer, inner};
}

Shape reshape_output_shape(const Shape& x, std::span<const int64_t> target, bool allowzero) {
  Shape y(target.begin(), target.end());
  int64_t infer_at = -1;
  bool has_zero = false;
  int64_t known = 1;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == -1) {
      if (infer_at >= 0) fail("shape {} has more than one -1", shape_str(Shape(target.begin(), target.end())));
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (y[i] < -1) fail("shape has invalid dimension {}", y[i]);
    if (y[i] == 0) {
      if (allowzero) {
        has_zero = true;
      } else {
        if (i >= x.size()) fail("shape dimension {} is 0 (copy) but the input has rank {}", i, x.size());
        y[i] = x[i];
      }
    }
    known = checked_mul(known, y[i]);
  }
  if (has_zero && infer_at >= 0) fail("shape has both 0 (allowzero) and -1");
  const int64_t total = shape_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      fail("cannot reshape {} ({} elements) to {}", shape_str(x), total, shape_str(Shape(target.begin(), target.end())));
    y[static_cast<std::size_t>(infer_at)] = total / known;
  } else if (known != total) {
    fail("cannot reshape {} ({} elements) to {} ({} elements)", shape_str(x), total, shape_str(y), known);
  }
  return y;
}

Shape transpose_output_shape(const Shape& x, std::span<const int64_t> perm) {
  if (perm.size() != x.size()) fail("perm has {} entries for an input of rank {}", perm.size(), x.size());
  std::vector<char> seen(x.size(), 0);
  Shape y;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank_of(x) || seen[static_cast<std::size_t>(p)])
      fail("perm is not a permutation of 0..{}", x.size() - 1);
    seen[static_cast<std::size_t>(p)] = 1;
    y.push_back(at(x, p));
  }
  return y;
}

Shape squeeze_output_shape(const Shape& x, std::span<const int64_t> axes) {
  const auto ax = normalize_axes(axes, rank_of(x), "axes");
  Shape y;
  for (int64_t i = 0; i < rank_of(x); ++i) {
    if (std::binary_search(ax.begin(), ax.end(), i)) {
      if (at(x, i) != 1) fail("cannot squeeze axis {} of size {}", i, at(x, i));
      continue;
    }
    y.push_back(at(x, i));
  }
  return y;
}

Shape unsqueeze_output_shape(const Shape& x, std::span<const int64_t> axes) {
  const int64_t r = rank_of(x) + static_cast<int64_t>(axes.size());
  const auto ax = normalize_axes(axes, r, "axes");
  Shape y;
  std::size_t src = 0;
  for (int64_t i = 0; i < r; ++i) {
    if (std::binary_search(ax.begin(), ax.end(), i)) {
      y.push_back(1);
    } else {
      y.push_back(x[src++]);
    }
  }
  return y;
}

Shape pad_output_shape(const Shape& x, std::span<const int64_t> pads) {
  if (pads.size() != 2 * x.size())
    fail("pads has {} values, expected {} (begin and end per axis)", pads.size(), 2 * x.size());
  Shape y = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    y[i] = checked_add(checked_add(x[i], pads[i]), pads[i + x.size()]);
    if (y[i] < 0) fail("pads {} and {} remove more than the {} elements of axis {}", pads[i], pads[i + x.size()], x[i], i);
  }
  return y;
}

Shape gather_output_shape(const Shape& data, const Shape& indices, int64_t axis) {
  if (data.empty()) fail("Gather data must have rank >= 1");
  Shape y(data.begin(), data.begin() + axis);
  y.insert(y.end(), indices.begin(), indices.end());
  y.insert(y.end(), data.begin() + axis + 1, data.end());
  return y;
}

}  // namespace qsim
