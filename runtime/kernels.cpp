#include "runtime/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "graph/error.h"
#include "runtime/gemm.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qsim::kernels {

namespace {

// visit_dtype (graph/tensor.h) over the numeric types: bool is refused.
template <typename F>
decltype(auto) dispatch_numeric(DType t, F&& f) {
  if (t == DType::kBool) fail("element type {} is not supported by this operator", dtype_name(t));
  return visit_dtype(t, [&](auto v) -> decltype(f(float{})) {
    if constexpr (std::is_same_v<decltype(v), bool>)
      return f(float{});  // not reached: refused above
    else
      return f(v);
  });
}

int64_t prod(std::span<const int64_t> s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

}  // namespace

Spatial3 make_spatial3(const Shape& x, const Shape& y, std::span<const int64_t> kernel,
                       std::span<const int64_t> strides, std::span<const int64_t> dilations,
                       std::span<const int64_t> pads) {
  if (x.size() < 3 || x.size() > 5 || y.size() != x.size())
    fail("spatial operator on a {}-D input (supported: 1 to 3 spatial dimensions)", x.size());
  const std::size_t r = x.size() - 2;
  const std::size_t off = 3 - r;
  Spatial3 g;
  g.N = x[0];
  g.C = x[1];
  for (std::size_t i = 0; i < r; ++i) {
    g.in[off + i] = x[2 + i];
    g.out[off + i] = y[2 + i];
    g.kernel[off + i] = i < kernel.size() ? kernel[i] : 1;
    g.stride[off + i] = i < strides.size() ? strides[i] : 1;
    g.dilation[off + i] = i < dilations.size() ? dilations[i] : 1;
    if (pads.size() == 2 * r) {
      g.pad_begin[off + i] = pads[i];
      g.pad_end[off + i] = pads[r + i];
    }
  }
  return g;
}

// ---------------------------------------------------------------- pools

namespace {

// Valid kernel taps [k_lo, k_hi) of one output coordinate along one axis.
struct TapRange {
  int64_t start;  // input coordinate of tap 0
  int64_t lo, hi;
};
inline TapRange taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t kernel, int64_t in) {
  TapRange t{o * stride - pad, 0, kernel};
  if (t.start < 0) t.lo = std::min(kernel, (-t.start + dil - 1) / dil);       // first tap at >= 0
  t.hi = in - t.start <= 0 ? 0 : std::min(kernel, (in - t.start + dil - 1) / dil);  // last tap < in
  t.hi = std::max(t.hi, t.lo);
  return t;
}

}  // namespace

namespace {

// 2-D max pool without Indices or dilation: windows fully inside the input (the
// interior columns) take a check-free path.
template <typename T>
void max_pool_2d(const Spatial3& g, const T* x, T* y, ThreadPool& pool) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2], SH = g.stride[1], SW = g.stride[2];
  const int64_t PH = g.pad_begin[1], PW = g.pad_begin[2];
  // Interior columns: ow * SW - PW >= 0 and ow * SW - PW + KW <= W.
  const int64_t ow0 = std::min(OW, (PW + SW - 1) / SW);
  const int64_t ow1 = std::max(ow0, std::min(OW, W + PW - KW >= 0 ? (W + PW - KW) / SW + 1 : 0));
  pool.parallel_range(g.N * g.C, OH * OW * KH * KW, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      T* yp = y + p * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = oh * SH - PH;
        const int64_t kh0 = std::max<int64_t>(0, -h0), kh1 = std::min(KH, H - h0);
        T* out = yp + oh * OW;
        auto edge = [&](int64_t ow) {
          const int64_t w0 = ow * SW - PW;
          const int64_t kw0 = std::max<int64_t>(0, -w0), kw1 = std::min(KW, W - w0);
          T best = std::numeric_limits<T>::lowest();
          for (int64_t kh = kh0; kh < kh1; ++kh)
            for (int64_t kw = kw0; kw < kw1; ++kw) best = std::max(best, xp[(h0 + kh) * W + w0 + kw]);
          out[ow] = best;
        };
        for (int64_t ow = 0; ow < ow0; ++ow) edge(ow);
        for (int64_t ow = ow0; ow < ow1; ++ow) {
          const T* base = xp + h0 * W + ow * SW - PW;
          T best = std::numeric_limits<T>::lowest();
          for (int64_t kh = kh0; kh < kh1; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw) best = std::max(best, base[kh * W + kw]);
          out[ow] = best;
        }
        for (int64_t ow = ow1; ow < OW; ++ow) edge(ow);
      }
    }
  });
}

}  // namespace

#if defined(__AVX512F__)
// 2-D max pool of float or int32 (the integer executor's storage), dilation 1, column
// stride S of 1 or 2, kernel width <= 8: 16 output columns per vector, each tap a
// masked load (lanes outside the row read the lowest value; stride 2: the even lanes
// of two loads). Float: max(v, best) keeps best when v is NaN, as std::max(best, v)
// does. Loads, permutes and stores move 32-bit lanes, whatever their type.
template <int S, typename T>
void max_pool_2d_avx512(const Spatial3& g, const T* x, T* y, ThreadPool& pool) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t>);
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2], SH = g.stride[1], PH = g.pad_begin[1], PW = g.pad_begin[2];
  const auto vmax = [](__m512i v, __m512i best) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_castps_si512(_mm512_maskz_max_ps(0xFFFF, _mm512_castsi512_ps(v), _mm512_castsi512_ps(best)));
    else
      return _mm512_maskz_max_epi32(0xFFFF, v, best);  // (maskz: see micro_kernel in gemm.cpp)
  };
  pool.parallel_range(g.N * g.C, OH * OW * KH * KW, [&](int64_t p0, int64_t p1) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i lowest = std::is_same_v<T, float>
                               ? _mm512_castps_si512(_mm512_set1_ps(-std::numeric_limits<float>::infinity()))
                               : _mm512_set1_epi32(std::numeric_limits<int32_t>::min());
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      T* yp = y + p * OH * OW;
      for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
        const int64_t lanes = std::min<int64_t>(16, OW - ow0);
        int64_t off[8];
        __mmask16 m0[8], m1[8];
        for (int64_t kw = 0; kw < KW; ++kw) {
          off[kw] = ow0 * S - PW + kw;
          uint32_t valid = 0;
          for (int64_t j = 0; j < lanes; ++j) {
            const int64_t iw = off[kw] + S * j;
            if (iw >= 0 && iw < W) valid |= 1u << j;
          }
          if constexpr (S == 2) valid = spread_even(valid);
          m0[kw] = static_cast<__mmask16>(valid);
          m1[kw] = static_cast<__mmask16>(valid >> 16);
        }
        for (int64_t oh = 0; oh < OH; ++oh) {
          __m512i best = lowest;
          const int64_t kh0 = std::max<int64_t>(0, PH - oh * SH), kh1 = std::min(KH, H + PH - oh * SH);
          for (int64_t kh = kh0; kh < kh1; ++kh) {
            const T* row = xp + (oh * SH - PH + kh) * W;
            for (int64_t kw = 0; kw < KW; ++kw) {
              const T* src = element_at(row, off[kw]);
              __m512i v;
              if constexpr (S == 1) {
                v = _mm512_mask_loadu_epi32(lowest, m0[kw], src);
              } else {
                v = _mm512_permutex2var_epi32(_mm512_mask_loadu_epi32(lowest, m0[kw], src), even,
                                              _mm512_mask_loadu_epi32(lowest, m1[kw], src + 16));
              }
              best = vmax(v, best);
            }
          }
          _mm512_mask_storeu_epi32(yp + oh * OW + ow0, static_cast<__mmask16>((1u << lanes) - 1u), best);
        }
      }
    }
  });
}
#endif

template <typename T>
void max_pool(const Spatial3& g, const T* x, T* y, int64_t* indices, int64_t storage_order, ThreadPool& pool) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int32_t>) {
    if (!indices && g.in[0] == 1 && g.kernel[0] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
        g.pad_begin[0] == 0 && g.kernel[2] <= 8 && (g.stride[2] == 1 || g.stride[2] == 2)) {
      if (g.stride[2] == 1)
        max_pool_2d_avx512<1>(g, x, y, pool);
      else
        max_pool_2d_avx512<2>(g, x, y, pool);
      return;
    }
  }
#endif
  if (!indices && g.in[0] == 1 && g.kernel[0] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
      g.pad_begin[0] == 0) {
    max_pool_2d(g, x, y, pool);
    return;
  }
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  pool.parallel_range(planes, out_plane * g.kernel_volume(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = y + p * out_plane;
      int64_t* ip = indices ? indices + p * out_plane : nullptr;
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const TapRange td = taps(od, g.stride[0], g.pad_begin[0], g.dilation[0], g.kernel[0], D);
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          const TapRange th = taps(oh, g.stride[1], g.pad_begin[1], g.dilation[1], g.kernel[1], H);
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            const TapRange tw = taps(ow, g.stride[2], g.pad_begin[2], g.dilation[2], g.kernel[2], W);
            T best = std::numeric_limits<T>::lowest();
            int64_t bd = -1, bh = -1, bw = -1;
            const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
            if (!ip) {  // no Indices output: a plain maximum
              for (int64_t kd = td.lo; kd < td.hi; ++kd) {
                const int64_t id = td.start + kd * g.dilation[0];
                for (int64_t kh = th.lo; kh < th.hi; ++kh) {
                  const T* row = xp + (id * H + th.start + kh * g.dilation[1]) * W + tw.start;
                  for (int64_t kw = tw.lo; kw < tw.hi; ++kw) best = std::max(best, row[kw * g.dilation[2]]);
                }
              }
              yp[o] = best;
              continue;
            }
            for (int64_t kd = td.lo; kd < td.hi; ++kd) {
              const int64_t id = td.start + kd * g.dilation[0];
              for (int64_t kh = th.lo; kh < th.hi; ++kh) {
                const int64_t ih = th.start + kh * g.dilation[1];
                const T* row = xp + (id * H + ih) * W;
                for (int64_t kw = tw.lo; kw < tw.hi; ++kw) {
                  const int64_t iw = tw.start + kw * g.dilation[2];
                  if (bd < 0 || row[iw] > best) {
                    best = row[iw];
                    bd = id;
                    bh = ih;
                    bw = iw;
                  }
                }
              }
            }
            yp[o] = best;
            {
              const int64_t local = storage_order == 0 ? (bd * H + bh) * W + bw : bd + D * (bh + H * bw);
              ip[o] = bd < 0 ? -1 : p * in_plane + local;
            }
          }
        }
      }
    }
  });
}

template void max_pool<float>(const Spatial3&, const float*, float*, int64_t*, int64_t, ThreadPool&);
template void max_pool<double>(const Spatial3&, const double*, double*, int64_t*, int64_t, ThreadPool&);
template void max_pool<int8_t>(const Spatial3&, const int8_t*, int8_t*, int64_t*, int64_t, ThreadPool&);
template void max_pool<uint8_t>(const Spatial3&, const uint8_t*, uint8_t*, int64_t*, int64_t, ThreadPool&);
// int32: the integer executor's quantized tensors (quant/int_exec.cpp).
template void max_pool<int32_t>(const Spatial3&, const int32_t*, int32_t*, int64_t*, int64_t, ThreadPool&);

void avg_pool(const Spatial3& g, bool count_include_pad, const float* x, float* y, ThreadPool& pool) {
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  // Taps inside the explicitly padded extent: the divisor with count_include_pad
  // (windows that ceil_mode pushes past the padding do not count those taps).
  auto padded_taps = [](int64_t o, int64_t s, int64_t pb, int64_t pe, int64_t d, int64_t k, int64_t in) {
    int64_t n = 0;
    for (int64_t t = 0; t < k; ++t) {
      const int64_t i = o * s - pb + t * d;
      if (i >= -pb && i < in + pe) ++n;
    }
    return n;
  };
  pool.parallel_range(planes, out_plane * g.kernel_volume(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * in_plane;
      float* yp = y + p * out_plane;
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const TapRange td = taps(od, g.stride[0], g.pad_begin[0], g.dilation[0], g.kernel[0], D);
        const int64_t nd = padded_taps(od, g.stride[0], g.pad_begin[0], g.pad_end[0], g.dilation[0], g.kernel[0], D);
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          const TapRange th = taps(oh, g.stride[1], g.pad_begin[1], g.dilation[1], g.kernel[1], H);
          const int64_t nh =
              padded_taps(oh, g.stride[1], g.pad_begin[1], g.pad_end[1], g.dilation[1], g.kernel[1], H);
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            const TapRange tw = taps(ow, g.stride[2], g.pad_begin[2], g.dilation[2], g.kernel[2], W);
            float sum = 0.0f;
            for (int64_t kd = td.lo; kd < td.hi; ++kd) {
              const int64_t id = td.start + kd * g.dilation[0];
              for (int64_t kh = th.lo; kh < th.hi; ++kh) {
                const float* row = xp + (id * H + th.start + kh * g.dilation[1]) * W;
                for (int64_t kw = tw.lo; kw < tw.hi; ++kw) sum += row[tw.start + kw * g.dilation[2]];
              }
            }
            int64_t count;
            if (count_include_pad) {
              count = nd * nh *
                      padded_taps(ow, g.stride[2], g.pad_begin[2], g.pad_end[2], g.dilation[2], g.kernel[2], W);
            } else {
              count = (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo);
            }
            yp[(od * g.out[1] + oh) * g.out[2] + ow] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
          }
        }
      }
    }
  });
}

void global_avg_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool) {
  const float inv = plane_size > 0 ? 1.0f / static_cast<float>(plane_size) : 0.0f;
  pool.parallel_range(planes, plane_size, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * plane_size;
      float s = 0.0f;
      for (int64_t i = 0; i < plane_size; ++i) s += xp[i];
      y[p] = s * inv;
    }
  });
}

// ---------------------------------------------------------------- broadcasting

namespace {

constexpr int kMaxRank = 8;

// Output iteration space after merging dimensions: dims[0] is the innermost run.
struct BroadcastPlan {
  int rank = 0;
  int64_t size[kMaxRank] = {};
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
};

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const int r = static_cast<int>(out.size());
  if (r > kMaxRank) fail("broadcast of a {}-D tensor (at most {} dimensions)", r, kMaxRank);
  auto strides_of = [&](const Shape& s) {
    std::array<int64_t, kMaxRank> st{};
    const int off = r - static_cast<int>(s.size());
    int64_t acc = 1;
    for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
      const int64_t d = s[static_cast<std::size_t>(i)];
      st[static_cast<std::size_t>(i + off)] = d == 1 ? 0 : acc;
      acc *= d;
    }
    return st;
  };
  const auto sa = strides_of(a), sb = strides_of(b);
  BroadcastPlan p;
  for (int i = r - 1; i >= 0; --i) {  // innermost first
    const auto u = static_cast<std::size_t>(i);
    const int64_t d = out[u];
    if (d == 1) continue;
    if (p.rank > 0) {
      const int k = p.rank - 1;
      if (sa[u] == p.sa[k] * p.size[k] && sb[u] == p.sb[k] * p.size[k]) {
        p.size[k] *= d;
        continue;
      }
    }
    if (p.rank == kMaxRank) fail("broadcast over more than {} non-mergeable dimensions", kMaxRank);
    p.size[p.rank] = d;
    p.sa[p.rank] = sa[u];
    p.sb[p.rank] = sb[u];
    ++p.rank;
  }
  if (p.rank == 0) {
    p.rank = 1;
    p.size[0] = 1;
  }
  return p;
}

template <typename T, typename Op>
void inner_run(const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n, Op op) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) y[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i * sa], b[i * sb]);
  }
}

template <typename T, typename Op>
void broadcast_apply(const BroadcastPlan& p, const T* a, const T* b, T* y, Op op, ThreadPool& pool,
                     const Activation* act) {
  const int64_t inner = p.size[0];
  int64_t outer = 1;
  for (int i = 1; i < p.rank; ++i) outer *= p.size[i];
  pool.parallel_range(outer, inner, [&](int64_t o0, int64_t o1) {
    // Decompose o0 into per-dimension counters.
    int64_t idx[kMaxRank] = {};
    int64_t rem = o0, offa = 0, offb = 0;
    for (int i = 1; i < p.rank; ++i) {
      idx[i] = rem % p.size[i];
      rem /= p.size[i];
      offa += idx[i] * p.sa[i];
      offb += idx[i] * p.sb[i];
    }
    for (int64_t o = o0; o < o1; ++o) {
      inner_run(a + offa, p.sa[0], b + offb, p.sb[0], y + o * inner, inner, op);
      if constexpr (std::is_same_v<T, float>) {
        if (act) gemm::apply_activation(*act, y + o * inner, inner);
      }
      for (int i = 1; i < p.rank; ++i) {
        offa += p.sa[i];
        offb += p.sb[i];
        if (++idx[i] < p.size[i]) break;
        offa -= p.sa[i] * p.size[i];
        offb -= p.sb[i] * p.size[i];
        idx[i] = 0;
      }
    }
  });
}

}  // namespace

void binary(BinaryOp op, DType dtype, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
            void* y, const Shape& out, ThreadPool& pool, const Activation* act) {
  if (act && (act->kind == ActKind::kNone || dtype != DType::kFloat32)) act = nullptr;
  const BroadcastPlan p = plan_broadcast(a_shape, b_shape, out);
  dispatch_numeric(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* py = static_cast<T*>(y);
    // Integer results wrap like numpy's fixed-width arithmetic.
    if (op == BinaryOp::kAdd)
      broadcast_apply(p, pa, pb, py, [](T u, T v) { return static_cast<T>(u + v); }, pool, act);
    else
      broadcast_apply(p, pa, pb, py, [](T u, T v) { return static_cast<T>(u * v); }, pool, act);
    return 0;
  });
}

// ---------------------------------------------------------------- activations, BN

void activation(const Activation& act, DType dtype, const void* x, void* y, int64_t n, ThreadPool& pool) {
  if (dtype == DType::kFloat32) {
    const float* px = static_cast<const float*>(x);
    float* py = static_cast<float*>(y);
    pool.parallel_range(n, 4, [&](int64_t b, int64_t e) {
      if (px != py) std::memcpy(py + b, px + b, static_cast<std::size_t>(e - b) * sizeof(float));
      gemm::apply_activation(act, py + b, e - b);
    });
    return;
  }
  if (act.kind != ActKind::kRelu && act.kind != ActKind::kClip && act.kind != ActKind::kNone)
    fail("{} on {} tensors is not supported", act_name(act.kind), dtype_name(dtype));
  dispatch_numeric(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* py = static_cast<T*>(y);
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (act.kind == ActKind::kRelu) lo = T(0);
    if (act.kind == ActKind::kClip) {
      // Bounds arrive as float; clamp them into the type before converting.
      auto conv = [](double v, T fallback) {
        if (std::isnan(v)) return fallback;
        if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
        if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
        return static_cast<T>(v);
      };
      lo = conv(act.alpha, lo);
      hi = conv(act.beta, hi);
    }
    for (int64_t i = 0; i < n; ++i) py[i] = std::min(std::max(px[i], lo), hi);
    return 0;
  });
}

void batch_norm(const float* x, float* y, int64_t N, int64_t C, int64_t inner, const float* scale,
                const float* bias, const float* mean, const float* var, float epsilon, ThreadPool& pool) {
  pool.parallel_range(N * C, inner, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % C;
      const float a = scale[c] / std::sqrt(var[c] + epsilon);
      const float b = bias[c] - mean[c] * a;
      const float* xp = x + p * inner;
      float* yp = y + p * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * a + b;
    }
  });
}

// ---------------------------------------------------------------- data movement

void transpose(const void* x, void* y, std::size_t es, const Shape& x_shape, std::span<const int64_t> perm,
               ThreadPool& pool) {
  const int r = static_cast<int>(x_shape.size());
  if (static_cast<int>(perm.size()) != r) fail("Transpose perm has {} entries for a {}-D input", perm.size(), r);
  if (r > kMaxRank) fail("Transpose of a {}-D tensor (at most {} dimensions)", r, kMaxRank);
  std::array<int64_t, kMaxRank> in_stride{};
  in_stride.fill(1);
  for (int i = r - 2; i >= 0; --i)
    in_stride[static_cast<std::size_t>(i)] = in_stride[static_cast<std::size_t>(i + 1)] * x_shape[static_cast<std::size_t>(i + 1)];
  // Output dims (innermost first) with the matching input stride, merging runs that
  // stay contiguous in the input.
  int64_t size[kMaxRank] = {}, stride[kMaxRank] = {};
  int n = 0;
  for (int i = r - 1; i >= 0; --i) {
    const auto ax = static_cast<std::size_t>(perm[static_cast<std::size_t>(i)]);
    const int64_t d = x_shape[ax];
    if (d == 1) continue;
    if (n > 0 && in_stride[ax] == stride[n - 1] * size[n - 1]) {
      size[n - 1] *= d;
      continue;
    }
    size[n] = d;
    stride[n] = in_stride[ax];
    ++n;
  }
  const int64_t total = prod(x_shape);
  if (n == 0 || (n == 1 && stride[0] == 1)) {
    std::memcpy(y, x, static_cast<std::size_t>(total) * es);
    return;
  }
  const int64_t inner = size[0];
  const int64_t outer = total / inner;
  const auto* src = static_cast<const std::byte*>(x);
  auto* dst = static_cast<std::byte*>(y);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* s = reinterpret_cast<const T*>(src);
    T* d = reinterpret_cast<T*>(dst);
    pool.parallel_range(outer, inner, [&](int64_t o0, int64_t o1) {
      int64_t idx[kMaxRank] = {};
      int64_t rem = o0, off = 0;
      for (int i = 1; i < n; ++i) {
        idx[i] = rem % size[i];
        rem /= size[i];
        off += idx[i] * stride[i];
      }
      for (int64_t o = o0; o < o1; ++o) {
        T* out = d + o * inner;
        const T* in = s + off;
        if (stride[0] == 1) {
          std::memcpy(out, in, static_cast<std::size_t>(inner) * sizeof(T));
        } else {
          for (int64_t i = 0; i < inner; ++i) out[i] = in[i * stride[0]];
        }
        for (int i = 1; i < n; ++i) {
          off += stride[i];
          if (++idx[i] < size[i]) break;
          off -= stride[i] * size[i];
          idx[i] = 0;
        }
      }
    });
  };
  switch (es) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    case 8: run(uint64_t{}); break;
    default: fail("Transpose of {}-byte elements is not supported", es);
  }
}

void concat(std::span<const void* const> xs, std::span<const Shape> shapes, int64_t axis, std::size_t es, void* y) {
  const auto ax = static_cast<std::size_t>(axis);
  const int64_t outer = prod(std::span(shapes[0]).first(ax));
  auto* dst = static_cast<std::byte*>(y);
  for (int64_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const auto chunk = static_cast<std::size_t>(prod(std::span(shapes[i]).subspan(ax))) * es;
      if (chunk == 0) continue;
      std::memcpy(dst, static_cast<const std::byte*>(xs[i]) + static_cast<std::size_t>(o) * chunk, chunk);
      dst += chunk;
    }
  }
}

void pad(DType dtype, const void* x, const Shape& xs, void* y, const Shape& ys, std::span<const int64_t> pads,
         PadMode mode, double value) {
  const int r = static_cast<int>(xs.size());
  if (static_cast<int>(pads.size()) != 2 * r) fail("Pad has {} pad values for a {}-D input", pads.size(), r);
  if (r > kMaxRank) fail("Pad of a {}-D tensor (at most {} dimensions)", r, kMaxRank);
  dispatch_numeric(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x);
    T* dst = static_cast<T*>(y);
    const T fill = static_cast<T>(value);
    // Source coordinate of output coordinate o on axis a, or -1 (constant fill).
    auto source = [&](int a, int64_t o) -> int64_t {
      const int64_t n = xs[static_cast<std::size_t>(a)];
      int64_t i = o - pads[static_cast<std::size_t>(a)];
      if (i >= 0 && i < n) return i;
      if (mode == PadMode::kConstant || n == 0) return -1;
      if (mode == PadMode::kEdge) return i < 0 ? 0 : n - 1;
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);  // reflect without repeating the edge
      i %= period;
      if (i < 0) i += period;
      return i < n ? i : period - i;
    };
    if (r == 0) {
      dst[0] = src[0];
      return 0;
    }
    const int64_t W = ys[static_cast<std::size_t>(r - 1)];
    const int64_t rows = W == 0 ? 0 : prod(ys) / W;
    std::array<int64_t, kMaxRank> idx{}, xstride{};
    xstride.fill(1);
    for (int i = r - 2; i >= 0; --i)
      xstride[static_cast<std::size_t>(i)] = xstride[static_cast<std::size_t>(i + 1)] * xs[static_cast<std::size_t>(i + 1)];
    for (int64_t row = 0; row < rows; ++row) {
      T* out = dst + row * W;
      int64_t off = 0;
      bool inside = true;
      for (int a = 0; a < r - 1; ++a) {
        const int64_t s = source(a, idx[static_cast<std::size_t>(a)]);
        if (s < 0) {
          inside = false;
          break;
        }
        off += s * xstride[static_cast<std::size_t>(a)];
      }
      if (!inside) {
        std::fill(out, out + W, fill);
      } else {
        const T* in = src + off;
        for (int64_t o = 0; o < W; ++o) {
          const int64_t s = source(r - 1, o);
          out[o] = s < 0 ? fill : in[s];
        }
      }
      for (int a = r - 2; a >= 0; --a) {
        if (++idx[static_cast<std::size_t>(a)] < ys[static_cast<std::size_t>(a)]) break;
        idx[static_cast<std::size_t>(a)] = 0;
      }
    }
    return 0;
  });
}

// ---------------------------------------------------------------- normalisations

void softmax(const float* x, float* y, const Shape& shape, int64_t axis, bool legacy, ThreadPool& pool) {
  const auto ax = static_cast<std::size_t>(axis);
  const int64_t outer = prod(std::span(shape).first(ax));
  const int64_t n = legacy ? prod(std::span(shape).subspan(ax)) : shape.empty() ? 1 : shape[ax];
  const int64_t inner = legacy || shape.empty() ? 1 : prod(std::span(shape).subspan(ax + 1));
  pool.parallel_range(outer * inner, n * 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const float* xp = x + o * n * inner + i;
      float* yp = y + o * n * inner + i;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, xp[k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        const float e = std::exp(xp[k * inner] - mx);
        yp[k * inner] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t k = 0; k < n; ++k) yp[k * inner] *= inv;
    }
  });
}

void lrn(const float* x, float* y, int64_t N, int64_t C, int64_t inner, const LRNAttrs& a, ThreadPool& pool) {
  const int64_t before = (a.size - 1) / 2;      // floor((size - 1) / 2)
  const int64_t after = a.size - 1 - before;    // ceil((size - 1) / 2)
  const float scale = a.alpha / static_cast<float>(a.size);
  pool.parallel_range(N * C, inner * a.size, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / C, c = p % C;
      const int64_t c0 = std::max<int64_t>(0, c - before), c1 = std::min(C - 1, c + after);
      const float* xp = x + p * inner;
      float* yp = y + p * inner;
      for (int64_t i = 0; i < inner; ++i) {
        float sq = 0.0f;
        for (int64_t cc = c0; cc <= c1; ++cc) {
          const float v = x[(n * C + cc) * inner + i];
          sq += v * v;
        }
        yp[i] = xp[i] / std::pow(a.bias + scale * sq, a.beta);
      }
    }
  });
}

}  // namespace qsim::kernels
