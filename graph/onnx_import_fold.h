// Constant folding kernels for the ONNX importer.
//
// Reference-quality evaluation of the operators the importer folds when all
// their inputs are constant (shape arithmetic, weights built by ConstantOfShape,
// elementwise ops on initializers). They run once per model at import, on small
// tensors or on weights, so clarity wins over speed. Integer arithmetic wraps
// (two's complement), as ONNX Runtime's does. Errors throw qsim::Error without
// the file name; the importer adds it.
#pragma once

#include <cstdint>
#include <span>

#include "graph/layer_graph.h"
#include "graph/tensor.h"

namespace qsim {

// Add or Mul with multidirectional broadcasting; both inputs share one dtype.
Tensor fold_binary(OpKind op, const Tensor& a, const Tensor& b);
// Elementwise activation (the Activation's parameters as in the IR).
Tensor fold_activation(const Activation& act, const Tensor& x);
Tensor fold_concat(std::span<const Tensor* const> inputs, int64_t axis);
Tensor fold_transpose(const Tensor& x, std::span<const int64_t> perm);
// Gather along `axis` (normalized); negative indices count from the end.
Tensor fold_gather(const Tensor& data, const Tensor& indices, int64_t axis);
// ConstantOfShape: `value` (one element) repeated over `shape`.
Tensor fold_fill(const Tensor& value, const Shape& shape);
// QuantizeLinear: saturate(round_half_even(x / scale) + zero_point) as `to` (int8,
// uint8, int16, uint16), x / scale in float32; DequantizeLinear: (x - zero_point) *
// scale in float32 (the definitions of arith/int_arith.h). scale and zero_point hold
// one element or one per index of `axis` (normalized); zero_point may be null (0).
Tensor fold_quantize_linear(const Tensor& x, const Tensor& scale, const Tensor* zero_point, int64_t axis, DType to);
Tensor fold_dequantize_linear(const Tensor& x, const Tensor& scale, const Tensor* zero_point, int64_t axis);

}  // namespace qsim
