// NumPy .npy files (format versions 1.0, 2.0 and 3.0) <-> Tensor.
//
// Reads little-endian numeric and bool arrays in C or Fortran order (Fortran
// arrays are transposed into row-major); writes version 1.0, C order, with the
// header padded to 64 bytes as numpy does. Any defect throws qsim::Error naming
// the file.
#pragma once

#include <string>
#include <string_view>

#include "graph/tensor.h"

namespace qsim {

Tensor read_npy(const std::string& path);
Tensor parse_npy(std::string_view bytes, const std::string& source);

std::string npy_bytes(const Tensor& t);
// Atomic: a failure leaves no partial file.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace qsim
