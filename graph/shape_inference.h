// Static shape inference for the LayerGraph operators.
//
// Pure functions over shapes and already-resolved attributes (no ONNX types
// here): the ONNX importer resolves opset-dependent attributes and auto_pad
// first, then asks these for output shapes. Every function checks its inputs
// and throws qsim::Error with a message that names the problem but not the
// file or node; the caller adds those.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "graph/layer_graph.h"

namespace qsim {

// Axis in [-rank, rank) -> [0, rank); throws on out of range. `what` names the
// attribute in the message ("axis", "perm", ...).
int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view what = "axis");

// Multidirectional (numpy) broadcasting, as ONNX Add/Mul/Sum use it.
Shape broadcast_shapes(const Shape& a, const Shape& b);

enum class AutoPad : uint8_t { kNotSet, kSameUpper, kSameLower, kValid };

// Explicit pads [begin..., end...] for SAME_UPPER / SAME_LOWER / VALID, computed
// as ONNX shape inference does (total = max(0, (ceil(in/s)-1)*s + (k-1)*d+1 - in),
// the odd element at the end for SAME_UPPER, at the beginning for SAME_LOWER).
std::vector<int64_t> auto_pads(AutoPad mode, std::span<const int64_t> in_spatial,
                               std::span<const int64_t> kernel, std::span<const int64_t> strides,
                               std::span<const int64_t> dilations);

// One spatial output size of a convolution or pooling window.
int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                           int64_t pad_begin, int64_t pad_end, bool ceil_mode);

// Conv: X (N x C x D1...), W (M x C/group x k1...) -> N x M x O1...
Shape conv_output_shape(const Shape& x, const Shape& w, const ConvAttrs& a);
// MaxPool / AveragePool: N x C x D1... -> N x C x O1...
Shape pool_output_shape(const Shape& x, const PoolAttrs& a);
Shape global_pool_output_shape(const Shape& x);
Shape gemm_output_shape(const Shape& a, const Shape& b, const GemmAttrs& g);
Shape matmul_output_shape(const Shape& a, const Shape& b);
// BatchNormalization: checks scale/B/mean/var are 1-D of size C.
Shape batchnorm_output_shape(const Shape& x, std::span<const Shape> params);
Shape concat_output_shape(std::span<const Shape> inputs, int64_t axis);
Shape flatten_output_shape(const Shape& x, int64_t axis);
// Reshape target with 0 (copy the input dim unless allowzero) and -1 (infer).
Shape reshape_output_shape(const Shape& x, std::span<const int64_t> target, bool allowzero);
Shape transpose_output_shape(const Shape& x, std::span<const int64_t> perm);
Shape squeeze_output_shape(const Shape& x, std::span<const int64_t> axes);
Shape unsqueeze_output_shape(const Shape& x, std::span<const int64_t> axes);
// pads: [begin..., end...] for every axis; negative pads crop.
Shape pad_output_shape(const Shape& x, std::span<const int64_t> pads);
// Gather along `axis` (already normalized) with an index tensor of shape `indices`.
Shape gather_output_shape(const Shape& data, const Shape& indices, int64_t axis);

// Normalizes axes against `rank`, checks for duplicates, returns them sorted.
std::vector<int64_t> normalize_axes(std::span<const int64_t> axes, int64_t rank, std::string_view what);

}  // namespace qsim
