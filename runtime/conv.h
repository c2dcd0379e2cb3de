// Convolution (1-D, 2-D, 3-D; groups, strides, dilations, pads) in float32.
//
// Per sample and group, Y (Cout_g x P) = W_g (Cout_g x Cin_g*kvol) * im2col(X_g)
// through gemm::run: the weights are packed into the GEMM's A panels once, when the
// kernel is made (or per run when they only arrive then); the im2col matrix is never
// stored: Im2colSource writes the GEMM's B panels straight from X, one K slice of
// kNR output pixels at a time, right before the micro-kernel reads them. Bias, a
// residual tensor (a following Add, fused by the executor) and Relu/Clip are applied
// in the micro-kernel's registers. Depthwise convolutions (one input and one output
// channel per group) run a direct loop instead: their GEMM would have K = kvol.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "graph/layer_graph.h"
#include "runtime/gemm.h"
#include "runtime/kernels.h"
#include "runtime/thread_pool.h"

namespace qsim {

// How 16 consecutive output pixels of one kernel tap read the input plane: the
// vector loads im2col packing does. Each of at most two segments covers the lanes
// of `mask` and reads input offset base + stride * lane (stride 1 or 2); lanes in
// neither segment are zero (padding, or past the plane). Anything else is a gather
// through 16 offsets (-1: zero) kept beside the table.
struct Im2colVector {
  enum Kind : uint8_t { kZero, kStride1, kStride2, kGather };
  int32_t base[2] = {0, 0};  // kGather: base[0] indexes the offsets table
  uint16_t mask[2] = {0, 0};
  Kind kind = kZero;
  uint8_t segments = 0;
};

// The load table of a convolution's im2col matrix (geometry only, shared by every
// (sample, group)): one Im2colVector per kernel tap and 16-pixel vector of the output
// plane. A 1x1, stride-1, unpadded convolution needs none (X is the matrix itself).
struct Im2colPlan {
  kernels::Spatial3 g;
  int64_t kvol = 1, vectors = 0;
  bool direct = false;
  std::vector<Im2colVector> table;  // kvol x vectors
  std::vector<int32_t> offsets;     // 16 per gather entry
  static Im2colPlan make(const kernels::Spatial3& g);  // throws unless fits(g) or the plan is direct
  // Whether a table can address g's input plane (its offsets are int32).
  static bool fits(const kernels::Spatial3& g) { return g.in_plane() < (int64_t{1} << 31); }
  // The loads for tap t and output vector v, computed from the geometry.
  Im2colVector describe(int64_t t, int64_t v, std::vector<int32_t>* offsets) const;
};

#if defined(__AVX512F__)
// Decodes one Im2colVector once and calls f(load) with a loader for it: load(plane)
// gives the 16 32-bit lanes read from the plane at `plane`, `fill` in the lanes a
// segment does not cover (padding, past the plane). The lanes are bits: the float
// packing passes its plane as 32-bit words. One decode serves several planes (the rows
// of a tap in the float packing, the four channels of a VNNI group in the integer one).
// Forced inline: called per output vector in the packing loops.
template <typename F>
[[gnu::always_inline]] inline decltype(auto) with_vector_load(const Im2colPlan& pl, const Im2colVector& e, __m512i fill,
                                                              F&& f) {
  using kernels::element_at;
  switch (e.kind) {
    case Im2colVector::kZero: return f([fill](const int32_t*) { return fill; });
    case Im2colVector::kStride1: {
      const __mmask16 m0 = e.mask[0], m1 = e.mask[1];
      const int64_t b0 = e.base[0], b1 = e.base[1];
      if (e.segments == 1) return f([=](const int32_t* x) { return _mm512_mask_loadu_epi32(fill, m0, element_at(x, b0)); });
      return f([=](const int32_t* x) {
        return _mm512_mask_loadu_epi32(_mm512_mask_loadu_epi32(fill, m0, element_at(x, b0)), m1, element_at(x, b1));
      });
    }
    case Im2colVector::kStride2: {
      // Lane j of a segment is element 2j of two 16-element loads: the mask spread to
      // even bits, the even elements gathered by one permute (fill where not loaded).
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const uint32_t s0 = kernels::spread_even(e.mask[0]), s1 = kernels::spread_even(e.mask[1]);
      const __mmask16 lo0 = static_cast<__mmask16>(s0), hi0 = static_cast<__mmask16>(s0 >> 16);
      const __mmask16 lo1 = static_cast<__mmask16>(s1), hi1 = static_cast<__mmask16>(s1 >> 16);
      const int64_t b0 = e.base[0], b1 = e.base[1];
      const __mmask16 m1 = e.mask[1];
      const auto segment = [=](const int32_t* x, __mmask16 lo, __mmask16 hi, int64_t b) {
        const int32_t* p = element_at(x, b);
        return _mm512_permutex2var_epi32(_mm512_mask_loadu_epi32(fill, lo, p), even,
                                         _mm512_mask_loadu_epi32(fill, hi, p + 16));
      };
      if (e.segments == 1) return f([=](const int32_t* x) { return segment(x, lo0, hi0, b0); });
      return f([=](const int32_t* x) {
        return _mm512_mask_mov_epi32(segment(x, lo0, hi0, b0), m1, segment(x, lo1, hi1, b1));
      });
    }
    case Im2colVector::kGather:
    default: {
      const __m512i idx = _mm512_loadu_si512(pl.offsets.data() + e.base[0]);
      const __mmask16 m0 = e.mask[0];
      return f([=](const int32_t* x) { return _mm512_mask_i32gather_epi32(fill, m0, idx, x, 4); });
    }
  }
}
#endif

// The im2col matrix of one (sample, group) as a GEMM B operand: K = Cin_g * kvol
// rows ordered (channel, kd, kh, kw), one column per output pixel.
class Im2colSource final : public gemm::PanelSource {
 public:
  Im2colSource() = default;
  explicit Im2colSource(const Im2colPlan* plan) : plan_(plan) {}
  void set_input(const float* x) { x_ = x; }
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const override;

 private:
  const Im2colPlan* plan_ = nullptr;
  const float* x_ = nullptr;
};

class ConvKernel {
 public:
  // x/y: NC+spatial shapes; w_shape: Cout x Cin/group x kernel. `weights` may be null
  // (weights arrive at run time, as in ONNX's node tests); otherwise they are packed
  // here, once.
  ConvKernel(const Shape& x, const Shape& y, const Shape& w_shape, const float* weights, const ConvAttrs& attrs,
             const Activation& act, int threads);
  // Holds pointers into itself (the sources point at plan_): not copyable or movable.
  ConvKernel(const ConvKernel&) = delete;
  ConvKernel& operator=(const ConvKernel&) = delete;

  int64_t workspace_floats() const { return workspace_floats_; }
  bool supports_residual() const { return !depthwise_; }
  // w and bias may be null when given at construction (bias: when the layer has none).
  // residual (shape of y, or null) is added before the activation: Conv -> Add fused
  // (not for depthwise convolutions: supports_residual()).
  // act (or null: the one given at construction) replaces the fused activation.
  void run(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool, gemm::Workspace& ws,
           const float* residual = nullptr, const Activation* act = nullptr);

 private:
  void pack_weights(const float* w);
  void run_depthwise(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                     gemm::Workspace& ws) const;

  kernels::Spatial3 g_;
  int64_t group_ = 1, cin_g_ = 0, cout_g_ = 0, k_ = 0;
  Activation act_;
  bool depthwise_ = false;
  std::array<int64_t, 3> padded_{1, 1, 1};  // depthwise: extents of the zero-padded scratch plane
  const float* weights_ = nullptr;  // given at construction, or null
  gemm::FloatBuffer packed_;  // A panels of every group (repacked per run without constant weights)
  int64_t group_floats_ = 0;  // packed floats per group
  Im2colPlan plan_;
  std::vector<Im2colSource> sources_;  // per (sample, group)
  std::vector<gemm::Job> jobs_;
  gemm::Tiling tiling_;
  int64_t workspace_floats_ = 0;
};

}  // namespace qsim
