#include "graph/onnx_import_wire.h"

#include <cstring>

namespace qsim {

namespace {

// Protobuf wire types.
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5;

// Field numbers along the paths we walk (onnx.proto).
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1, kGraphInitializer = 5;
constexpr uint32_t kNodeAttribute = 5;
constexpr uint32_t kAttrTensor = 5;
constexpr uint32_t kTensorFloat = 4, kTensorInt32 = 5, kTensorInt64 = 7, kTensorRaw = 9, kTensorDouble = 10,
                   kTensorUint64 = 11;

bool is_data_field(uint32_t f) {
  return f == kTensorFloat || f == kTensorInt32 || f == kTensorInt64 || f == kTensorRaw || f == kTensorDouble ||
         f == kTensorUint64;
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  std::size_t pos() const { return pos_; }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= s_.size()) return false;
      const auto b = static_cast<uint8_t>(s_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  // One field: its number, wire type and the bytes of its value (for kLen, the
  // content without the length prefix). Groups are not accepted.
  bool field(uint32_t& number, uint32_t& wire, std::string_view& value) {
    uint64_t tag = 0;
    if (!varint(tag)) return false;
    number = static_cast<uint32_t>(tag >> 3);
    wire = static_cast<uint32_t>(tag & 7);
    if (number == 0) return false;
    const std::size_t start = pos_;
    switch (wire) {
      case kVarint: {
        uint64_t v = 0;
        if (!varint(v)) return false;
        value = s_.substr(start, pos_ - start);
        return true;
      }
      case kFixed64:
      case kFixed32: {
        const std::size_t n = wire == kFixed64 ? 8 : 4;
        if (s_.size() - pos_ < n) return false;
        value = s_.substr(pos_, n);
        pos_ += n;
        return true;
      }
      case kLen: {
        uint64_t len = 0;
        if (!varint(len) || len > s_.size() - pos_) return false;
        value = s_.substr(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return true;
      }
      default: return false;
    }
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_len_field(std::string& out, uint32_t number, std::string_view content) {
  put_varint(out, (static_cast<uint64_t>(number) << 3) | kLen);
  put_varint(out, content.size());
  out.append(content);
}

struct Stripper {
  std::size_t min_bytes;
  std::vector<TensorPayload>& payloads;

  // A TensorProto: stripped only when it has exactly one data chunk and that
  // chunk is large (protobuf merges repeated chunks; we leave such cases to it).
  bool tensor(std::string_view in, std::string& out) {
    Reader r(in);
    int chunks = 0;
    uint32_t data_field = 0;
    std::string_view data;
    uint32_t f = 0, w = 0;
    std::string_view v;
    while (!r.done()) {
      if (!r.field(f, w, v)) return false;
      if (is_data_field(f)) {
        ++chunks;
        data_field = f;
        data = v;
        if (w != kLen) chunks = 2;  // unpacked elements: keep verbatim
      }
    }
    if (chunks != 1 || data.size() < min_bytes) {
      out.append(in);
      return true;
    }
    Reader r2(in);
    std::size_t prev = 0;
    while (!r2.done()) {
      r2.field(f, w, v);
      if (f != data_field) out.append(in.substr(prev, r2.pos() - prev));
      prev = r2.pos();
    }
    put_varint(out, static_cast<uint64_t>(kPayloadRefField) << 3 | kVarint);
    put_varint(out, payloads.size());
    payloads.push_back({data_field, data});
    return true;
  }

  // Walks a message, rewriting the fields listed in `descend` with `child`.
  template <typename Child>
  bool message(std::string_view in, std::string& out, uint32_t descend, Child child) {
    Reader r(in);
    std::size_t prev = 0;
    uint32_t f = 0, w = 0;
    std::string_view v;
    while (!r.done()) {
      if (!r.field(f, w, v)) return false;
      if (f == descend && w == kLen) {
        std::string sub;
        if (!child(v, sub)) return false;
        put_len_field(out, f, sub);
      } else {
        out.append(in.substr(prev, r.pos() - prev));
      }
      prev = r.pos();
    }
    return true;
  }

  bool attribute(std::string_view in, std::string& out) {
    return message(in, out, kAttrTensor, [this](std::string_view s, std::string& o) { return tensor(s, o); });
  }
  bool node(std::string_view in, std::string& out) {
    return message(in, out, kNodeAttribute, [this](std::string_view s, std::string& o) { return attribute(s, o); });
  }
  bool graph(std::string_view in, std::string& out) {
    Reader r(in);
    std::size_t prev = 0;
    uint32_t f = 0, w = 0;
    std::string_view v;
    while (!r.done()) {
      if (!r.field(f, w, v)) return false;
      if (w == kLen && (f == kGraphInitializer || f == kGraphNode)) {
        std::string sub;
        if (!(f == kGraphInitializer ? tensor(v, sub) : node(v, sub))) return false;
        put_len_field(out, f, sub);
      } else {
        out.append(in.substr(prev, r.pos() - prev));
      }
      prev = r.pos();
    }
    return true;
  }
  bool model(std::string_view in, std::string& out) {
    return message(in, out, kModelGraph, [this](std::string_view s, std::string& o) { return graph(s, o); });
  }
};

}  // namespace

std::optional<std::string> strip_tensor_payloads(std::string_view in, std::size_t min_bytes,
                                                 std::vector<TensorPayload>& payloads) {
  const std::size_t first = payloads.size();
  Stripper s{min_bytes, payloads};
  std::string out;
  if (!s.model(in, out)) {
    payloads.resize(first);
    return std::nullopt;
  }
  return out;
}

std::optional<uint64_t> payload_ref(std::string_view unknown_fields) {
  // A stripped tensor holds no groups (the stripper leaves a tensor it cannot walk
  // to protobuf), so its unknown fields are readable field by field.
  Reader r(unknown_fields);
  uint32_t f = 0, w = 0;
  std::string_view v;
  while (!r.done()) {
    if (!r.field(f, w, v)) return std::nullopt;
    if (f == kPayloadRefField && w == kVarint) {
      Reader value(v);
      uint64_t index = 0;
      if (value.varint(index)) return index;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> payload_count(const TensorPayload& p) {
  switch (p.field) {
    case kTensorRaw: return static_cast<int64_t>(p.bytes.size());
    case kTensorFloat:
      if (p.bytes.size() % 4) return std::nullopt;
      return static_cast<int64_t>(p.bytes.size() / 4);
    case kTensorDouble:
      if (p.bytes.size() % 8) return std::nullopt;
      return static_cast<int64_t>(p.bytes.size() / 8);
    default: {
      if (!p.bytes.empty() && (static_cast<uint8_t>(p.bytes.back()) & 0x80)) return std::nullopt;
      int64_t n = 0;
      for (char c : p.bytes) n += (static_cast<uint8_t>(c) & 0x80) ? 0 : 1;
      return n;
    }
  }
}

bool decode_payload(const TensorPayload& p, std::size_t esize, std::byte* out, int64_t numel) {
  const auto n = static_cast<std::size_t>(numel);
  switch (p.field) {
    case kTensorRaw:
    case kTensorFloat:
    case kTensorDouble:
      // Fixed-width little-endian elements of exactly the element size.
      if (p.bytes.size() != n * esize) return false;
      if (n) std::memcpy(out, p.bytes.data(), p.bytes.size());
      return true;
    default: {
      Reader r(p.bytes);
      for (std::size_t i = 0; i < n; ++i) {
        uint64_t v = 0;
        if (!r.varint(v)) return false;
        std::memcpy(out + i * esize, &v, esize);  // low bytes: little-endian narrowing
      }
      return r.done();
    }
  }
}

}  // namespace qsim
