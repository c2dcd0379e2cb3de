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
