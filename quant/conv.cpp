#include "quant/conv.h"

#include <algorithm>
#include <cstring>

#include "graph/error.h"

namespace qsim {

using gemm::kNR;

bool Im2colSource::is_direct(const kernels::Spatial3& g) {
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.stride[a] != 1 || g.pad_begin[a] != 0 || g.pad_end[a] != 0 || g.in[a] != g.out[a])
      return false;
  return true;
}

void Im2colSource::pack(int64_t first, int64_t count, int64_t k0, int64_t kc, float* dst) const {
  const kernels::Spatial3& g = *g_;
  if (is_direct(g)) {
    gemm::pack_panels(x_, 1, g.in_plane(), first, count, k0, kc, kNR, 1.0f, dst);
    return;
  }
  for (int64_t c0 = 0; c0 < count; c0 += kNR) {
    pack_panel(first + c0, std::min<int64_t>(kNR, count - c0), k0, kc, dst);
    dst += kc * kNR;
  }
}

void Im2colSource::pack_panel(int64_t first, int64_t count, int64_t k0, int64_t kc, float* dst) const {
  const kernels::Spatial3& g = *g_;
  // Runs of consecutive columns that share an output row (od, oh).
  struct Segment {
    int64_t od, oh, ow, len, col;
  };
  Segment seg[kNR];
  int nseg = 0;
  {
    int64_t p = first;
    int64_t ow = p % g.out[2];
    int64_t oh = (p / g.out[2]) % g.out[1];
    int64_t od = p / (g.out[2] * g.out[1]);
    int64_t col = 0;
    while (col < count) {
      const int64_t len = std::min(count - col, g.out[2] - ow);
      seg[nseg++] = {od, oh, ow, len, col};
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
    float* d = dst + k * kNR;
    const float* xc = x_ + ci * plane;
    for (int s = 0; s < nseg; ++s) {
      const Segment& sg = seg[s];
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
        std::memcpy(out + lo, row + iw0 + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
        std::fill(out + hi, out + sg.len, 0.0f);
      } else {
        for (int64_t t = 0; t < sg.len; ++t) {
          const int64_t iw = iw0 + t * sw;
          out[t] = (iw >= 0 && iw < W) ? row[iw] : 0.0f;
        }
      }
    }
    std::fill(d + count, d + kNR, 0.0f);
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
  depthwise_ = group_ > 1 && cin_g_ == 1 && cout_g_ == 1;
  if (depthwise_) return;

  packed_.assign(static_cast<std::size_t>(group_ * gemm::packed_floats(cout_g_, k_, gemm::kMR)), 0.0f);
  if (weights) {
    pack_weights(weights);
    weights_packed_ = true;
  }
  const int64_t P = g_.out_plane();
  sources_.assign(static_cast<std::size_t>(g_.N * group_), Im2colSource(&g_, cin_g_));
  jobs_.resize(sources_.size());
  for (int64_t n = 0; n < g_.N; ++n)
    for (int64_t gi = 0; gi < group_; ++gi) {
      auto& j = jobs_[static_cast<std::size_t>(n * group_ + gi)];
      j.M = cout_g_;
      j.N = P;
      j.K = k_;
      j.a.packed = packed_.data() + gi * gemm::packed_floats(cout_g_, k_, gemm::kMR);
      j.b.source = &sources_[static_cast<std::size_t>(n * group_ + gi)];
      j.ldc = P;
      j.ep.act = act_;
    }
  tiling_ = gemm::plan_tiling(cout_g_, P, k_, static_cast<int64_t>(jobs_.size()), threads);
  workspace_floats_ = jobs_.empty() ? 0 : gemm::workspace_floats(jobs_[0], tiling_);
}

void ConvKernel::pack_weights(const float* w) {
  const int64_t per_group = gemm::packed_floats(cout_g_, k_, gemm::kMR);
  for (int64_t gi = 0; gi < group_; ++gi)
    gemm::pack_all(w + gi * cout_g_ * k_, k_, 1, cout_g_, k_, gemm::kMR, 1.0f, packed_.data() + gi * per_group);
}

void ConvKernel::run(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                     gemm::Workspace& ws) {
  if (depthwise_) {
    run_depthwise(x, w, bias, y, pool);
    return;
  }
  if (!weights_packed_) pack_weights(w);
  const int64_t in_sample = g_.C * g_.in_plane();
  const int64_t P = g_.out_plane();
  const int64_t out_sample = cout_g_ * group_ * P;
  for (int64_t n = 0; n < g_.N; ++n)
    for (int64_t gi = 0; gi < group_; ++gi) {
      const auto i = static_cast<std::size_t>(n * group_ + gi);
      sources_[i].set_input(x + n * in_sample + gi * cin_g_ * g_.in_plane());
      jobs_[i].c = y + n * out_sample + gi * cout_g_ * P;
      jobs_[i].ep.row_bias = bias ? bias + gi * cout_g_ : nullptr;
    }
  gemm::run(jobs_, tiling_, pool, ws);
}

void ConvKernel::run_depthwise(const float* x, const float* w, const float* bias, float* y,
                               ThreadPool& pool) const {
  const kernels::Spatial3& g = g_;
  const int64_t C = group_;
  const int64_t kvol = g.kernel_volume();
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t tasks = g.N * C;
  pool.parallel_for(tasks, [&](int64_t t, int) {
    const int64_t c = t % C;
    const float* xp = x + t * in_plane;
    float* yp = y + t * out_plane;
    const float* wc = w + c * kvol;
    const float b = bias ? bias[c] : 0.0f;
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* out = yp + (od * OH + oh) * OW;
        std::fill(out, out + OW, b);
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
          if (id < 0 || id >= D) continue;
          for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
            const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
            if (ih < 0 || ih >= H) continue;
            const float* row = xp + (id * H + ih) * W;
            for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
              const float wv = wc[(kd * g.kernel[1] + kh) * g.kernel[2] + kw];
              const int64_t off = kw * g.dilation[2] - g.pad_begin[2];  // iw = ow * sw + off
              const int64_t sw = g.stride[2];
              // Valid ow: 0 <= ow * sw + off < W.
              const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
              const int64_t hi = std::min(OW, W - off <= 0 ? 0 : (W - off + sw - 1) / sw);
              if (sw == 1) {
                const float* in = row + off;
                for (int64_t ow = lo; ow < hi; ++ow) out[ow] += wv * in[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) out[ow] += wv * row[ow * sw + off];
              }
            }
          }
        }
        gemm::apply_activation(act_, out, OW);
      }
  });
}

}  // namespace qsim
