#include "graph/onnx_import_fold.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "graph/error.h"
#include "graph/shape_inference.h"

namespace qsim {

namespace {

// Row-major strides of `s`, with 0 where `s` is broadcast to `out` (s right-aligned).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t step = 1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const std::size_t d = s.size() - 1 - i;
    const std::size_t o = out.size() - 1 - i;
    st[o] = s[d] == 1 ? 0 : step;
    step *= s[d];
  }
  return st;
}

// Integer ops in the unsigned type of at least 64 bits, so they wrap instead of
// overflowing (signed overflow and int promotion of uint16 products are UB).
template <typename T>
T wrap_add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || b;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}

template <typename T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a && b;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}

template <typename T>
T act_one(const Activation& a, T x) {
  if constexpr (std::is_same_v<T, bool>) {
    return x;
  } else {
    const double v = static_cast<double>(x);
    double r = v;
    switch (a.kind) {
      case ActKind::kNone: break;
      case ActKind::kRelu: r = std::max(v, 0.0); break;
      case ActKind::kClip: r = std::min(std::max(v, static_cast<double>(a.alpha)), static_cast<double>(a.beta)); break;
      case ActKind::kLeakyRelu: r = v < 0 ? v * a.alpha : v; break;
      case ActKind::kSigmoid: r = 1.0 / (1.0 + std::exp(-v)); break;
      case ActKind::kHardSigmoid: r = std::clamp(a.alpha * v + a.beta, 0.0, 1.0); break;
      case ActKind::kHardSwish: r = v * std::clamp(v / 6.0 + 0.5, 0.0, 1.0); break;
    }
    if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(r);
    } else {
      // Integer results stay in range: every activation maps into [min(x, 0), max(x, bound)].
      return static_cast<T>(std::clamp(r, static_cast<double>(std::numeric_limits<T>::lowest()),
                                       static_cast<double>(std::numeric_limits<T>::max())));
    }
  }
}

}  // namespace

Tensor fold_binary(OpKind op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    fail("inputs have different types ({} and {})", dtype_name(a.dtype()), dtype_name(b.dtype()));
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape());
  Tensor out(a.dtype(), out_shape);
  const auto sa = broadcast_strides(a.shape(), out_shape);
  const auto sb = broadcast_strides(b.shape(), out_shape);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto pa = a.data<T>();
    const auto pb = b.data<T>();
    auto po = out.data<T>();
    std::vector<int64_t> idx(out_shape.size(), 0);
    int64_t ia = 0, ib = 0;
    for (std::size_t i = 0; i < po.size(); ++i) {
      const T x = pa[static_cast<std::size_t>(ia)];
      const T y = pb[static_cast<std::size_t>(ib)];
      po[i] = op == OpKind::kMul ? wrap_mul(x, y) : wrap_add(x, y);
      // Odometer increment over the output index, moving both input offsets.
      for (std::size_t d = out_shape.size(); d-- > 0;) {
        ++idx[d];
        ia += sa[d];
        ib += sb[d];
        if (idx[d] < out_shape[d]) break;
        ia -= sa[d] * idx[d];
        ib -= sb[d] * idx[d];
        idx[d] = 0;
      }
    }
    return 0;
  });
  return out;
}

Tensor fold_activation(const Activation& act, const Tensor& x) {
  Tensor out(x.dtype(), x.shape());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto px = x.data<T>();
    auto po = out.data<T>();
    for (std::size_t i = 0; i < px.size(); ++i) po[i] = act_one<T>(act, px[i]);
    return 0;
  });
  return out;
}

Tensor fold_concat(std::span<const Tensor* const> inputs, int64_t axis) {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) {
    if (t->dtype() != inputs[0]->dtype())
      fail("inputs have different types ({} and {})", dtype_name(inputs[0]->dtype()), dtype_name(t->dtype()));
    shapes.push_back(t->shape());
  }
  const Shape out_shape = concat_output_shape(shapes, axis);
  Tensor out(inputs[0]->dtype(), out_shape);
  const std::size_t esize = dtype_size(out.dtype());
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[static_cast<std::size_t>(d)];
  auto dst = out.bytes();
  std::size_t pos = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : inputs) {
      // Bytes of one input's slab below `axis`.
      const std::size_t chunk = static_cast<std::size_t>(outer == 0 ? 0 : t->numel() / outer) * esize;
      std::memcpy(dst.data() + pos, t->bytes().data() + static_cast<std::size_t>(o) * chunk, chunk);
      pos += chunk;
    }
  }
  return out;
}

Tensor fold_transpose(const Tensor& x, std::span<const int64_t> perm) {
  const Shape out_shape = transpose_output_shape(x.shape(), perm);
  Tensor out(x.dtype(), out_shape);
  const std::size_t r = out_shape.size();
  std::vector<int64_t> in_strides(r, 1);
  for (std::size_t d = r; d-- > 1;) in_strides[d - 1] = in_strides[d] * x.shape()[d];
  std::vector<int64_t> st(r);  // input stride of each output axis
  for (std::size_t d = 0; d < r; ++d) st[d] = in_strides[static_cast<std::size_t>(perm[d])];
  const std::size_t esize = dtype_size(x.dtype());
  const auto src = x.bytes();
  auto dst = out.bytes();
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::memcpy(dst.data() + static_cast<std::size_t>(i) * esize, src.data() + static_cast<std::size_t>(off) * esize,
                esize);
    for (std::size_t d = r; d-- > 0;) {
      ++idx[d];
      off += st[d];
      if (idx[d] < out_shape[d]) break;
      off -= st[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

Tensor fold_gather(const Tensor& data, const Tensor& indices, int64_t axis) {
  if (indices.dtype() != DType::kInt64 && indices.dtype() != DType::kInt32)
    fail("Gather indices must be int32 or int64, not {}", dtype_name(indices.dtype()));
  const Shape out_shape = gather_output_shape(data.shape(), indices.shape(), axis);
  Tensor out(data.dtype(), out_shape);
  const Shape& ds = data.shape();
  const int64_t n = ds[static_cast<std::size_t>(axis)];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ds[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < ds.size(); ++d) inner *= ds[d];
  const std::size_t esize = dtype_size(data.dtype());
  const std::size_t row = static_cast<std::size_t>(inner) * esize;
  auto dst = out.bytes();
  std::size_t pos = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < indices.numel(); ++k) {
      int64_t j = indices.as_int64(k);
      if (j < -n || j >= n) fail("Gather index {} is out of range for a dimension of size {}", j, n);
      if (j < 0) j += n;
      std::memcpy(dst.data() + pos, data.bytes().data() + static_cast<std::size_t>(o * n + j) * row, row);
      pos += row;
    }
  }
  return out;
}

Tensor fold_fill(const Tensor& value, const Shape& shape) {
  if (value.numel() != 1) fail("ConstantOfShape value must have exactly one element (has {})", value.numel());
  Tensor out(value.dtype(), shape);
  const std::size_t esize = dtype_size(value.dtype());
  auto dst = out.bytes();
  for (int64_t i = 0; i < out.numel(); ++i)
    std::memcpy(dst.data() + static_cast<std::size_t>(i) * esize, value.bytes().data(), esize);
  return out;
}

namespace {

// Index along `axis` of element i, and the element count per index of the axes after it.
struct AxisIndex {
  int64_t inner = 1, extent = 1;
  int64_t of(int64_t i) const { return (i / inner) % extent; }
};
AxisIndex axis_index(const Shape& x, const Tensor& scale, int64_t axis) {
  AxisIndex a;
  if (scale.numel() == 1) return a;
  if (axis < 0 || axis >= static_cast<int64_t>(x.size()) || x[static_cast<std::size_t>(axis)] != scale.numel())
    fail("a scale of {} values does not match axis {} of the input {}", scale.numel(), axis, shape_str(x));
  a.extent = scale.numel();
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < x.size(); ++d) a.inner *= x[d];
  return a;
}

}  // namespace

Tensor fold_quantize_linear(const Tensor& x, const Tensor& scale, const Tensor* zero_point, int64_t axis, DType to) {
  if (x.dtype() != DType::kFloat32 || scale.dtype() != DType::kFloat32)
    fail("QuantizeLinear folds float32 inputs and scales only");
  const AxisIndex ax = axis_index(x.shape(), scale, axis);
  Tensor out(to, x.shape());
  visit_dtype(to, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) <= 2) {
      const auto xs = x.data<float>();
      const auto ss = scale.data<float>();
      auto ys = out.data<T>();
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const int64_t c = ax.of(static_cast<int64_t>(i));
        const int64_t z = zero_point ? zero_point->as_int64(c) : 0;
        // ONNX: x / scale in float32, rounded half to even, plus the zero point, saturated.
        const float v = xs[i] / ss[static_cast<std::size_t>(c)];
        const double r = std::isnan(v) ? 0.0 : std::nearbyint(std::clamp<double>(v, -4294967296.0, 4294967296.0));
        const double q = std::clamp<double>(r + static_cast<double>(z), std::numeric_limits<T>::min(),
                                            std::numeric_limits<T>::max());
        ys[i] = static_cast<T>(q);
      }
    } else {
      fail("QuantizeLinear to {} is not supported", dtype_name(to));
    }
    return 0;
  });
  return out;
}

Tensor fold_dequantize_linear(const Tensor& x, const Tensor& scale, const Tensor* zero_point, int64_t axis) {
  if (scale.dtype() != DType::kFloat32) fail("DequantizeLinear folds float32 scales only");
  const AxisIndex ax = axis_index(x.shape(), scale, axis);
  Tensor out(DType::kFloat32, x.shape());
  auto ys = out.data<float>();
  const auto ss = scale.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = ax.of(i);
    const int64_t z = zero_point ? zero_point->as_int64(c) : 0;
    ys[static_cast<std::size_t>(i)] = static_cast<float>(x.as_int64(i) - z) * ss[static_cast<std::size_t>(c)];
  }
  return out;
}

}  // namespace qsim
