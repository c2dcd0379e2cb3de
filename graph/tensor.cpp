#include "graph/tensor.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/limits.h"

namespace qsim {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt8: return 1;
    case DType::kUInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kUInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kUInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt64: return 8;
    case DType::kBool: return 1;
  }
  return 1;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kUInt16: return "uint16";
    case DType::kInt32: return "int32";
    case DType::kUInt32: return "uint32";
    case DType::kInt64: return "int64";
    case DType::kUInt64: return "uint64";
    case DType::kBool: return "bool";
  }
  return "?";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) fail("negative dimension {} in shape {}", d, shape_str(s));
    // An overflow check by multiplication, not by division: stats and lowering call this per value.
    if (__builtin_mul_overflow(n, d, &n)) fail("shape {} has more than 2^63 elements", shape_str(s));
  }
  return n;
}

std::string shape_str(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  const auto esize = static_cast<int64_t>(dtype_size(dtype_));
  if (numel_ > INT64_MAX / esize) fail("tensor of shape {} is too large", shape_str(shape_));
  // Refused before allocating: a hostile shape must not reach the allocator.
  if (numel_ * esize > (int64_t{1} << 20))
    check_memory(numel_ * esize, fmt::format("a {} tensor of shape {}", dtype_name(dtype_), shape_str(shape_)));
  bytes_.assign(static_cast<std::size_t>(numel_ * esize), std::byte{0});
}

void Tensor::check_type(DType want) const {
  if (want != dtype_)
    throw std::logic_error(
        fmt::format("tensor is {}, accessed as {}", dtype_name(dtype_), dtype_name(want)));
}

void Tensor::check_count(int64_t want, std::size_t got) {
  if (static_cast<std::size_t>(want) != got)
    throw std::logic_error(fmt::format("tensor needs {} values, got {}", want, got));
}

Tensor Tensor::reshaped(Shape new_shape) const& {
  Tensor t = *this;
  return std::move(t).reshaped(std::move(new_shape));
}

Tensor Tensor::reshaped(Shape new_shape) && {
  if (shape_numel(new_shape) != numel_)
    throw std::logic_error(fmt::format("cannot reshape {} to {}", shape_str(shape_),
                                       shape_str(new_shape)));
  shape_ = std::move(new_shape);
  return std::move(*this);
}


double Tensor::as_double(int64_t i) const {
  return visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[static_cast<std::size_t>(i)]);
  });
}

int64_t Tensor::as_int64(int64_t i) const {
  return visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    return static_cast<int64_t>(data<T>()[static_cast<std::size_t>(i)]);
  });
}

Tensor Tensor::cast(DType to) const {
  Tensor out(to, shape_);
  visit_dtype(dtype_, [&](auto from_tag) {
    using From = decltype(from_tag);
    auto src = data<From>();
    visit_dtype(to, [&](auto to_tag) {
      using To = decltype(to_tag);
      auto dst = out.data<To>();
      for (std::size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<To>(src[i]);
      return 0;
    });
    return 0;
  });
  return out;
}

}  // namespace qsim
