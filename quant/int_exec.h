// IntExecutor — integer-only inference of a QuantizedModel (TFLite/gemmlowp style).
//
// Float32 appears only where the model's graph inputs are quantized and its outputs
// dequantized, and inside operators without an integer form (QRole::kFloat: they
// dequantize, run the float32 kernel, quantize). Everything else runs on integers with
// the arithmetic of int_arith.h:
// - Conv (grouped and 1-D/2-D/3-D through an im2col GEMM; depthwise directly, 16 output
//   pixels per vector through the im2col load table),
//   Gemm, MatMul: w-bit weights x a-bit activations accumulated in wrapping int32
//   (then wrapped to acc_bits), bias in the accumulator, requantized per channel by
//   M0/shift, fused Relu/Clip as the output clamp. Widths <= 8 use AVX-512 VNNI
//   (u8 x s8, the zero point corrected by per-row weight sums); wider ones a plain
//   int32 loop.
// - Add/Sum (TFLite's rescaled sum), Concat (rescaled inputs), Average/GlobalAverage
//   pooling (integer window sum, requantized by s_in / (count * s_out)), MaxPool,
//   Transpose, Pad, Relu/Clip, views: see quant/quant_ops.h, shared with the fake-quant
//   executor, so both give identical integers.
// Tensors are stored as int32 (values in their w-bit ranges); run() allocates nothing.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "graph/tensor.h"
#include "quant/int_gemm.h"
#include "runtime/executor.h"
#include "quant/quant_model.h"
#include "runtime/thread_pool.h"

namespace qsim {

class IntKernel;

class IntExecutor {
 public:
  // `m` must outlive the executor. ExecOptions::threads / pool as for Executor.
  explicit IntExecutor(const QuantizedModel& m, const ExecOptions& opts = {});
  ~IntExecutor();
  IntExecutor(const IntExecutor&) = delete;
  IntExecutor& operator=(const IntExecutor&) = delete;

  // float32 inputs (the model's inputs, in order) -> float32 outputs (dequantized).
  void run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);
  std::vector<Tensor> run(std::span<const Tensor> inputs);

  // The integers of a quantized value after the last run() (tests, debugging).
  std::span<const int32_t> integers(ValueId v) const;
  // The floats of a float32 value that is not quantized (a dequantized graph
  // output) after the last run().
  std::span<const float> floats(ValueId v) const;

  // With ExecOptions::profile: seconds spent in each node (indexed by NodeId),
  // accumulated over every run() (empty otherwise).
  std::span<const double> node_seconds() const { return node_seconds_; }

 private:
  const QuantizedModel& m_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_ = nullptr;
  std::vector<std::vector<std::byte, AlignedAllocator<std::byte>>> buffers_;
  std::vector<void*> ptr_;  // per value of m.graph()
  std::vector<std::unique_ptr<IntKernel>> steps_;  // topological order (null for views)
  std::vector<NodeId> step_node_;                  // the node of each step
  std::vector<double> node_seconds_;               // with ExecOptions::profile
  std::vector<intgemm::ByteBuffer> ws_;            // per-worker scratch of the kernels
};

}  // namespace qsim
