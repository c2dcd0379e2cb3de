// A compute layer's integer GEMM as an accelerator runs it, taken from the integer
// executor's last run (for checking a hardware model against the executor, bit for
// bit: `qsim --backend systemc --verify`, docs/systemc.md).
//
// The accelerator multiplies the quantized values themselves (activations at their
// width, signed or unsigned, and the signed weights) and accumulates in a wrapping
// acc_bits register; its output stage removes the activation zero point (z times the
// column sum of the weights, a per-channel constant), adds the bias and requantizes
// exactly as the integer executor (ComputeQ::finish), so the results are the same
// integers whatever the order of the additions (int_arith.h, rule 3).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graph/layer_graph.h"
#include "quant/int_exec.h"
#include "quant/quant_model.h"

namespace qsim {

struct LayerGemm {
  GemmView gemm;
  std::vector<int32_t> a;  // repeats x M x K: activations, im2col; a 2-D convolution's k runs over its
                           // window as (fh, fw, c), channel fastest; padding holds the zero point
  std::vector<int32_t> b;  // repeats x K x N: weights
  bool a_signed = false;
};

// The operands of compute layer `layer` (a node of m.source(), which m.graph() keeps)
// in ex's last run. Throws qsim::Error naming the layer when it is not an integer
// Conv (2-D), Gemm or MatMul of one repeat, as the executor runs it.
LayerGemm layer_gemm(const QuantizedModel& m, const IntExecutor& ex, NodeId layer);

// The accelerator's accumulators for `layer` (repeats x M x N, the wrapped sums of
// the operands' products) through the layer's output stage, against the outputs of
// ex's last run. Returns a description of the first difference ("output 45 (batch 0,
// channel 3, position 12): simulated 17, integer executor 18"), empty when all are
// equal; `checked` receives the number of outputs compared.
std::string first_output_mismatch(const QuantizedModel& m, const IntExecutor& ex, NodeId layer,
                                  std::span<const int64_t> acc, int64_t& checked);

}  // namespace qsim
