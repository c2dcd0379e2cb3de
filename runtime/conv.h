// Convolution (1-D, 2-D, 3-D; groups, strides, dilations, pads) in float32.
//
// Per sample and group, Y (Cout_g x P) = W_g (Cout_g x Cin_g*kvol) * im2col(X_g)
// through gemm::run (Eigen): the weights are read where they are (Cout x Cin_g*kvol
// row-major is already the layout Eigen's product reads), the im2col matrix is
// never stored whole: Im2colSource fills one K slice of one column tile at a time
// into the worker's workspace, right before Eigen packs it (a 1x1, stride-1,
// unpadded convolution reads X as the matrix itself). Depthwise convolutions (one
// input channel per group, one output channel per group) run a direct loop
// instead: their GEMM would have K = kvol.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "graph/layer_graph.h"
#include "runtime/gemm.h"
#include "runtime/kernels.h"
#include "runtime/thread_pool.h"

namespace qsim {

// The im2col matrix of one (sample, group) as a GEMM B operand: K = Cin_g * kvol
// rows ordered (channel, kd, kh, kw), one column per output pixel.
//
// Two ways to fill a block: walking runs of output columns that share an output
// row (long rows: a copy per run), or, for small feature maps where those runs are
// a few pixels long, a gather through a per-plan table of input offsets (one
// int32 per kernel tap and output pixel, -1 in the padding).
class Im2colSource final : public gemm::BlockSource {
 public:
  Im2colSource() = default;
  // `offsets`: the gather table (kernel volume x `offsets_stride`), or null.
  Im2colSource(const kernels::Spatial3* geom, const int32_t* offsets, int64_t offsets_stride)
      : g_(geom), offsets_(offsets), offsets_stride_(offsets_stride) {}
  void set_input(const float* x) { x_ = x; }
  void fill(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const override;
  // True when the convolution reads X directly as the K x P matrix.
  static bool is_direct(const kernels::Spatial3& g);
  // The gather table for g (kernel volume rows of out_plane() entries, padded to a
  // multiple of 16 with -1), or empty when row runs are long enough to copy.
  static std::vector<int32_t> gather_table(const kernels::Spatial3& g, int64_t* stride);

 private:
  void copy_runs(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const;
  void gather(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const;
  const kernels::Spatial3* g_ = nullptr;
  const int32_t* offsets_ = nullptr;
  int64_t offsets_stride_ = 0;
  const float* x_ = nullptr;
};

class ConvKernel {
 public:
  // x/y: NC+spatial shapes; w_shape: Cout x Cin/group x kernel. `weights` may be null
  // (weights arrive at run time, as in ONNX's node tests); otherwise they are read in
  // place by every run() and must outlive the kernel.
  ConvKernel(const Shape& x, const Shape& y, const Shape& w_shape, const float* weights, const ConvAttrs& attrs,
             const Activation& act, int threads);
  // Holds pointers into itself (the sources point at g_): not copyable or movable.
  ConvKernel(const ConvKernel&) = delete;
  ConvKernel& operator=(const ConvKernel&) = delete;

  int64_t workspace_floats() const { return workspace_floats_; }
  // w and bias may be null when given at construction (bias: when the layer has none).
  void run(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool, gemm::Workspace& ws);

 private:
  void run_depthwise(const float* x, const float* w, const float* bias, float* y, ThreadPool& pool,
                     gemm::Workspace& ws) const;

  kernels::Spatial3 g_;
  int64_t group_ = 1, cin_g_ = 0, cout_g_ = 0, k_ = 0;
  Activation act_;
  bool depthwise_ = false;
  std::array<int64_t, 3> padded_{1, 1, 1};  // depthwise: extents of the zero-padded scratch plane
  const float* weights_ = nullptr;  // given at construction, or null
  std::vector<int32_t> gather_;  // im2col gather table (small feature maps), see Im2colSource
  int64_t gather_stride_ = 0;
  std::vector<Im2colSource> sources_;  // per (sample, group)
  std::vector<gemm::Job> jobs_;
  gemm::Tiling tiling_;
  int64_t workspace_floats_ = 0;
};

}  // namespace qsim
