// Wire-level pre-pass for ONNX import: large tensor payloads stay in the file.
//
// Parsing a ModelProto copies every weight into protobuf strings (vgg16: 553 MB,
// about 1 s, twice the memory). The importer needs weights only when it keeps
// them (and then wants them once, in a Tensor), so before parsing it copies the
// serialized model leaving out the payload of every large initializer and
// Constant-node tensor; the stripped TensorProto gets an unknown varint field
// holding an index into a table of payload locations, decoded on demand
// straight from the (memory-mapped) input. Everything else is parsed by
// protobuf as usual.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qsim {

// A TensorProto data field left in the input buffer.
struct TensorPayload {
  uint32_t field = 0;  // TensorProto field: 9 raw_data, 4 float_data, 5 int32_data, 7 int64_data,
                       // 10 double_data, 11 uint64_data (the repeated ones packed)
  std::string_view bytes;  // inside the caller's buffer, which must outlive the payload
};

// The unknown field number that marks a stripped TensorProto.
inline constexpr uint32_t kPayloadRefField = 536870000;

// Copy of the serialized ModelProto in `in` without the payloads of at least
// `min_bytes`, which are appended to `payloads`. Returns nullopt when `in` is not
// well-formed at the levels it walks (the caller then lets protobuf parse `in`
// itself and report the error).
std::optional<std::string> strip_tensor_payloads(std::string_view in, std::size_t min_bytes,
                                                 std::vector<TensorPayload>& payloads);

// The payload index a stripped TensorProto carries: the kPayloadRefField varint
// among its unknown fields (the serialized bytes the lite protobuf runtime keeps);
// nullopt if there is none.
std::optional<uint64_t> payload_ref(std::string_view unknown_fields);

// Number of elements in a payload (varints are counted); nullopt if malformed.
std::optional<int64_t> payload_count(const TensorPayload& p);

// Decodes a payload into `out` (numel elements of `esize` bytes, little-endian,
// already sized). Varint fields are narrowed to the element size like protobuf's
// typed fields are. Returns false if malformed.
bool decode_payload(const TensorPayload& p, std::size_t esize, std::byte* out, int64_t numel);

}  // namespace qsim
