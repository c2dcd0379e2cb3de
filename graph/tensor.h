// Tensor — a dense, row-major, typed n-d array owned by value.
//
// Used for constants in the LayerGraph (weights, biases, folded shape tensors)
// and by the executors for activations. Storage is 64-byte aligned so vector
// kernels can use aligned loads. Shapes use int64_t like ONNX does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qsim {

using Shape = std::vector<int64_t>;

enum class DType : uint8_t {
  kFloat32,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kBool,
};

std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::kInt16; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::kUInt16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::kUInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::kUInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

// Calls f with a value of the C++ type of `t` (f(float{}) for kFloat32, ...): one
// switch for every reader, kernel and fold that handles each element type.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kInt8: return f(int8_t{});
    case DType::kUInt8: return f(uint8_t{});
    case DType::kInt16: return f(int16_t{});
    case DType::kUInt16: return f(uint16_t{});
    case DType::kInt32: return f(int32_t{});
    case DType::kUInt32: return f(uint32_t{});
    case DType::kInt64: return f(int64_t{});
    case DType::kUInt64: return f(uint64_t{});
    case DType::kBool: return f(bool{});
  }
  return f(float{});
}

// Number of elements of a shape; throws qsim::Error on negative dims or overflow.
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "1x3x224x224" ("scalar" for rank 0)

template <typename T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Align}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{Align}); }
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) { return true; }
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialised tensor of the given type and shape.
  Tensor(DType dtype, Shape shape);

  template <typename T>
  static Tensor from(Shape shape, std::span<const T> values) {
    Tensor t(dtype_of<T>(), std::move(shape));
    check_count(t.numel(), values.size());
    std::copy(values.begin(), values.end(), t.data<T>().begin());
    return t;
  }
  template <typename T>
  static Tensor from(Shape shape, const std::vector<T>& values) {
    return from<T>(std::move(shape), std::span<const T>(values));
  }
  template <typename T>
  static Tensor scalar(T v) {
    return from<T>({}, std::span<const T>(&v, 1));
  }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<std::size_t>(i)]; }
  int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return bytes_.size(); }
  // True only for a default-constructed Tensor (a scalar has rank 0 and one element).
  bool empty() const { return numel_ == 0 && shape_.empty(); }

  // Typed views; throw std::logic_error if T does not match dtype().
  template <typename T>
  std::span<T> data() {
    check_type(dtype_of<T>());
    return {reinterpret_cast<T*>(bytes_.data()), static_cast<std::size_t>(numel_)};
  }
  template <typename T>
  std::span<const T> data() const {
    check_type(dtype_of<T>());
    return {reinterpret_cast<const T*>(bytes_.data()), static_cast<std::size_t>(numel_)};
  }
  std::span<std::byte> bytes() { return bytes_; }
  std::span<const std::byte> bytes() const { return bytes_; }

  // Same data, new shape with the same element count.
  Tensor reshaped(Shape new_shape) const&;
  Tensor reshaped(Shape new_shape) &&;

  // Element i converted to double / int64 whatever the dtype (for shape tensors,
  // scalars and tests; not for hot loops).
  double as_double(int64_t i) const;
  int64_t as_int64(int64_t i) const;
  // Copy converted to another dtype.
  Tensor cast(DType to) const;

 private:
  void check_type(DType want) const;
  static void check_count(int64_t want, std::size_t got);

  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<std::byte, AlignedAllocator<std::byte>> bytes_;
};

}  // namespace qsim
