// Float32 (and, where ONNX allows, integer) kernels for the non-GEMM operators.
//
// Free functions over raw row-major buffers and shapes, so the executor calls
// them with arena pointers and the tests call them with naive references beside.
// Spatial operators are written once for three spatial dimensions; 1-D and 2-D
// inputs are run as 3-D with leading extents of 1.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "runtime/thread_pool.h"

namespace qsim::kernels {

// ---- spatial geometry (Conv, pools) ----
struct Spatial3 {
  int64_t N = 1, C = 1;             // batch, channels
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1};
  std::array<int64_t, 3> kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  std::array<int64_t, 3> pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_volume() const { return kernel[0] * kernel[1] * kernel[2]; }
};
// From NC+spatial input/output shapes (1 to 3 spatial dims) and ONNX-ordered attributes
// (empty strides/dilations mean 1, empty pads 0). Throws qsim::Error for a rank above 3.
Spatial3 make_spatial3(const Shape& x, const Shape& y, std::span<const int64_t> kernel,
                       std::span<const int64_t> strides, std::span<const int64_t> dilations,
                       std::span<const int64_t> pads);

// ---- helpers of the AVX-512 kernels' masked loads (plain integer code) ----
// Lane bits of a 16-lane mask spread to the even bits of a 32-bit mask: the elements a
// stride-2 run of 16 lanes reads from two 16-element loads.
constexpr uint32_t spread_even(uint32_t m) {
  m = (m | (m << 8)) & 0x00FF00FFu;
  m = (m | (m << 4)) & 0x0F0F0F0Fu;
  m = (m | (m << 2)) & 0x33333333u;
  return (m | (m << 1)) & 0x55555555u;
}
// Address of element `off` of src; off may lie outside the buffer for lanes a mask
// excludes (masked loads touch only their lanes), so no pointer arithmetic on src.
template <typename T>
const T* element_at(const T* src, int64_t off) {
  return reinterpret_cast<const T*>(reinterpret_cast<uintptr_t>(src) + static_cast<uintptr_t>(off) * sizeof(T));
}

// ---- pools ----
// Indices (optional, may be null) follow ONNX MaxPool: the flat index into X,
// with (h, w) flattened row-major (storage_order 0) or column-major (1).
template <typename T>
void max_pool(const Spatial3& g, const T* x, T* y, int64_t* indices, int64_t storage_order, ThreadPool& pool);
void avg_pool(const Spatial3& g, bool count_include_pad, const float* x, float* y, ThreadPool& pool);
void global_avg_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool);

// ---- elementwise with ONNX (numpy) broadcasting ----
enum class BinaryOp : uint8_t { kAdd, kMul };
// y (shape `out`) = act(a op b); a and b have shapes broadcastable to `out`. The
// activation (float32 only; null = none) is applied while each run is in cache.
void binary(BinaryOp op, DType dtype, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
            void* y, const Shape& out, ThreadPool& pool, const Activation* act = nullptr);

// Standalone activation (float32; Relu and Clip also on integer types: bounds in act
// are converted to the element type, +-inf meaning the type's limits).
void activation(const Activation& act, DType dtype, const void* x, void* y, int64_t n, ThreadPool& pool);

// Inference BatchNormalization over axis 1: y = (x - mean) / sqrt(var + eps) * scale + bias.
void batch_norm(const float* x, float* y, int64_t N, int64_t C, int64_t inner, const float* scale,
                const float* bias, const float* mean, const float* var, float epsilon, ThreadPool& pool);

// ---- data movement (any dtype, by element size) ----
void transpose(const void* x, void* y, std::size_t elem_size, const Shape& x_shape, std::span<const int64_t> perm,
               ThreadPool& pool);
// Concatenation along `axis` of inputs with the given shapes into y.
void concat(std::span<const void* const> xs, std::span<const Shape> shapes, int64_t axis, std::size_t elem_size,
            void* y);
// ONNX Pad (pads: begin..., end... per axis; negative values crop).
void pad(DType dtype, const void* x, const Shape& x_shape, void* y, const Shape& y_shape,
         std::span<const int64_t> pads, PadMode mode, double value);

// ---- normalisations ----
// Softmax over `axis` (opset >= 13), or with legacy = true over the 2-D coercion
// [prod(shape[:axis]), prod(shape[axis:])] (opset < 13).
void softmax(const float* x, float* y, const Shape& shape, int64_t axis, bool legacy, ThreadPool& pool);
// LRN across channels (axis 1) of an N x C x spatial tensor.
void lrn(const float* x, float* y, int64_t N, int64_t C, int64_t inner, const LRNAttrs& a, ThreadPool& pool);


}  // namespace qsim::kernels
