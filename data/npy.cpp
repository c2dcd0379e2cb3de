#include "data/npy.h"

#include <cstring>
#include <numeric>
#include <vector>

#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/limits.h"
#include "runtime/kernels.h"
#include "runtime/thread_pool.h"

namespace qsim {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Descr {
  const char* text;  // without the byte-order character
  DType dtype;
};
constexpr Descr kDescrs[] = {{"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"i1", DType::kInt8},
                             {"u1", DType::kUInt8},   {"i2", DType::kInt16},   {"u2", DType::kUInt16},
                             {"i4", DType::kInt32},   {"u4", DType::kUInt32},  {"i8", DType::kInt64},
                             {"u8", DType::kUInt64},  {"b1", DType::kBool}};

// The value of `key` in the header dict: a quoted string, True/False, or a tuple.
std::string header_value(std::string_view header, std::string_view key, const std::string& source) {
  std::string quoted;
  quoted.reserve(key.size() + 2);
  quoted += '\'';
  quoted += key;
  quoted += '\'';
  const auto k = header.find(quoted);
  if (k == std::string_view::npos) fail("{}: .npy header has no '{}'", source, key);
  auto p = header.find(':', k + quoted.size());
  if (p == std::string_view::npos) fail("{}: malformed .npy header", source);
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) fail("{}: malformed .npy header", source);
  std::size_t end;
  if (header[p] == '\'') {
    end = header.find('\'', p + 1);
    if (end == std::string_view::npos) fail("{}: malformed .npy header", source);
    return std::string(header.substr(p + 1, end - p - 1));
  }
  if (header[p] == '(') {
    end = header.find(')', p);
    if (end == std::string_view::npos) fail("{}: malformed .npy header", source);
    return std::string(header.substr(p, end - p + 1));
  }
  end = header.find_first_of(",}", p);
  if (end == std::string_view::npos) fail("{}: malformed .npy header", source);
  return std::string(header.substr(p, end - p));
}

Shape parse_shape(const std::string& tuple, const std::string& source) {
  Shape s;
  std::size_t i = 1;  // after '('
  while (i < tuple.size()) {
    while (i < tuple.size() && (tuple[i] == ' ' || tuple[i] == ',')) ++i;
    if (i >= tuple.size() || tuple[i] == ')') break;
    std::size_t used = 0;
    long long d = 0;
    try {
      d = std::stoll(tuple.substr(i), &used);
    } catch (const std::exception&) {
      fail("{}: bad shape {} in .npy header", source, tuple);
    }
    if (d < 0 || used == 0) fail("{}: bad shape {} in .npy header", source, tuple);
    s.push_back(d);
    i += used;
  }
  return s;
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) fail("{}: not a .npy file", source);
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("{}: truncated .npy header", source);
    header_len = 0;
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    fail("{}: .npy format version {} is not supported", source, major);
  }
  if (bytes.size() < header_start + header_len) fail("{}: truncated .npy header", source);
  const std::string_view header = bytes.substr(header_start, header_len);
  const std::string descr = header_value(header, "descr", source);
  const std::string fortran = header_value(header, "fortran_order", source);
  const Shape shape = parse_shape(header_value(header, "shape", source), source);

  if (descr.size() != 3) fail("{}: .npy element type '{}' is not supported", source, descr);
  const char order = descr[0];
  const std::string code = descr.substr(1);
  const Descr* d = nullptr;
  for (const Descr& c : kDescrs)
    if (code == c.text) d = &c;
  if (!d) fail("{}: .npy element type '{}' is not supported", source, descr);
  if (order == '>' && dtype_size(d->dtype) > 1)
    fail("{}: big-endian .npy data ('{}') is not supported", source, descr);

  // Sizes are checked against the data present before anything is allocated.
  const std::size_t data_start = header_start + header_len;
  int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    fail("{}: {}", source, e.what());
  }
  const auto esize = static_cast<int64_t>(dtype_size(d->dtype));
  const auto avail = static_cast<int64_t>(bytes.size() - data_start);
  if (numel > avail / esize)
    fail("{}: .npy data is truncated ({} bytes for shape {}, need {})", source, avail, shape_str(shape),
         numel <= INT64_MAX / esize ? fmt::format("{}", numel * esize) : std::string("more than 2^63"));
  check_memory(numel * esize, fmt::format("{}: the .npy array of shape {}", source, shape_str(shape)));
  Tensor t(d->dtype, shape);
  if (fortran != "True" && fortran != "False")
    fail("{}: .npy header has fortran_order '{}', expected True or False", source, fortran);
  if (fortran == "True" && shape.size() > 1 && t.numel() > 0) {  // nothing to transpose in an empty array
    // Fortran order is the row-major layout of the reversed shape: transpose back.
    Shape rev(shape.rbegin(), shape.rend());
    std::vector<int64_t> perm(shape.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
    ThreadPool inline_pool(1);
    // The data may start at any offset of the file: an aligned copy for the typed transpose.
    Tensor src(d->dtype, rev);
    std::memcpy(src.bytes().data(), bytes.data() + data_start, t.nbytes());
    kernels::transpose(src.bytes().data(), t.bytes().data(), dtype_size(d->dtype), rev, perm, inline_pool);
  } else {
    if (t.nbytes() > 0) std::memcpy(t.bytes().data(), bytes.data() + data_start, t.nbytes());
  }
  return t;
}

Tensor read_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  return parse_npy(bytes, path);
}

std::string npy_bytes(const Tensor& t) {
  const char* code = nullptr;
  for (const Descr& c : kDescrs)
    if (c.dtype == t.dtype()) code = c.text;
  const char order = dtype_size(t.dtype()) == 1 ? '|' : '<';
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.shape().size() > 1) shape.resize(shape.size() - 2);
  else if (t.shape().size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}{}', 'fortran_order': False, 'shape': {}, }}", order, code, shape);
  // Pad with spaces so that magic + length + header + '\n' is a multiple of 64.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(t.bytes().data()), t.nbytes());
  return out;
}

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, npy_bytes(t)); }

}  // namespace qsim
