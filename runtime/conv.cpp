#include "runtime/conv.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "graph/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qsim {

bool Im2colSource::is_direct(const kernels::Spatial3& g) {
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.stride[a] != 1 || g.pad_begin[a] != 0 || g.pad_end[a] != 0 || g.in[a] != g.out[a])
      return false;
  return true;
}

void Im2colSource::fill(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const {
  if (offsets_) {
    gather(k0, kc, n0, nc, dst, ld);
    return;
  }
  for (int64_t c = 0; c < nc; c += gemm::kMaxCols)  // copy_runs finds at most kMaxCols runs
    copy_runs(k0, kc, n0 + c, std::min(gemm::kMaxCols, nc - c), dst + c, ld);
}

std::vector<int32_t> Im2colSource::gather_table(const kernels::Spatial3& g, int64_t* stride) {
  // Worth it when output rows are short (copy runs of a few floats) and the table small.
  const int64_t P = g.out_plane(), kvol = g.kernel_volume();
  *stride = (P + 15) / 16 * 16;
  if (g.out[2] >= 32 || kvol * *stride > (1 << 20) || g.in_plane() >= (int64_t{1} << 31)) return {};
  std::vector<int32_t> t(static_cast<std::size_t>(kvol * *stride), -1);
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
        int32_t* row = t.data() + ((kd * g.kernel[1] + kh) * g.kernel[2] + kw) * *stride;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
              const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
              if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2]) continue;
              row[(od * g.out[1] + oh) * g.out[2] + ow] = static_cast<int32_t>((id * g.in[1] + ih) * g.in[2] + iw);
            }
      }
  return t;
}

void Im2colSource::gather(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const {
  const kernels::Spatial3& g = *g_;
  const int64_t kvol = g.kernel_volume(), plane = g.in_plane();
  int64_t tap = k0 % kvol, ci = k0 / kvol;
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = x_ + ci * plane;
    const int32_t* off = offsets_ + tap * offsets_stride_ + n0;
    float* d = dst + k * ld;
#if defined(__AVX512F__)
    // Lanes in the padding (-1) load nothing and stay zero; lanes past nc are not stored.
    for (int64_t t = 0; t < nc; t += 16) {
      const int64_t n = std::min<int64_t>(nc - t, 16);
      const __mmask16 in_range = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
      const __m512i idx = _mm512_maskz_loadu_epi32(in_range, off + t);
      const __mmask16 valid = _mm512_mask_cmpge_epi32_mask(in_range, idx, _mm512_setzero_si512());
      _mm512_mask_storeu_ps(d + t, in_range, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, idx, src, 4));
    }
#else
    for (int64_t t = 0; t < nc; ++t) d[t] = off[t] >= 0 ? src[off[t]] : 0.0f;
#endif
    if (++tap == kvol) {
      tap = 0;
      ++ci;
    }
  }
}

void Im2colSource::copy_runs(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const {
  const kernels::Spatial3& g = *g_;
  // Runs of consecutive columns that share an output row (od, oh), at most
  // kMaxCols of them (a task's columns), found once for all kc rows.
  struct Segment {
    int64_t od, oh, ow, len, col;
  };
  std::array<Segment, gemm::kMaxCols> seg;
  int nseg = 0;
  {
    int64_t ow = n0 % g.out[2];
    int64_t oh = (n0 / g.out[2]) % g.out[1];
    int64_t od = n0 / (g.out[2] * g.out[1]);
    int64_t col = 0;
    while (col < nc) {
      const int64_t len = std::min(nc - col, g.out[2] - ow);
      seg[static_cast<std::size_t>(nseg++)] = {od, oh, ow, len, col};
      col += len;
      ow = 0;
      if (++oh == g.out[1]) {
        oh = 0;
        ++od;
      }
    }
  }
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t plane = g.in_plane();
  // Decompose k0 into (channel, kd, kh, kw), then step it.
  int64_t kw = k0 % g.kernel[2];
  int64_t kh = (k0 / g.kernel[2]) % g.kernel[1];
  int64_t kd = (k0 / (g.kernel[2] * g.kernel[1])) % g.kernel[0];
  int64_t ci = k0 / g.kernel_volume();
  for (int64_t k = 0; k < kc; ++k) {
    float* d = dst + k * ld;
    const float* xc = x_ + ci * plane;
    for (int s = 0; s < nseg; ++s) {
      const Segment& sg = seg[static_cast<std::size_t>(s)];
      float* out = d + sg.col;
      const int64_t id = sg.od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
      const int64_t ih = sg.oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
      if (id < 0 || id >= D || ih < 0 || ih >= H) {
        std::fill(out, out + sg.len, 0.0f);
        continue;
      }
      const float* row = xc + (id * H + ih) * W;
      const int64_t iw0 = sg.ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
      const int64_t sw = g.stride[2];
      if (sw == 1) {
        // Valid t: 0 <= iw0 + t < W.
        const int64_t lo = std::clamp<int64_t>(-iw0, 0, sg.len);
        const int64_t hi = std::clamp<int64_t>(W - iw0, lo, sg.len);
        std::fill(out, out + lo, 0.0f);
        std::copy(row + iw0 + lo, row + iw0 + hi, out + lo);
        std::fill(out + hi, out + sg.len, 0.0f);
      } else {
        // Valid t: 0 <= iw0 + t * sw < W; the loop between them has no checks.
        const int64_t lo = std::clamp<int64_t>(iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw, 0, sg.len);
        const int64_t hi = std::clamp<int64_t>(W - iw0 <= 0 ? 0 : (W - iw0 + sw - 1) / sw, lo, sg.len);
        std::fill(out, out + lo, 0.0f);
        const float* src = row + iw0;
        if (sw == 2) {
          for (int64_t t = lo; t < hi; ++t) out[t] = src[2 * t];
        } else {
          for (int64_t t = lo; t < hi; ++t) out[t] = src[t * sw];
        }
        std::fill(out + hi, out + sg.len, 0.0f);
      }
    }
    if (++kw == g.kernel[2]) {
      kw = 0;
      if (++kh == g.kernel[1]) {
        kh = 0;
        if (++kd == g.kernel[0]) {
          kd = 0;
          ++ci;
        }
      }
    }
  }
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
  const bool direct = Im2colSource::is_direct(g_);
  if (!direct) gather_ = Im2colSource::gather_table(g_, &gather_stride_);
  sources_.assign(static_cast<std::size_t>(g_.N * group_),
                  Im2colSource(&g_, gather_.empty() ? nullptr : gather_.data(), gather_stride_));
  jobs_.resize(sources_.size());
  for (auto& j : jobs_) {
    j.M = cout_g_;
    j.N = P;
    j.K = k_;
    j.a.ld = k_;  // W_g: Cout_g x K, row-major
    j.b.ld = P;   // direct: X_g is the K x P matrix
    j.ldc = P;
    j.ep.act = act_;
  }
  if (!direct)
    for (std::size_t i = 0; i < jobs_.size(); ++i) jobs_[i].b_source = &sources_[i];
  tiling_ = gemm::plan_tiling(cout_g_, P, k_, static_cast<int64_t>(jobs_.size()), threads, !direct);
  workspace_floats_ = jobs_.empty() ? 0 : gemm::workspace_floats(jobs_[0], tiling_);
}

void ConvKernel::run(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                     gemm::Workspace& ws) {
  if (!w) w = weights_;
  if (depthwise_) {
    run_depthwise(x, w, bias, y, pool, ws);
    return;
  }
  const int64_t in_sample = g_.C * g_.in_plane();
  const int64_t P = g_.out_plane();
  const int64_t out_sample = cout_g_ * group_ * P;
  for (int64_t n = 0; n < g_.N; ++n)
    for (int64_t gi = 0; gi < group_; ++gi) {
      const auto i = static_cast<std::size_t>(n * group_ + gi);
      const float* xg = x + n * in_sample + gi * cin_g_ * g_.in_plane();
      sources_[i].set_input(xg);
      jobs_[i].a.data = w + gi * cout_g_ * k_;
      jobs_[i].b.data = xg;
      jobs_[i].c = y + n * out_sample + gi * cout_g_ * P;
      jobs_[i].ep.row_bias = bias ? bias + gi * cout_g_ : nullptr;
    }
  gemm::run(jobs_, tiling_, pool, ws);
}

namespace {

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
