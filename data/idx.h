// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Header: two zero bytes, an element-type code (0x08 uint8, 0x09 int8, 0x0B
// int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then
// one big-endian uint32 per dimension; the data follows in big-endian row-major
// order. gzip input is recognised by its magic bytes and inflated with zlib.
#pragma once

#include <string>
#include <string_view>

#include "graph/tensor.h"

namespace qsim {

// Throws qsim::Error naming the file for a missing file, bad gzip stream,
// unknown type code, or data shorter than the header promises.
Tensor read_idx(const std::string& path);
Tensor parse_idx(std::string_view bytes, const std::string& source);

// gunzip of a whole buffer (returned unchanged when it is not gzip).
std::string maybe_gunzip(std::string_view bytes, const std::string& source);

}  // namespace qsim
