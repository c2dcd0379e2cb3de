// Byte-level builders for input files the tests and the fuzz seed generator write
// by hand (gzip streams, IDX files), shared so both produce the same formats.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qsim::testing {

// `data` as a gzip stream (best compression).
inline std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An IDX file: element type `code`, big-endian dimensions, then `data` as given.
inline std::string idx(uint8_t code, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out{'\0', '\0', static_cast<char>(code), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  return out + data;
}

}  // namespace qsim::testing
