#include "runtime/conv.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <stdexcept>

#include "graph/error.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace qsim {

#if defined(__AVX512F__)
namespace {
using kernels::spread_even;
using kernels::element_at;
}  // namespace
#elif defined(__AVX2__)
namespace {
using kernels::element_at;

// AVX2 form of with_vector_load (conv.h) for the float packing: the 16 lanes of one
// Im2colVector as two halves of 8, zero where no segment reads. vmaskmovps touches
// only its lanes (like AVX-512's masked loads), so a segment's base may lie outside
// the plane; the segments' lanes are disjoint, so their loads combine by OR.
struct Lanes16 {
  __m256 lo, hi;
};
inline __m256i lane_mask8(uint32_t m) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(m & 0xFFu)), bit), bit);
}
// Elements 0, 2, .., 14 of the 16 in a, b (in order).
inline __m256 even_elements(__m256 a, __m256 b) {
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}
template <typename F>
[[gnu::always_inline]] inline void with_vector_load8(const Im2colPlan& pl, const Im2colVector& e, F&& f) {
  switch (e.kind) {
    case Im2colVector::kZero:
      f([](const float*) { return Lanes16{_mm256_setzero_ps(), _mm256_setzero_ps()}; });
      return;
    case Im2colVector::kStride1:
    case Im2colVector::kStride2: {
      // Per segment, the masks of the 8-element loads: stride 1 loads lanes 0-15
      // directly; stride 2 loads elements 0-31, lane j being element 2j.
      const bool two = e.kind == Im2colVector::kStride2;
      __m256i mask[2][4] = {};
      for (int q = 0; q < e.segments; ++q) {
        const uint32_t m = two ? kernels::spread_even(e.mask[q]) : e.mask[q];
        for (int h = 0; h < (two ? 4 : 2); ++h) mask[q][h] = lane_mask8(m >> (8 * h));
      }
      const int segments = e.segments;
      const int64_t b0 = e.base[0], b1 = e.base[1];
      auto segment = [&mask, two](const float* p, int q) {
        if (!two) return Lanes16{_mm256_maskload_ps(p, mask[q][0]), _mm256_maskload_ps(p + 8, mask[q][1])};
        return Lanes16{even_elements(_mm256_maskload_ps(p, mask[q][0]), _mm256_maskload_ps(p + 8, mask[q][1])),
                       even_elements(_mm256_maskload_ps(p + 16, mask[q][2]), _mm256_maskload_ps(p + 24, mask[q][3]))};
      };
      f([segment, segments, b0, b1](const float* x) {
        Lanes16 v = segment(element_at(x, b0), 0);
        if (segments == 2) {
          const Lanes16 w = segment(element_at(x, b1), 1);
          v = Lanes16{_mm256_or_ps(v.lo, w.lo), _mm256_or_ps(v.hi, w.hi)};
        }
        return v;
      });
      return;
    }
    case Im2colVector::kGather:
    default: {
      const int32_t* off = pl.offsets.data() + e.base[0];
      const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off));
      const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + 8));
      const __m256 m0 = _mm256_castsi256_ps(lane_mask8(e.mask[0])), m1 = _mm256_castsi256_ps(lane_mask8(e.mask[0] >> 8u));
      f([=](const float* x) {
        return Lanes16{_mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, i0, m0, 4),
                       _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, i1, m1, 4)};
      });
      return;
    }
  }
}
}  // namespace
#endif

Im2colVector Im2colPlan::describe(int64_t t, int64_t v, std::vector<int32_t>* offsets) const {
  const int64_t kw = t % g.kernel[2], kh = (t / g.kernel[2]) % g.kernel[1], kd = t / (g.kernel[2] * g.kernel[1]);
  const int64_t P = g.out_plane();
  int64_t off[16];
  uint32_t valid = 0;
  for (int j = 0; j < 16; ++j) {
    off[j] = -1;
    const int64_t p = v * 16 + j;
    if (p >= P) continue;
    const int64_t ow = p % g.out[2], oh = (p / g.out[2]) % g.out[1], od = p / (g.out[2] * g.out[1]);
    const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
    const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
    const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
    if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2]) continue;
    off[j] = (id * g.in[1] + ih) * g.in[2] + iw;
    valid |= 1u << j;
  }
  Im2colVector e;
  if (valid == 0) return e;
  // Up to two runs of lanes whose offsets step by 1 (or by 2) from their first lane.
  for (int stride = 1; stride <= 2; ++stride) {
    Im2colVector s;
    s.kind = stride == 1 ? Im2colVector::kStride1 : Im2colVector::kStride2;
    bool ok = true;
    for (int j = 0; j < 16 && ok; ++j) {
      if (!(valid >> j & 1u)) continue;
      bool placed = false;
      for (int q = 0; q < s.segments && !placed; ++q)
        if (off[j] == s.base[q] + stride * j) {
          s.mask[q] = static_cast<uint16_t>(s.mask[q] | (1u << j));
          placed = true;
        }
      if (placed) continue;
      if (s.segments == 2) {
        ok = false;
      } else {
        s.base[s.segments] = static_cast<int32_t>(off[j] - stride * j);
        s.mask[s.segments] = static_cast<uint16_t>(1u << j);
        ++s.segments;
      }
    }
    if (ok) return s;
  }
  e.kind = Im2colVector::kGather;
  e.base[0] = static_cast<int32_t>(offsets->size());
  e.mask[0] = static_cast<uint16_t>(valid);
  for (int j = 0; j < 16; ++j) offsets->push_back(static_cast<int32_t>(off[j]));
  return e;
}

Im2colPlan Im2colPlan::make(const kernels::Spatial3& g) {
  Im2colPlan p;
  p.g = g;
  p.kvol = g.kernel_volume();
  p.vectors = (g.out_plane() + 15) / 16;
  p.direct = true;
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.stride[a] != 1 || g.pad_begin[a] != 0 || g.pad_end[a] != 0 || g.in[a] != g.out[a])
      p.direct = false;
  if (p.direct) return p;
  if (!fits(g)) fail("Conv: input plane of {} elements is too large", g.in_plane());
  p.table.resize(static_cast<std::size_t>(p.kvol * p.vectors));
  for (int64_t t = 0; t < p.kvol; ++t)
    for (int64_t v = 0; v < p.vectors; ++v) p.table[static_cast<std::size_t>(t * p.vectors + v)] = p.describe(t, v, &p.offsets);
  return p;
}

void Im2colSource::pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
  const Im2colPlan& pl = *plan_;
  const int64_t plane = pl.g.in_plane();
  constexpr int64_t ld = gemm::kNR;
  const int nv = static_cast<int>((nc + 15) / 16);
  const uint32_t tail = nc % 16 == 0 ? 0xFFFFu : (1u << (nc % 16)) - 1u;
  if (pl.direct) {  // row k of the matrix is channel k of X: columns [n0, n0 + nc)
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = x_ + (k0 + k) * plane + n0;
      float* d = dst + k * ld;
#if defined(__AVX512F__)
      for (int v = 0; v < nv; ++v) {
        const uint32_t m = v < nv - 1 ? 0xFFFFu : tail;
        _mm512_store_ps(d + 16 * v, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src + 16 * v));
      }
#else
      std::copy(src, src + nc, d);
      std::fill(d + nc, d + 16 * nv, 0.0f);
#endif
    }
    return;
  }
  // Vector by vector and tap by tap: every row of the slice with that tap (one per
  // input channel) makes the same loads from its own channel plane, so the table
  // entry is read once and the loop over channels has no branches.
  // Vectors past the last one holding a column stay unwritten (PanelSource's contract):
  // on a 4x4 map, writing them was two thirds of the packing.
  const int64_t v0 = n0 / 16;
  for (int v = 0; v < nv; ++v) {
    float* dv = dst + 16 * v;
    for (int64_t t = 0; t < std::min(pl.kvol, kc); ++t) {
      // Rows k0 + first, k0 + first + kvol, ... have tap t; the first is channel ci0.
      const int64_t first = (t - k0 % pl.kvol + pl.kvol) % pl.kvol;
      if (first >= kc) continue;
      const int64_t ci0 = (k0 + first) / pl.kvol;
      const Im2colVector& e = pl.table[static_cast<std::size_t>(t * pl.vectors + v0 + v)];
      float* d = dv + first * ld;
      const float* src = x_ + ci0 * plane;
      const int64_t rows = (kc - first + pl.kvol - 1) / pl.kvol;
      const int64_t dstep = pl.kvol * ld;
#if defined(__AVX512F__)
      with_vector_load(pl, e, _mm512_setzero_si512(), [&](auto&& load) {
        for (int64_t i = 0; i < rows; ++i)
          _mm512_store_ps(d + i * dstep, _mm512_castsi512_ps(load(reinterpret_cast<const int32_t*>(src + i * plane))));
      });
#elif defined(__AVX2__)
      with_vector_load8(pl, e, [&](auto&& load) {
        for (int64_t i = 0; i < rows; ++i) {
          const Lanes16 l = load(src + i * plane);
          _mm256_store_ps(d + i * dstep, l.lo);
          _mm256_store_ps(d + i * dstep + 8, l.hi);
        }
      });
#else
      for (int64_t i = 0; i < rows; ++i) {
        const float* x = src + i * plane;
        float* o = d + i * dstep;
        std::fill(o, o + 16, 0.0f);
        if (e.kind == Im2colVector::kGather) {
          const int32_t* off = pl.offsets.data() + e.base[0];
          for (int j = 0; j < 16; ++j)
            if (e.mask[0] >> j & 1u) o[j] = x[off[j]];
        } else if (e.kind != Im2colVector::kZero) {
          const int64_t step = e.kind == Im2colVector::kStride2 ? 2 : 1;
          for (int q = 0; q < e.segments; ++q)
            for (int j = 0; j < 16; ++j)
              if (e.mask[q] >> j & 1u) o[j] = x[e.base[q] + step * j];
        }
      }
#endif
    }
  }
  (void)tail;
}

ConvKernel::ConvKernel(const Shape& x, const Shape& y, const Shape& w_shape, const float* weights,
                       const ConvAttrs& attrs, const Activation& act, int threads)
    : act_(act) {
  g_ = kernels::make_spatial3(x, y, attrs.kernel, attrs.strides, attrs.dilations, attrs.pads);
  for (int a = 0; a < 3; ++a) {
    const std::size_t r = x.size() - 2;
    const std::size_t off = 3 - r;
    if (a >= static_cast<int>(off)) g_.kernel[static_cast<std::size_t>(a)] = w_shape[2 + static_cast<std::size_t>(a) - off];
  }
  group_ = attrs.group;
  const int64_t cin = x[1], cout = y[1];
  if (group_ <= 0 || cin % group_ != 0 || cout % group_ != 0 || w_shape[0] != cout || w_shape[1] * group_ != cin)
    fail("Conv: inconsistent shapes (input {}, weights {}, group {})", shape_str(x), shape_str(w_shape), group_);
  cin_g_ = cin / group_;
  cout_g_ = cout / group_;
  k_ = cin_g_ * g_.kernel_volume();
  weights_ = weights;
  depthwise_ = group_ > 1 && cin_g_ == 1 && cout_g_ == 1;
  if (depthwise_) {
    // Padded plane: the input at offset pad_begin, large enough for every tap.
    for (std::size_t a = 0; a < 3; ++a)
      padded_[a] = std::max(g_.pad_begin[a] + g_.in[a], (g_.out[a] - 1) * g_.stride[a] +
                                                            (g_.kernel[a] - 1) * g_.dilation[a] + 1);
    workspace_floats_ = padded_[0] * padded_[1] * padded_[2];
    return;
  }

  const int64_t P = g_.out_plane();
  plan_ = Im2colPlan::make(g_);
  group_floats_ = gemm::packed_a_floats(cout_g_, k_);
  packed_.resize(static_cast<std::size_t>(group_floats_ * group_));
  if (weights_) pack_weights(weights_);
  sources_.assign(static_cast<std::size_t>(g_.N * group_), Im2colSource(&plan_));
  jobs_.resize(sources_.size());
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    gemm::Job& j = jobs_[i];
    j.M = cout_g_;
    j.N = P;
    j.K = k_;
    j.a_packed = packed_.data() + static_cast<int64_t>(i % static_cast<std::size_t>(group_)) * group_floats_;
    j.b_source = &sources_[i];
    j.ldc = P;
    j.ep.act = act_;
  }
  tiling_ = gemm::plan_tiling(cout_g_, P, k_, static_cast<int64_t>(jobs_.size()), threads);
  workspace_floats_ = jobs_.empty() ? 0 : gemm::workspace_floats(jobs_[0], tiling_);
}

void ConvKernel::pack_weights(const float* w) {
  // W_g is Cout_g x K, row-major.
  for (int64_t gi = 0; gi < group_; ++gi)
    gemm::pack_a(gemm::Matrix{w + gi * cout_g_ * k_, k_, false}, cout_g_, k_, 1.0f, packed_.data() + gi * group_floats_);
}

void ConvKernel::run(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                     gemm::Workspace& ws, const float* residual, const Activation* act) {
  if (depthwise_) {
    if (residual || act) throw std::logic_error("ConvKernel: a residual or another activation on a depthwise convolution");
    run_depthwise(x, w ? w : weights_, bias, y, pool, ws);
    return;
  }
  if (!weights_) pack_weights(w);  // weights given at run time: packed every run
  const int64_t in_sample = g_.C * g_.in_plane();
  const int64_t P = g_.out_plane();
  const int64_t out_sample = cout_g_ * group_ * P;
  for (int64_t n = 0; n < g_.N; ++n)
    for (int64_t gi = 0; gi < group_; ++gi) {
      const auto i = static_cast<std::size_t>(n * group_ + gi);
      sources_[i].set_input(x + n * in_sample + gi * cin_g_ * g_.in_plane());
      const int64_t out_off = n * out_sample + gi * cout_g_ * P;
      jobs_[i].c = y + out_off;
      jobs_[i].ep.row_bias = bias ? bias + gi * cout_g_ : nullptr;
      jobs_[i].ep.residual = residual ? residual + out_off : nullptr;
      jobs_[i].ep.act = act ? *act : act_;
    }
  gemm::run(jobs_, tiling_, pool, ws);
}

namespace {

#if defined(__AVX512F__)
// One 2-D depthwise plane (dilation 1, column stride S of 1 or 2) read in place: 16
// output columns per vector, each tap a masked load of the input row (stride 2: two
// loads and the even lanes), the padding being the lanes a mask leaves zero. Bias,
// then min(hi, max(lo, x)) (Relu, Clip or none), in registers.
template <int KW, int S>
void depthwise_plane_direct(const kernels::Spatial3& g, const float* __restrict x, float* __restrict y,
                            const float* w, float bias, float lo, float hi) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t KH = g.kernel[1], SH = g.stride[1], PH = g.pad_begin[1], PW = g.pad_begin[2];
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
    const int64_t lanes = std::min<int64_t>(16, OW - ow0);
    // Per kernel column: the input column of lane 0 and the lanes inside [0, W).
    int64_t off[KW];
    __mmask16 m0[KW], m1[KW];
#pragma GCC unroll 8
    for (int kw = 0; kw < KW; ++kw) {
      off[kw] = ow0 * S - PW + kw;
      uint32_t valid = 0;
      for (int64_t j = 0; j < lanes; ++j) {
        const int64_t iw = off[kw] + S * j;
        if (iw >= 0 && iw < W) valid |= 1u << j;
      }
      const uint32_t spread = S == 1 ? valid : spread_even(valid);
      m0[kw] = static_cast<__mmask16>(spread);
      m1[kw] = static_cast<__mmask16>(spread >> 16);
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      __m512 acc = _mm512_set1_ps(bias);
      const int64_t kh0 = std::max<int64_t>(0, PH - oh * SH), kh1 = std::min(KH, H + PH - oh * SH);
      for (int64_t kh = kh0; kh < kh1; ++kh) {
        const float* row = x + (oh * SH - PH + kh) * W;
        const float* wk = w + kh * KW;
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw) {
          __m512 v;
          if constexpr (S == 1) {
            v = _mm512_maskz_loadu_ps(m0[kw], element_at(row, off[kw]));
          } else {
            v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0[kw], element_at(row, off[kw])), even,
                                       _mm512_maskz_loadu_ps(m1[kw], element_at(row, off[kw] + 16)));
          }
          acc = _mm512_fmadd_ps(_mm512_set1_ps(wk[kw]), v, acc);
        }
      }
      acc = _mm512_maskz_min_ps(0xFFFF, vhi, _mm512_maskz_max_ps(0xFFFF, vlo, acc));
      _mm512_mask_storeu_ps(y + oh * OW + ow0, static_cast<__mmask16>((1u << lanes) - 1u), acc);
    }
  }
}
#endif

// One 2-D depthwise plane with a K x K kernel and column stride S known at compile
// time: the taps unroll and the loop over output columns vectorises.
template <int K, int S>
void depthwise_plane(const float* __restrict pad, int64_t PW, float* __restrict y, int64_t OH, int64_t OW,
                     const float* __restrict w, float bias, int64_t sh, int64_t dh, int64_t dw, const Activation& act) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* __restrict r[K];
    for (int kh = 0; kh < K; ++kh) r[kh] = pad + (oh * sh + kh * dh) * PW;
    float* __restrict out = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      float acc = bias;
#pragma GCC unroll 5
      for (int kh = 0; kh < K; ++kh)
#pragma GCC unroll 5
        for (int kw = 0; kw < K; ++kw) acc += w[kh * K + kw] * r[kh][ow * S + kw * dw];
      out[ow] = acc;
    }
    gemm::apply_activation(act, out, OW);
  }
}

}  // namespace

void ConvKernel::run_depthwise(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                               gemm::Workspace& ws) const {
  // Each plane is copied into a zero-padded scratch plane first, so the tap loops
  // below need no bounds checks and vectorise along the output row.
  const kernels::Spatial3& g = g_;
  const int64_t C = group_;
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t PD = padded_[0], PH = padded_[1], PW = padded_[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t kvol = g.kernel_volume();
#if defined(__AVX512F__)
  // Common 2-D shapes read the input in place.
  const int64_t sw0 = g.stride[2];
  const bool direct = D == 1 && g.kernel[0] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
                      (sw0 == 1 || sw0 == 2) && (g.kernel[2] == 3 || g.kernel[2] == 5) &&
                      (act_.kind == ActKind::kNone || act_.kind == ActKind::kRelu || act_.kind == ActKind::kClip);
  if (direct) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const float lo = act_.kind == ActKind::kRelu ? 0.0f : act_.kind == ActKind::kClip ? act_.alpha : -kInf;
    const float hi = act_.kind == ActKind::kClip ? act_.beta : kInf;
    auto plane = g.kernel[2] == 3 ? (sw0 == 1 ? &depthwise_plane_direct<3, 1> : &depthwise_plane_direct<3, 2>)
                                  : (sw0 == 1 ? &depthwise_plane_direct<5, 1> : &depthwise_plane_direct<5, 2>);
    // Several planes per task: a late 7x7 plane is a few hundred MACs.
    pool.parallel_range(g.N * C, out_plane * kvol, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t c = t % C;
        const float b = bias ? bias[c] : 0.0f;
        plane(g, x + t * in_plane, y + t * out_plane, w + c * kvol, b, lo, hi);
      }
    });
    return;
  }
#endif
  pool.parallel_for(g.N * C, [&](int64_t t, int worker) {
    const int64_t c = t % C;
    const float* xp = x + t * in_plane;
    float* yp = y + t * out_plane;
    const float* wc = w + c * kvol;
    const float b = bias ? bias[c] : 0.0f;
    float* pad = ws.get(worker);
    std::fill(pad, pad + PD * PH * PW, 0.0f);
    for (int64_t d = 0; d < D; ++d)
      for (int64_t h = 0; h < H; ++h)
        std::memcpy(pad + ((d + g.pad_begin[0]) * PH + h + g.pad_begin[1]) * PW + g.pad_begin[2], xp + (d * H + h) * W,
                    static_cast<std::size_t>(W) * sizeof(float));
    const int64_t sw = g.stride[2];
    if (D == 1 && g.kernel[0] == 1 && g.kernel[1] == g.kernel[2] && (sw == 1 || sw == 2) &&
        (g.kernel[1] == 3 || g.kernel[1] == 5)) {
      auto plane = g.kernel[1] == 3 ? (sw == 1 ? &depthwise_plane<3, 1> : &depthwise_plane<3, 2>)
                                    : (sw == 1 ? &depthwise_plane<5, 1> : &depthwise_plane<5, 2>);
      plane(pad, PW, yp, OH, OW, wc, b, g.stride[1], g.dilation[1], g.dilation[2], act_);
      return;
    }
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* out = yp + (od * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] = b;
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
          for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
            const float* row =
                pad + ((od * g.stride[0] + kd * g.dilation[0]) * PH + oh * g.stride[1] + kh * g.dilation[1]) * PW;
            const float* wk = wc + (kd * g.kernel[1] + kh) * g.kernel[2];
            for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
              const float wv = wk[kw];
              const float* in = row + kw * g.dilation[2];
              if (sw == 1) {
                for (int64_t ow = 0; ow < OW; ++ow) out[ow] += wv * in[ow];
              } else if (sw == 2) {
                for (int64_t ow = 0; ow < OW; ++ow) out[ow] += wv * in[2 * ow];
              } else {
                for (int64_t ow = 0; ow < OW; ++ow) out[ow] += wv * in[ow * sw];
              }
            }
          }
        gemm::apply_activation(act_, out, OW);
      }
  });
}

}  // namespace qsim
