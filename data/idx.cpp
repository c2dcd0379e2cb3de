#include "data/idx.h"

#include <cstring>

#include <zlib.h>

#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/limits.h"

namespace qsim {

std::string maybe_gunzip(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x1f || static_cast<unsigned char>(bytes[1]) != 0x8b)
    return std::string(bytes);
  z_stream z{};
  // 15 + 16: zlib window with gzip header decoding.
  if (inflateInit2(&z, 15 + 16) != Z_OK) fail("{}: cannot initialise zlib", source);
  std::string out;
  out.resize(bytes.size() * 4 + 1024);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.total_out == out.size()) {
      // A gzip bomb stops at the memory limit instead of exhausting memory.
      try {
        check_memory(static_cast<int64_t>(out.size()) * 2, "the inflated gzip data");
      } catch (const Error& e) {
        inflateEnd(&z);
        fail("{}: {}", source, e.what());
      }
      out.resize(out.size() * 2);
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended before the stream did
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      const std::string msg = z.msg ? z.msg : "corrupt data";
      inflateEnd(&z);
      fail("{}: bad gzip data: {}", source, msg);
    }
  }
  const bool complete = rc == Z_STREAM_END;
  out.resize(z.total_out);
  inflateEnd(&z);
  if (!complete) fail("{}: gzip data is truncated", source);
  return out;
}

Tensor parse_idx(std::string_view raw, const std::string& source) {
  const std::string bytes = maybe_gunzip(raw, source);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) fail("{}: not an IDX file", source);
  const auto code = static_cast<unsigned char>(bytes[2]);
  const int rank = static_cast<unsigned char>(bytes[3]);
  DType t;
  switch (code) {
    case 0x08: t = DType::kUInt8; break;
    case 0x09: t = DType::kInt8; break;
    case 0x0B: t = DType::kInt16; break;
    case 0x0C: t = DType::kInt32; break;
    case 0x0D: t = DType::kFloat32; break;
    case 0x0E: t = DType::kFloat64; break;
    default: fail("{}: unknown IDX element type 0x{:02x}", source, code);
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (bytes.size() < header) fail("{}: truncated IDX header", source);
  Shape shape;
  for (int i = 0; i < rank; ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + 4 + 4 * i);
    shape.push_back((int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | int64_t{p[3]});
  }
  // Sizes are checked against the data present before anything is allocated.
  int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    fail("{}: {}", source, e.what());
  }
  const auto esize = static_cast<int64_t>(dtype_size(t));
  const auto avail = static_cast<int64_t>(bytes.size() - header);
  if (numel > avail / esize)
    fail("{}: IDX data is truncated ({} bytes for shape {}, need {})", source, avail, shape_str(shape),
         numel <= INT64_MAX / esize ? fmt::format("{}", numel * esize) : std::string("more than 2^63"));
  check_memory(numel * esize, fmt::format("{}: the IDX array of shape {}", source, shape_str(shape)));
  Tensor out(t, shape);
  const std::size_t es = dtype_size(t);
  auto* dst = out.bytes().data();
  const char* src = bytes.data() + header;
  if (out.nbytes() == 0) {
    // nothing to copy (a zero dimension): no memcpy on a null buffer
  } else if (es == 1) {
    std::memcpy(dst, src, out.nbytes());
  } else {
    for (std::size_t i = 0; i < out.nbytes(); i += es)  // big-endian -> host (little-endian)
      for (std::size_t b = 0; b < es; ++b) dst[i + b] = static_cast<std::byte>(src[i + es - 1 - b]);
  }
  return out;
}

Tensor read_idx(const std::string& path) { return parse_idx(read_file(path), path); }

}  // namespace qsim
