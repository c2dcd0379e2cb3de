// FakeQuantExecutor — quantized inference on the float32 executor.
//
// The float executor runs QuantizedModel::graph(): compute layers hold their
// quantized weights and biases as float32 integers (quantized once, when the model
// is built), and every tensor holds q - z as float32 (the dequantization's scale is
// folded into the next requantization). Because those values are integers below
// 2^24 (ComputeQ::fake_exact; true for the bundled models at <= 8 bits), the float32
// GEMM accumulates exactly the integer sum the integer executor computes. The
// executor's hooks then apply the same requantization (int_arith.h, vectorised) to
// each compute layer's output in place, and overrides run the integer forms of Add,
// Concat, average pooling, Relu/Clip and the inserted quantize / dequantize /
// requantize steps (quant/quant_ops.h, shared with IntExecutor). So its outputs equal
// IntExecutor's bit for bit, while the convolutions run on the float32 kernels.
// run() allocates nothing after the first call.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "graph/tensor.h"
#include "runtime/executor.h"
#include "quant/quant_model.h"

namespace qsim {

class FakeQuantExecutor {
 public:
  // `m` must outlive the executor. ExecOptions as for Executor.
  explicit FakeQuantExecutor(const QuantizedModel& m, const ExecOptions& opts = {});
  ~FakeQuantExecutor();
  FakeQuantExecutor(const FakeQuantExecutor&) = delete;
  FakeQuantExecutor& operator=(const FakeQuantExecutor&) = delete;

  // float32 inputs (the model's inputs, in order) -> float32 outputs (dequantized).
  void run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);
  // The same with inputs already in the executor's form (q - z for inputs that carry
  // parameters: values another run of this model's graph computed).
  void run_prequantized(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);
  std::vector<Tensor> run(std::span<const Tensor> inputs);

  Executor& executor() { return *ex_; }

 private:
  void install();
  void dequantize_outputs(std::vector<Tensor>& outputs) const;

  const QuantizedModel& m_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_ = nullptr;
  std::unique_ptr<Executor> ex_;
  std::vector<Tensor> qin_;
  std::vector<std::vector<const float*>> ptrs_;  // per override: input pointer lists
};

}  // namespace qsim
