#include "quant/int_exec.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/int_gemm.h"
#include "quant/quant_ops.h"
#include "runtime/conv.h"
#include "runtime/kernels.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qsim {

class IntKernel {
 public:
  virtual ~IntKernel() = default;
  // Per-worker scratch bytes run() needs (the executor sizes one workspace for all).
  virtual int64_t workspace_bytes() const { return 0; }
  virtual void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer> ws) = 0;
};

namespace {

using qops::IntCodec;
using IntBuffer = std::vector<int32_t, AlignedAllocator<int32_t>>;

const int32_t* in32(std::span<void* const> p, ValueId v) { return static_cast<const int32_t*>(p[static_cast<std::size_t>(v)]); }
int32_t* out32(std::span<void* const> p, ValueId v) { return static_cast<int32_t*>(p[static_cast<std::size_t>(v)]); }

// Per-channel epilogue of a compute layer: acc (wrapping int32, bias not yet added)
// -> stored q, for `n` accumulators of channel c written with stride `stride`.
void finish_run(const ComputeQ& q, const int32_t* acc, int32_t* out, int64_t n, int64_t stride, int32_t bias,
                int64_t c) {
  if (!q.float_epilogue && stride == 1) {
    qops::requantize_run<IntCodec, int32_t>(acc, out, n, bias, q.mult[static_cast<std::size_t>(c)], q.out.zero_point,
                                            q.out_range, q.acc_bits);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const auto a = static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(bias));
    if (q.float_output) {  // a graph output: the accumulator dequantized into a float32 buffer
      reinterpret_cast<float*>(out)[i * stride] = q.real(intarith::acc_to_int32(a, q.acc_bits), c);
    } else {
      out[i * stride] = q.finish(a, c);
    }
  }
}

// ------------------------------------------------------------------ GEMM-based layers

// What a compute layer's GEMM needs: rows = output channels (per group), columns =
// output pixels (Conv) or rows of A (Gemm/MatMul), K.
class GemmLayer {
 public:
  GemmLayer(const ComputeQ& q, int64_t groups, int64_t rows_per_group, int64_t K, int64_t row_stride,
            int64_t k_stride, int workers)
      : q_(q), groups_(groups), rows_(rows_per_group), K_(K) {
    vnni_ = q.in.bits <= 8 && q.wbits <= 8;
    offset_ = q.in.is_signed ? 128 : 0;
    zprime_ = q.in.zero_point + offset_;
    const int64_t K4 = intgemm::k_groups(K);
    bias_.resize(static_cast<std::size_t>(groups * rows_per_group));
    for (int64_t gi = 0; gi < groups; ++gi) {
      const int32_t* w = q.qweight.data() + gi * rows_per_group * row_stride;
      if (vnni_) {
        a_.push_back(intgemm::pack_a(w, rows_per_group, K, row_stride, k_stride));
      } else {
        // Plain layout [row][k] for the int32 loop.
        IntBuffer plain(static_cast<std::size_t>(rows_per_group * K));
        for (int64_t r = 0; r < rows_per_group; ++r)
          for (int64_t k = 0; k < K; ++k) plain[static_cast<std::size_t>(r * K + k)] = w[r * row_stride + k * k_stride];
        plain_.push_back(std::move(plain));
      }
      for (int64_t r = 0; r < rows_per_group; ++r) {
        const auto o = static_cast<std::size_t>(gi * rows_per_group + r);
        // VNNI sums w * (q + offset); subtract z' * sum w so the result is sum w (q - z).
        const int64_t corr = vnni_ ? static_cast<int64_t>(zprime_) * a_.back().row_sum[static_cast<std::size_t>(r)] : 0;
        bias_[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(q.bias[o]) - corr));
      }
    }
    panel_bytes_ = vnni_ ? intgemm::b_panel_bytes(K) : K * intgemm::kNR * 4;
    (void)K4;
    scratch_.resize(static_cast<std::size_t>(workers));
    for (auto& s : scratch_) {
      s.panel.assign(static_cast<std::size_t>(panel_bytes_ + 64), 0);
      s.acc.assign(static_cast<std::size_t>(intgemm::kMR * intgemm::kNR), 0);
    }
  }

  bool vnni() const { return vnni_; }
  int32_t offset() const { return offset_; }
  int32_t zprime() const { return zprime_; }
  int32_t zero_point() const { return q_.in.zero_point; }

  struct Scratch {
    std::vector<uint8_t, AlignedAllocator<uint8_t>> panel;
    IntBuffer acc;
  };
  Scratch& scratch(int worker) { return scratch_[static_cast<std::size_t>(worker)]; }

  // Panels of kMR weight rows per group.
  int64_t panels() const { return (rows_ + intgemm::kMR - 1) / intgemm::kMR; }

  // Multiplies group gi's weights by the packed panel (cols valid columns) and writes
  // each row's results through `out(o) -> (pointer, stride)`.
  template <typename Out>
  void multiply(int64_t gi, Scratch& s, int64_t cols, Out&& out) const {
    multiply_panels(gi, s.panel.data(), s.acc.data(), cols, 0, panels(), out);
  }
  // The same for weight panels [p0, p1), with a panel packed elsewhere (read only, so
  // workers can share it) and this worker's accumulators.
  template <typename Out>
  void multiply_panels(int64_t gi, const uint8_t* panel, int32_t* acc, int64_t cols, int64_t p0, int64_t p1,
                       Out&& out) const {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * intgemm::kMR, nr = std::min<int64_t>(intgemm::kMR, rows_ - r0);
      if (vnni_) {
        const intgemm::PackedA& a = a_[static_cast<std::size_t>(gi)];
        intgemm::kernel(a.panel(p), panel, a.K4, acc);
      } else {
        plain_kernel(plain_[static_cast<std::size_t>(gi)].data() + r0 * K_, nr, reinterpret_cast<const int32_t*>(panel),
                     acc);
      }
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t o = gi * rows_ + r0 + r;
        const auto [ptr, stride] = out(o);
        finish_run(q_, acc + r * intgemm::kNR, ptr, cols, stride, bias_[static_cast<std::size_t>(o)], o);
      }
    }
  }

 private:
  // acc[r][j] = sum_k w[r][k] * b[k][j] in wrapping int32 (widths above 8 bits).
  void plain_kernel(const int32_t* w, int64_t nr, const int32_t* b, int32_t* acc) const {
    for (int64_t r = 0; r < nr; ++r) {
      uint32_t row[intgemm::kNR] = {};
      for (int64_t k = 0; k < K_; ++k) {
        const auto wv = static_cast<uint32_t>(w[r * K_ + k]);
        const auto* bk = reinterpret_cast<const uint32_t*>(b + k * intgemm::kNR);
        for (int j = 0; j < intgemm::kNR; ++j) row[j] += wv * bk[j];
      }
      for (int j = 0; j < intgemm::kNR; ++j) acc[r * intgemm::kNR + j] = static_cast<int32_t>(row[j]);
    }
  }

  const ComputeQ& q_;
  [[maybe_unused]] int64_t groups_;  // unused by the kernels (clang -Wunused-private-field)
  int64_t rows_, K_;
  bool vnni_ = false;
  int32_t offset_ = 0, zprime_ = 0;
  std::vector<intgemm::PackedA> a_;
  std::vector<IntBuffer> plain_;
  std::vector<int32_t> bias_;  // per channel: bias (- z' * row sum)
  int64_t panel_bytes_ = 0;
  std::vector<Scratch> scratch_;
};

// Writes panel element (k, j): a u8 (q + offset) in VNNI layout, or an int32 (q - z).
struct PanelWriter {
  uint8_t* bytes;
  int32_t* ints;
  bool vnni;
  int32_t offset, zp;
  void put(int64_t k, int64_t j, int32_t q) const {
    if (vnni) {
      bytes[((k >> 2) * intgemm::kNR + j) * 4 + (k & 3)] = static_cast<uint8_t>(q + offset);
    } else {
      ints[k * intgemm::kNR + j] = q - zp;
    }
  }
  void pad(int64_t k, int64_t j) const { put(k, j, zp); }
};

#if defined(__AVX512F__)
// The 16 lanes of im2col row `tap`, output vector `vec`, from the int32 plane src.
[[gnu::always_inline]] inline __m512i im2col_load(const Im2colPlan& pl, int64_t tap, int64_t vec, const int32_t* src,
                                                 __m512i zp) {
  return with_vector_load(pl, pl.table[static_cast<std::size_t>(tap * pl.vectors + vec)], zp,
                          [src](auto&& load) { return load(src); });
}
#endif

// The im2col matrix of one (sample, group) of a quantized convolution as VNNI B panels
// (int_gemm.h): the stored q plus `offset` as a byte (u8), four consecutive k per
// column; taps in the padding read the zero point, so they add w * (z - z) = 0. The
// vector loads are the float im2col's (Im2colPlan, runtime/conv.h) on int32 storage.
//
// K runs tap-major (k = tap * C + c, `tap_major`) when a group's C channels are a
// multiple of 4: the four k of a VNNI group are then four channels at one tap, which
// share one load pattern, so each group looks the pattern up once instead of four
// times. (The float im2col keeps (c, tap): its K slices are not groups of four.)
// Otherwise K runs channel-major, k = c * kvol + tap, as the weights are stored.
class IntIm2colSource final : public intgemm::BytePanelSource {
 public:
  IntIm2colSource() = default;
  IntIm2colSource(const Im2colPlan* plan, int64_t channels, int64_t K, int32_t zero_point, int32_t offset)
      : plan_(plan), channels_(channels), K_(K), zp_(zero_point), offset_(offset),
        tap_major_(tap_major(*plan, channels)) {}
  void set_input(const int32_t* x) { x_ = x; }

  // Whether K runs tap-major for this geometry and channel count (the weights must be
  // packed in the same order).
  static bool tap_major(const Im2colPlan& plan, int64_t channels) { return plan.kvol > 1 && channels % 4 == 0; }

  void pack(int64_t g0, int64_t gc, int64_t n0, int64_t nc, uint8_t* dst) const override {
    const Im2colPlan& pl = *plan_;
    const int nv = static_cast<int>((nc + 15) / 16);
    constexpr int64_t ld = intgemm::kNR * 4;  // bytes per K group
    for (int v = nv; v < 3; ++v)
      for (int64_t g = 0; g < gc; ++g) std::fill(dst + 64 * v + g * ld, dst + 64 * v + g * ld + 64, uint8_t{0});
#if defined(__AVX512F__)
    if (tap_major_ || pl.kvol == 1) return pack_by_group(g0, gc, n0, nc, dst);
#endif
    const int64_t plane = pl.g.in_plane(), v0 = n0 / 16;
    for (int v = 0; v < nv; ++v) {
      uint8_t* dv = dst + 64 * v;
      const uint32_t lanes = nc - 16 * v >= 16 ? 0xFFFFu : (1u << (nc - 16 * v)) - 1u;
      int64_t k = 4 * g0;
#if defined(__AVX512F__)
      int64_t ci = k / pl.kvol, tap = k % pl.kvol;
      const __m512i zp = _mm512_set1_epi32(zp_), off = _mm512_set1_epi32(offset_);
      for (int64_t g = 0; g < gc; ++g) {
        __m512i word = _mm512_setzero_si512();
        for (int u = 0; u < 4; ++u, ++k) {
          if (k < K_) {
            const __m512i val = pl.direct ? _mm512_mask_loadu_epi32(zp, static_cast<__mmask16>(lanes),
                                                                    x_ + ci * plane + n0 + 16 * v)
                                          : im2col_load(pl, tap, v0 + v, x_ + ci * plane, zp);
            word = _mm512_or_si512(word, _mm512_maskz_sllv_epi32(0xFFFF, _mm512_add_epi32(val, off), _mm512_set1_epi32(8 * u)));
          }
          if (++tap == pl.kvol) {
            tap = 0;
            ++ci;
          }
        }
        _mm512_store_si512(dv + g * ld, word);
      }
#else
      for (int64_t g = 0; g < gc; ++g)
        for (int u = 0; u < 4; ++u, ++k) {
          // k -> (channel, tap) in this source's K order.
          const int64_t ci = tap_major_ ? k % channels_ : k / pl.kvol, tap = tap_major_ ? k / channels_ : k % pl.kvol;
          for (int j = 0; j < 16; ++j) {
            int32_t q = zp_;
            if (k < K_ && (lanes >> j & 1u)) {
              const int32_t* src = x_ + ci * plane;
              if (pl.direct) {
                q = src[n0 + 16 * v + j];
              } else {
                const Im2colVector& e = pl.table[static_cast<std::size_t>(tap * pl.vectors + v0 + v)];
                if (e.kind == Im2colVector::kGather) {
                  if (e.mask[0] >> j & 1u) q = src[pl.offsets[static_cast<std::size_t>(e.base[0] + j)]];
                } else if (e.kind != Im2colVector::kZero) {
                  const int64_t step = e.kind == Im2colVector::kStride2 ? 2 : 1;
                  for (int sg = 0; sg < e.segments; ++sg)
                    if (e.mask[sg] >> j & 1u) q = src[e.base[sg] + step * j];
                }
              }
            }
            dv[g * ld + j * 4 + u] = k < K_ ? static_cast<uint8_t>(q + offset_) : uint8_t{0};
          }
        }
#endif
    }
  }

 private:
#if defined(__AVX512F__)
  // K groups whose four k share one tap (tap-major K, or a 1x1 kernel): the group's
  // load pattern is decoded once (masks spread, the table read) and applied to its
  // four channel planes.
  void pack_by_group(int64_t g0, int64_t gc, int64_t n0, int64_t nc, uint8_t* dst) const {
    const Im2colPlan& pl = *plan_;
    const int64_t plane = pl.g.in_plane(), v0 = n0 / 16;
    const int nv = static_cast<int>((nc + 15) / 16);
    constexpr int64_t ld = intgemm::kNR * 4;
    const __m512i zp = _mm512_set1_epi32(zp_), off = _mm512_set1_epi32(offset_);
    // The four bytes (q + offset, in [0, 255]) of the lanes `load4(u)` gives for
    // channels u = 0..3; k beyond K gives zero bytes.
    const auto word_of = [&](int uc, auto&& load4) {
      __m512i word = _mm512_add_epi32(load4(0), off);
      for (int u = 1; u < uc; ++u)
        word = _mm512_or_si512(word, qops::v512::slli32(_mm512_add_epi32(load4(u), off), static_cast<unsigned>(8 * u)));
      return word;
    };
    for (int64_t g = 0; g < gc; ++g) {
      const int64_t k = 4 * (g0 + g);
      const int uc = static_cast<int>(std::min<int64_t>(4, K_ - k));
      const int64_t tap = tap_major_ ? k / channels_ : 0, c0 = tap_major_ ? k % channels_ : k;
      const int32_t* src = x_ + c0 * plane;
      for (int v = 0; v < nv; ++v) {
        uint8_t* d = dst + 64 * v + g * ld;
        if (pl.direct) {
          const auto lanes = static_cast<__mmask16>(nc - 16 * v >= 16 ? 0xFFFFu : (1u << (nc - 16 * v)) - 1u);
          const int32_t* p = src + n0 + 16 * v;
          _mm512_store_si512(d, word_of(uc, [&](int u) { return _mm512_mask_loadu_epi32(zp, lanes, p + u * plane); }));
          continue;
        }
        const Im2colVector& e = pl.table[static_cast<std::size_t>(tap * pl.vectors + v0 + v)];
        const __m512i word = with_vector_load(pl, e, zp, [&](auto&& load) {
          return word_of(uc, [&](int u) { return load(src + u * plane); });
        });
        _mm512_store_si512(d, word);
      }
    }
  }
#endif
  const Im2colPlan* plan_ = nullptr;
  int64_t channels_ = 0, K_ = 0;
  int32_t zp_ = 0, offset_ = 0;
  bool tap_major_ = false;
  const int32_t* x_ = nullptr;
};

// Hands a row's raw accumulators to finish_run (a float epilogue, or multipliers the
// vector requantization does not take).
class ConvRowFinisher final : public intgemm::RowFinisher {
 public:
  ConvRowFinisher(const ComputeQ& q, const int32_t* bias, int64_t first_channel)
      : q_(q), bias_(bias), first_(first_channel) {}
  void finish(int64_t row, int32_t* acc, int64_t n) const override {
    finish_run(q_, acc, acc, n, 1, bias_[row], first_ + row);
  }

 private:
  const ComputeQ& q_;
  const int32_t* bias_;
  int64_t first_;
};

class ConvK final : public IntKernel {
 public:
  ConvK(const QuantizedModel& m, NodeId id, int workers) : q_(m.compute(id)) {
    const LayerGraph& g = m.graph();
    const Node& n = g.node(id);
    x_ = n.inputs[0];
    y_ = n.outputs[0];
    const auto& a = std::get<ConvAttrs>(n.attrs);
    const Shape& xs = g.value(x_).shape;
    const Shape& ys = g.value(y_).shape;
    g_ = kernels::make_spatial3(xs, ys, a.kernel, a.strides, a.dilations, a.pads);
    group_ = a.group;
    cin_g_ = xs[1] / group_;
    cout_g_ = ys[1] / group_;
    kvol_ = g_.kernel_volume();
    K_ = cin_g_ * kvol_;
    depthwise_ = cin_g_ == 1 && cout_g_ == 1 && group_ > 1;
    if (depthwise_) {
      rows_.resize(static_cast<std::size_t>(workers));
      for (auto& r : rows_) r.assign(static_cast<std::size_t>((g_.out_plane() + 15) / 16 * 16), 0);
#if defined(__AVX512F__)
      // The vector path reads each tap's 16-pixel vectors through the im2col load table.
      if (Im2colPlan::fits(g_)) {
        plan_ = Im2colPlan::make(g_);
        vector_dw_ = !plan_.direct;
      }
#endif
      return;
    }
    if (q_.in.bits <= 8 && q_.wbits <= 8) {
      // The packed GEMM: weights packed once, im2col fused into B packing, the
      // requantization in registers.
      packed_ = true;
      const int32_t offset = q_.in.is_signed ? 128 : 0, zprime = q_.in.zero_point + offset;
      plan_ = Im2colPlan::make(g_);
      bias_.resize(static_cast<std::size_t>(group_ * cout_g_));
      const bool tap_major = IntIm2colSource::tap_major(plan_, cin_g_);
      std::vector<int32_t> reordered;
      for (int64_t gi = 0; gi < group_; ++gi) {
        const int32_t* w = q_.qweight.data() + gi * cout_g_ * K_;
        if (tap_major) {  // (c, tap) -> (tap, c), the order of IntIm2colSource's K
          reordered.resize(static_cast<std::size_t>(cout_g_ * K_));
          for (int64_t r = 0; r < cout_g_; ++r)
            for (int64_t c = 0; c < cin_g_; ++c)
              for (int64_t t = 0; t < kvol_; ++t)
                reordered[static_cast<std::size_t>(r * K_ + t * cin_g_ + c)] = w[r * K_ + c * kvol_ + t];
          w = reordered.data();
        }
        weights_.push_back(intgemm::pack_weights(w, cout_g_, K_, K_, 1));
        for (int64_t r = 0; r < cout_g_; ++r) {
          // VNNI sums w * (q + offset); subtract z' * sum w so the result is sum w (q - z).
          const auto o = static_cast<std::size_t>(gi * cout_g_ + r);
          const int64_t corr = static_cast<int64_t>(zprime) * weights_.back().row_sum[static_cast<std::size_t>(r)];
          bias_[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(q_.bias[o]) - corr));
        }
      }
      for (int64_t gi = 0; gi < group_; ++gi) finishers_.emplace_back(q_, bias_.data() + gi * cout_g_, gi * cout_g_);
      sources_.assign(static_cast<std::size_t>(g_.N * group_), IntIm2colSource(&plan_, cin_g_, K_, q_.in.zero_point, offset));
      jobs_.resize(sources_.size());
      const int64_t P = g_.out_plane();
      for (std::size_t i = 0; i < jobs_.size(); ++i) {
        const auto gi = static_cast<int64_t>(i) % group_;
        intgemm::Job& j = jobs_[i];
        j.M = cout_g_;
        j.N = P;
        j.K = K_;
        j.a = &weights_[static_cast<std::size_t>(gi)];
        j.b = &sources_[i];
        j.ldc = P;
        j.requant = intgemm::RowRequant{bias_.data() + gi * cout_g_, q_.mult.data() + gi * cout_g_, q_.out.zero_point,
                                        q_.out_range, q_.acc_bits};
        const bool in_regs = !q_.float_epilogue && !q_.float_output && intgemm::vector_requant(j.requant, cout_g_);
        j.finisher = in_regs ? nullptr : &finishers_[static_cast<std::size_t>(gi)];
      }
      tiling_ = gemm::plan_tiling(cout_g_, P, K_, static_cast<int64_t>(jobs_.size()), workers);
      return;
    }
    gemm_ = std::make_unique<GemmLayer>(q_, group_, cout_g_, K_, K_, 1, workers);
    // Tap table: k -> (input channel within the group, kd, kh, kw).
    for (int64_t c = 0; c < cin_g_; ++c)
      for (int64_t kd = 0; kd < g_.kernel[0]; ++kd)
        for (int64_t kh = 0; kh < g_.kernel[1]; ++kh)
          for (int64_t kw = 0; kw < g_.kernel[2]; ++kw)
            taps_.push_back({c, kd * g_.dilation[0], kh * g_.dilation[1], kw * g_.dilation[2]});
    const int64_t P = g_.out_plane();
    for (int64_t p = 0; p < P; ++p) {
      const int64_t ow = p % g_.out[2], oh = (p / g_.out[2]) % g_.out[1], od = p / (g_.out[2] * g_.out[1]);
      base_.push_back({od * g_.stride[0] - g_.pad_begin[0], oh * g_.stride[1] - g_.pad_begin[1],
                       ow * g_.stride[2] - g_.pad_begin[2]});
    }
  }

  int64_t workspace_bytes() const override { return packed_ ? intgemm::workspace_bytes(tiling_) : 0; }

  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer> ws) override {
    const int32_t* x = in32(ptr, x_);
    int32_t* y = out32(ptr, y_);
    if (depthwise_) return run_depthwise(x, y, pool);
    if (packed_) {
      const int64_t P = g_.out_plane(), Cout = group_ * cout_g_;
      for (int64_t n = 0; n < g_.N; ++n)
        for (int64_t gi = 0; gi < group_; ++gi) {
          const auto i = static_cast<std::size_t>(n * group_ + gi);
          sources_[i].set_input(x + (n * g_.C + gi * cin_g_) * g_.in_plane());
          jobs_[i].c = y + (n * Cout + gi * cout_g_) * P;
        }
      intgemm::run(jobs_, tiling_, pool, ws);
      return;
    }
    const int64_t P = g_.out_plane(), tiles = (P + intgemm::kNR - 1) / intgemm::kNR;
    const int64_t in_plane = g_.in_plane(), Cout = group_ * cout_g_;
    for (int64_t n = 0; n < g_.N; ++n)
      for (int64_t gi = 0; gi < group_; ++gi) {
        const int32_t* xg = x + (n * g_.C + gi * cin_g_) * in_plane;
        pool.parallel_for(tiles, [&](int64_t t, int worker) {
          GemmLayer::Scratch& s = gemm_->scratch(worker);
          const int64_t p0 = t * intgemm::kNR, cols = std::min<int64_t>(intgemm::kNR, P - p0);
          pack(xg, p0, cols, s);
          gemm_->multiply(gi, s, cols, [&](int64_t o) {
            return std::pair<int32_t*, int64_t>{y + (n * Cout + o) * P + p0, 1};
          });
        });
      }
  }

 private:
  struct Tap {
    int64_t c, dz, dy, dx;
  };
  struct Base {
    int64_t z, y, x;
  };

  void pack(const int32_t* xg, int64_t p0, int64_t cols, GemmLayer::Scratch& s) const {
    std::fill(s.panel.begin(), s.panel.end(), uint8_t{0});
    const PanelWriter w{s.panel.data(), reinterpret_cast<int32_t*>(s.panel.data()), gemm_->vnni(), gemm_->offset(),
                        gemm_->zero_point()};
    const int64_t D = g_.in[0], H = g_.in[1], W = g_.in[2];
    for (int64_t k = 0; k < K_; ++k) {
      const Tap& t = taps_[static_cast<std::size_t>(k)];
      const int32_t* xc = xg + t.c * D * H * W;
      for (int64_t j = 0; j < cols; ++j) {
        const Base& b = base_[static_cast<std::size_t>(p0 + j)];
        const int64_t iz = b.z + t.dz, iy = b.y + t.dy, ix = b.x + t.dx;
        if (iz >= 0 && iz < D && iy >= 0 && iy < H && ix >= 0 && ix < W) {
          w.put(k, j, xc[(iz * H + iy) * W + ix]);
        } else {
          w.pad(k, j);
        }
      }
    }
  }

  // One input and one output channel per group: a direct loop per output row, taps
  // accumulated into the plane's int32 accumulators (wrapping), requantized per plane
  // (one vector pass: a late 7x7 map's rows are shorter than a vector). Several planes
  // per task, as the float kernel (a late plane is a few hundred MACs).
  void run_depthwise(const int32_t* x, int32_t* y, ThreadPool& pool) {
    pool.parallel_range(g_.N * g_.C, g_.out_plane() * kvol_, [&](int64_t p0, int64_t p1, int worker) {
      for (int64_t plane = p0; plane < p1; ++plane) depthwise_plane(x, y, plane, worker);
    });
  }
  void depthwise_plane(const int32_t* x, int32_t* y, int64_t plane, int worker) {
    const int64_t D = g_.in[0], H = g_.in[1], W = g_.in[2];
    const int64_t OD = g_.out[0], OH = g_.out[1], OW = g_.out[2];
    const int32_t z = q_.in.zero_point;
    const int64_t c = plane % g_.C;
    const int32_t* xp = x + plane * g_.in_plane();
    int32_t* yp = y + plane * g_.out_plane();
    const int32_t* w = q_.qweight.data() + c * kvol_;
    auto* const acc_plane = reinterpret_cast<uint32_t*>(rows_[static_cast<std::size_t>(worker)].data());
#if defined(__AVX512F__)
    if (vector_dw_) {
      // 16 output pixels at a time over the flattened plane (a late plane's rows are
      // shorter than a vector), every tap through the load table; padding reads z and
      // adds w * 0. Wrapping int32 products and sums, as the scalar loop.
      const __m512i vz = _mm512_set1_epi32(z);
      for (int64_t v = 0; v < plan_.vectors; ++v) {
        __m512i acc = _mm512_setzero_si512();
        for (int64_t t = 0; t < kvol_; ++t)
          acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(w[t]),
                                                         _mm512_sub_epi32(im2col_load(plan_, t, v, xp, vz), vz)));
        _mm512_storeu_si512(acc_plane + 16 * v, acc);
      }
      finish_run(q_, reinterpret_cast<const int32_t*>(acc_plane), yp, g_.out_plane(), 1,
                 q_.bias[static_cast<std::size_t>(c)], c);
      return;
    }
#endif
    std::fill(acc_plane, acc_plane + g_.out_plane(), 0u);
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        uint32_t* const acc = acc_plane + (od * OH + oh) * OW;
        for (int64_t kd = 0; kd < g_.kernel[0]; ++kd) {
          const int64_t iz = od * g_.stride[0] - g_.pad_begin[0] + kd * g_.dilation[0];
          if (iz < 0 || iz >= D) continue;
          for (int64_t kh = 0; kh < g_.kernel[1]; ++kh) {
            const int64_t iy = oh * g_.stride[1] - g_.pad_begin[1] + kh * g_.dilation[1];
            if (iy < 0 || iy >= H) continue;
            const int32_t* row = xp + (iz * H + iy) * W;
            for (int64_t kw = 0; kw < g_.kernel[2]; ++kw) {
              const auto wv = static_cast<uint32_t>(w[(kd * g_.kernel[1] + kh) * g_.kernel[2] + kw]);
              const int64_t x0 = kw * g_.dilation[2] - g_.pad_begin[2];
              // Output columns whose input column ow * s + x0 lies in [0, W).
              const int64_t s = g_.stride[2];
              const int64_t lo = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
              const int64_t hi = std::min(OW, W - x0 <= 0 ? 0 : (W - x0 + s - 1) / s);
              for (int64_t ow = lo; ow < hi; ++ow) acc[ow] += wv * static_cast<uint32_t>(row[ow * s + x0] - z);
            }
          }
        }
      }
    finish_run(q_, reinterpret_cast<const int32_t*>(acc_plane), yp, g_.out_plane(), 1,
               q_.bias[static_cast<std::size_t>(c)], c);
  }

  const ComputeQ& q_;
  ValueId x_ = -1, y_ = -1;
  kernels::Spatial3 g_;
  int64_t group_ = 1, cin_g_ = 0, cout_g_ = 0, kvol_ = 1, K_ = 0;
  bool depthwise_ = false;
  std::unique_ptr<GemmLayer> gemm_;  // widths above 8 bits: the plain int32 path
  std::vector<Tap> taps_;
  std::vector<Base> base_;
  std::vector<IntBuffer> rows_;  // depthwise: per-worker accumulators of one output plane
#if defined(__AVX512F__)
  bool vector_dw_ = false;  // depthwise through plan_'s load table (AVX-512 only)
#endif
  // The packed path (widths up to 8 bits).
  bool packed_ = false;
  Im2colPlan plan_;
  std::vector<intgemm::PackedWeights> weights_;  // per group
  std::vector<int32_t> bias_;                    // per channel: bias - z' * row sum
  std::vector<ConvRowFinisher> finishers_;       // per group
  std::vector<IntIm2colSource> sources_;         // per (sample, group)
  std::vector<intgemm::Job> jobs_;
  gemm::Tiling tiling_;
};

// Gemm / MatMul: A (M x K, activations) times the constant weights; rows of the
// integer GEMM are the output channels, columns the rows of A.
class FcK final : public IntKernel {
 public:
  FcK(const QuantizedModel& m, NodeId id, int workers) : q_(m.compute(id)) {
    const LayerGraph& g = m.graph();
    const Node& n = g.node(id);
    x_ = n.inputs[0];
    y_ = n.outputs[0];
    const Shape& xs = g.value(x_).shape;
    K_ = xs.back();
    M_ = shape_numel(xs) / K_;
    N_ = q_.channels;
    // Effective weights: [N, K] (axis 0) or [K, N] (axis 1).
    const int64_t row_stride = q_.weight_axis == 0 ? K_ : 1, k_stride = q_.weight_axis == 0 ? 1 : N_;
    gemm_ = std::make_unique<GemmLayer>(q_, 1, N_, K_, row_stride, k_stride, workers);
  }
  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer>) override {
    const int32_t* x = in32(ptr, x_);
    int32_t* y = out32(ptr, y_);
    const int64_t tiles = (M_ + intgemm::kNR - 1) / intgemm::kNR;
    const auto pack = [&](int64_t m0, int64_t cols, GemmLayer::Scratch& s) {
      std::fill(s.panel.begin(), s.panel.end(), uint8_t{0});
      const PanelWriter w{s.panel.data(), reinterpret_cast<int32_t*>(s.panel.data()), gemm_->vnni(), gemm_->offset(),
                          gemm_->zero_point()};
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t k = 0; k < K_; ++k) w.put(k, j, x[(m0 + j) * K_ + k]);
    };
    if (tiles == 1 && pool.size() > 1) {
      // One tile of rows (batch 1): pack it once and split the weight panels.
      GemmLayer::Scratch& s0 = gemm_->scratch(0);
      pack(0, M_, s0);
      pool.parallel_range(gemm_->panels(), intgemm::kMR * K_, [&](int64_t p0, int64_t p1, int worker) {
        gemm_->multiply_panels(0, s0.panel.data(), gemm_->scratch(worker).acc.data(), M_, p0, p1,
                               [&](int64_t o) { return std::pair<int32_t*, int64_t>{y + o, N_}; });
      });
      return;
    }
    pool.parallel_for(tiles, [&](int64_t t, int worker) {
      GemmLayer::Scratch& s = gemm_->scratch(worker);
      const int64_t m0 = t * intgemm::kNR, cols = std::min<int64_t>(intgemm::kNR, M_ - m0);
      pack(m0, cols, s);
      gemm_->multiply(0, s, cols, [&](int64_t o) { return std::pair<int32_t*, int64_t>{y + m0 * N_ + o, N_}; });
    });
  }

 private:
  const ComputeQ& q_;
  ValueId x_ = -1, y_ = -1;
  int64_t K_ = 0, M_ = 0, N_ = 0;
  std::unique_ptr<GemmLayer> gemm_;
};

// ------------------------------------------------------------------ other operators

class AddK final : public IntKernel {
 public:
  AddK(const QuantizedModel& m, NodeId id) : q_(m.add(id)), ins_(m.graph().node(id).inputs), y_(m.graph().node(id).outputs[0]) {
    n_ = shape_numel(m.graph().value(y_).shape);
    xs_.resize(ins_.size());
  }
  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer>) override {
    for (std::size_t k = 0; k < ins_.size(); ++k) xs_[k] = in32(ptr, ins_[k]);
    qops::add<IntCodec>(q_, xs_, out32(ptr, y_), n_, pool);
  }

 private:
  const AddQ& q_;
  std::vector<ValueId> ins_;
  ValueId y_;
  int64_t n_ = 0;
  std::vector<const int32_t*> xs_;
};

class ConcatK final : public IntKernel {
 public:
  ConcatK(const QuantizedModel& m, NodeId id) : q_(m.concat(id)), ins_(m.graph().node(id).inputs), y_(m.graph().node(id).outputs[0]) {
    xs_.resize(ins_.size());
  }
  void run(std::span<void* const> ptr, ThreadPool&, std::span<intgemm::ByteBuffer>) override {
    for (std::size_t k = 0; k < ins_.size(); ++k) xs_[k] = in32(ptr, ins_[k]);
    qops::concat<IntCodec>(q_, xs_, out32(ptr, y_));
  }

 private:
  const ConcatQ& q_;
  std::vector<ValueId> ins_;
  ValueId y_;
  std::vector<const int32_t*> xs_;
};

class AvgPoolK final : public IntKernel {
 public:
  AvgPoolK(const QuantizedModel& m, NodeId id) : q_(m.pool(id)), x_(m.graph().node(id).inputs[0]), y_(m.graph().node(id).outputs[0]) {}
  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer>) override { qops::avg_pool<IntCodec>(q_, in32(ptr, x_), out32(ptr, y_), pool); }

 private:
  const PoolQ& q_;
  ValueId x_, y_;
};

class MaxPoolK final : public IntKernel {
 public:
  MaxPoolK(const QuantizedModel& m, NodeId id) : x_(m.graph().node(id).inputs[0]), y_(m.graph().node(id).outputs[0]) {
    const LayerGraph& g = m.graph();
    const auto& a = std::get<PoolAttrs>(g.node(id).attrs);
    g_ = kernels::make_spatial3(g.value(x_).shape, g.value(y_).shape, a.kernel, a.strides, a.dilations, a.pads);
  }
  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer>) override {
    kernels::max_pool<int32_t>(g_, in32(ptr, x_), out32(ptr, y_), nullptr, 0, pool);
  }

 private:
  ValueId x_, y_;
  kernels::Spatial3 g_;
};

class MoveK final : public IntKernel {  // Transpose, zero Pad (pads with the zero point)
 public:
  MoveK(const QuantizedModel& m, NodeId id) : n_(m.graph().node(id)), g_(m.graph()) {
    if (const QParams* p = m.params(n_.inputs[0])) zp_ = p->zero_point;
  }
  void run(std::span<void* const> ptr, ThreadPool& pool, std::span<intgemm::ByteBuffer>) override {
    const ValueId x = n_.inputs[0], y = n_.outputs[0];
    if (n_.op == OpKind::kTranspose) {
      kernels::transpose(in32(ptr, x), out32(ptr, y), sizeof(int32_t), g_.value(x).shape,
                         std::get<AxesAttrs>(n_.attrs).axes, pool);
    } else {
      const auto& a = std::get<PadAttrs>(n_.attrs);
      kernels::pad(DType::kInt32, in32(ptr, x), g_.value(x).shape, out32(ptr, y), g_.value(y).shape, a.pads,
                   PadMode::kConstant, zp_);
    }
  }

 private:
  const Node& n_;
  const LayerGraph& g_;
  int32_t zp_ = 0;
};

class ClampK final : public IntKernel {
 public:
  ClampK(const QuantizedModel& m, NodeId id) : q_(m.clamp(id)), x_(m.graph().node(id).inputs[0]), y_(m.graph().node(id).outputs[0]) {
    n_ = shape_numel(m.graph().value(y_).shape);
  }
  void run(std::span<void* const> ptr, ThreadPool&, std::span<intgemm::ByteBuffer>) override { qops::clamp<IntCodec>(q_, in32(ptr, x_), out32(ptr, y_), n_); }

 private:
  const ClampQ& q_;
  ValueId x_, y_;
  int64_t n_ = 0;
};

class RequantK final : public IntKernel {
 public:
  RequantK(const QuantizedModel& m, NodeId id) : q_(m.rescale(id)), x_(m.graph().node(id).inputs[0]), y_(m.graph().node(id).outputs[0]) {
    n_ = shape_numel(m.graph().value(y_).shape);
  }
  void run(std::span<void* const> ptr, ThreadPool&, std::span<intgemm::ByteBuffer>) override { qops::rescale<IntCodec>(q_, in32(ptr, x_), out32(ptr, y_), n_); }

 private:
  const RescaleQ& q_;
  ValueId x_, y_;
  int64_t n_ = 0;
};

class ConvertK final : public IntKernel {  // kDequant (int32 -> float) / kQuant (float -> int32)
 public:
  ConvertK(const QuantizedModel& m, NodeId id, bool to_float)
      : q_(m.convert(id).q), to_float_(to_float), x_(m.graph().node(id).inputs[0]), y_(m.graph().node(id).outputs[0]) {
    n_ = shape_numel(m.graph().value(y_).shape);
  }
  void run(std::span<void* const> ptr, ThreadPool&, std::span<intgemm::ByteBuffer>) override {
    if (to_float_) {
      qops::dequantize<IntCodec>(q_, in32(ptr, x_), static_cast<float*>(ptr[static_cast<std::size_t>(y_)]), n_);
    } else {
      qops::quantize<IntCodec>(q_, static_cast<const float*>(ptr[static_cast<std::size_t>(x_)]), out32(ptr, y_), n_);
    }
  }

 private:
  QParams q_;
  bool to_float_;
  ValueId x_, y_;
  int64_t n_ = 0;
};

// An operator without an integer form: the float32 executor on a one-node graph.
class FloatK final : public IntKernel {
 public:
  FloatK(const QuantizedModel& m, NodeId id, ThreadPool& pool) {
    const LayerGraph& g = m.graph();
    const Node& n = g.node(id);
    Node copy = n;
    copy.inputs.clear();
    copy.outputs.clear();
    std::vector<ValueId> mg_inputs;
    std::vector<std::pair<ValueId, ValueId>> seen;  // (value of g, value of the one-node graph)
    for (ValueId v : n.inputs) {
      if (v < 0) {
        copy.inputs.push_back(-1);
        continue;
      }
      const auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == v; });
      if (it != seen.end()) {
        copy.inputs.push_back(it->second);
        continue;
      }
      Value val = g.value(v);
      if (!val.is_constant) val.data.reset();
      const ValueId nv = mg_.add_value(std::move(val));
      seen.emplace_back(v, nv);
      copy.inputs.push_back(nv);
      if (!g.value(v).is_constant) {
        ins_.push_back(v);
        mg_inputs.push_back(nv);
        in_t_.emplace_back(g.value(v).dtype, g.value(v).shape);
      }
    }
    for (ValueId v : n.outputs) {
      if (v < 0) {
        copy.outputs.push_back(-1);
        continue;
      }
      Value val = g.value(v);
      copy.outputs.push_back(mg_.add_value(std::move(val)));
      outs_.push_back(v);
    }
    std::vector<ValueId> mg_outputs;
    for (ValueId v : copy.outputs)
      if (v >= 0) mg_outputs.push_back(v);
    mg_.add_node(std::move(copy));
    mg_.set_inputs(mg_inputs);
    mg_.set_outputs(mg_outputs);
    mg_.name = g.name + ":" + n.name;
    mg_.finalize();
    ex_ = std::make_unique<Executor>(mg_, ExecOptions{.pool = &pool});
  }
  void run(std::span<void* const> ptr, ThreadPool&, std::span<intgemm::ByteBuffer>) override {
    for (std::size_t i = 0; i < ins_.size(); ++i)
      std::memcpy(in_t_[i].bytes().data(), ptr[static_cast<std::size_t>(ins_[i])], in_t_[i].nbytes());
    ex_->run(in_t_, out_t_);
    for (std::size_t i = 0; i < outs_.size(); ++i)
      std::memcpy(ptr[static_cast<std::size_t>(outs_[i])], out_t_[i].bytes().data(), out_t_[i].nbytes());
  }

 private:
  LayerGraph mg_;
  std::unique_ptr<Executor> ex_;
  std::vector<ValueId> ins_, outs_;  // values of the quantized graph
  std::vector<Tensor> in_t_, out_t_;
};

bool is_view_op(OpKind op) {
  return op == OpKind::kReshape || op == OpKind::kFlatten || op == OpKind::kSqueeze || op == OpKind::kUnsqueeze ||
         op == OpKind::kIdentity;
}

}  // namespace

// ------------------------------------------------------------------ IntExecutor

IntExecutor::IntExecutor(const QuantizedModel& m, const ExecOptions& opts) : m_(m) {
  if (opts.pool) {
    pool_ = opts.pool;
  } else {
    own_pool_ = std::make_unique<ThreadPool>(opts.threads);
    pool_ = own_pool_.get();
  }
  const LayerGraph& g = m.graph();
  const std::size_t nv = g.values().size();
  buffers_.resize(nv);
  ptr_.assign(nv, nullptr);
  // Storage: int32 for quantized tensors, the value's own type otherwise; views alias.
  std::vector<ValueId> alias(nv, -1);
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    if (m.role(id) == QRole::kView && is_view_op(n.op)) alias[static_cast<std::size_t>(n.outputs[0])] = n.inputs[0];
  }
  for (std::size_t v = 0; v < nv; ++v) {
    const Value& val = g.value(static_cast<ValueId>(v));
    if (val.is_constant) {
      ptr_[v] = const_cast<std::byte*>(val.data ? val.data->bytes().data() : nullptr);
      continue;
    }
    if (alias[v] >= 0) continue;
    const std::size_t elem = m.params(static_cast<ValueId>(v)) ? sizeof(int32_t) : dtype_size(val.dtype);
    buffers_[v].assign(static_cast<std::size_t>(shape_numel(val.shape)) * elem + 64, std::byte{0});
    ptr_[v] = buffers_[v].data();
  }
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    const ValueId o = n.outputs.empty() ? -1 : n.outputs[0];
    if (o >= 0 && alias[static_cast<std::size_t>(o)] >= 0) ptr_[static_cast<std::size_t>(o)] = ptr_[static_cast<std::size_t>(n.inputs[0])];
  }
  const int workers = pool_->size();
  int64_t ws_bytes = 0;
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    std::unique_ptr<IntKernel> k;
    switch (m.role(id)) {
      case QRole::kCompute:
        if (n.op == OpKind::kConv) {
          k = std::make_unique<ConvK>(m, id, workers);
        } else {
          k = std::make_unique<FcK>(m, id, workers);
        }
        break;
      case QRole::kAdd: k = std::make_unique<AddK>(m, id); break;
      case QRole::kConcat: k = std::make_unique<ConcatK>(m, id); break;
      case QRole::kAvgPool: k = std::make_unique<AvgPoolK>(m, id); break;
      case QRole::kMaxPool: k = std::make_unique<MaxPoolK>(m, id); break;
      case QRole::kView: break;
      case QRole::kMove: k = std::make_unique<MoveK>(m, id); break;
      case QRole::kClamp: k = std::make_unique<ClampK>(m, id); break;
      case QRole::kRequant: k = std::make_unique<RequantK>(m, id); break;
      case QRole::kDequant: k = std::make_unique<ConvertK>(m, id, true); break;
      case QRole::kQuant: k = std::make_unique<ConvertK>(m, id, false); break;
      case QRole::kFloat: k = std::make_unique<FloatK>(m, id, *pool_); break;
    }
    if (k) ws_bytes = std::max(ws_bytes, k->workspace_bytes());
    steps_.push_back(std::move(k));
    step_node_.push_back(id);
  }
  ws_.resize(static_cast<std::size_t>(workers));
  for (auto& b : ws_) b.assign(static_cast<std::size_t>(ws_bytes + 64), 0);
  if (opts.profile) node_seconds_.assign(g.nodes().size(), 0.0);
}

IntExecutor::~IntExecutor() = default;

void IntExecutor::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  const LayerGraph& g = m_.graph();
  const auto gin = g.inputs();
  check_run_inputs(g, inputs);
  for (std::size_t i = 0; i < gin.size(); ++i) {
    void* dst = ptr_[static_cast<std::size_t>(gin[i])];
    if (const QParams* q = m_.params(gin[i])) {
      qops::quantize<IntCodec>(*q, inputs[i].data<float>().data(), static_cast<int32_t*>(dst), inputs[i].numel());
    } else {
      std::memcpy(dst, inputs[i].bytes().data(), inputs[i].nbytes());
    }
  }
  const bool profile = !node_seconds_.empty();
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    if (!steps_[i]) continue;
    const auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    steps_[i]->run(ptr_, *pool_, ws_);
    if (profile)
      node_seconds_[static_cast<std::size_t>(step_node_[i])] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const auto gout = g.outputs();
  outputs.resize(gout.size());
  for (std::size_t i = 0; i < gout.size(); ++i) {
    const Value& v = g.value(gout[i]);
    if (outputs[i].dtype() != v.dtype || outputs[i].shape() != v.shape || outputs[i].empty())
      outputs[i] = Tensor(v.dtype, v.shape);
    const void* src = ptr_[static_cast<std::size_t>(gout[i])];
    if (const QParams* q = m_.params(gout[i])) {
      qops::dequantize<IntCodec>(*q, static_cast<const int32_t*>(src), outputs[i].data<float>().data(), outputs[i].numel());
    } else if (outputs[i].nbytes() > 0) {
      std::memcpy(outputs[i].bytes().data(), src, outputs[i].nbytes());
    }
  }
}

std::vector<Tensor> IntExecutor::run(std::span<const Tensor> inputs) {
  std::vector<Tensor> out;
  run(inputs, out);
  return out;
}

std::span<const int32_t> IntExecutor::integers(ValueId v) const {
  if (!m_.params(v)) throw std::logic_error("IntExecutor::integers: value is not quantized");
  return {static_cast<const int32_t*>(ptr_[static_cast<std::size_t>(v)]),
          static_cast<std::size_t>(shape_numel(m_.graph().value(v).shape))};
}

std::span<const float> IntExecutor::floats(ValueId v) const {
  const Value& val = m_.graph().value(v);
  if (m_.params(v) || val.dtype != DType::kFloat32) throw std::logic_error("IntExecutor::floats: value is not float32");
  return {static_cast<const float*>(ptr_[static_cast<std::size_t>(v)]), static_cast<std::size_t>(shape_numel(val.shape))};
}

}  // namespace qsim
