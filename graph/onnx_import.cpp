#include "graph/onnx_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>
#include <onnx/onnx.pb.h>  // generated from Debian's onnx.proto (graph/CMakeLists.txt)

#include "graph/error.h"
#include "graph/limits.h"
#include "graph/onnx_import_fold.h"
#include "graph/onnx_import_wire.h"
#include "graph/passes.h"
#include "graph/shape_inference.h"

namespace qsim {

namespace {

static_assert(std::endian::native == std::endian::little, "raw_data is little-endian; add byte swapping");

constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 21;
// Tensor payloads from this size on stay in the mapped file until needed.
constexpr std::size_t kStripPayloadBytes = 1024;

// Messages quote names from the file, which may hold any bytes: control
// characters are escaped so a message always stays on one line.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// An Error whose message already names the file; the per-node wrapper must not
// prefix it again.
class LocatedError : public Error {
 public:
  explicit LocatedError(const std::string& what) : Error(one_line(what)) {}
};

std::optional<DType> dtype_from_onnx(int64_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kFloat32;
    case onnx::TensorProto::DOUBLE: return DType::kFloat64;
    case onnx::TensorProto::INT8: return DType::kInt8;
    case onnx::TensorProto::UINT8: return DType::kUInt8;
    case onnx::TensorProto::INT16: return DType::kInt16;
    case onnx::TensorProto::UINT16: return DType::kUInt16;
    case onnx::TensorProto::INT32: return DType::kInt32;
    case onnx::TensorProto::UINT32: return DType::kUInt32;
    case onnx::TensorProto::INT64: return DType::kInt64;
    case onnx::TensorProto::UINT64: return DType::kUInt64;
    case onnx::TensorProto::BOOL: return DType::kBool;
    default: return std::nullopt;
  }
}

std::string onnx_type_name(int64_t t) {
  if (t >= std::numeric_limits<int>::min() && t <= std::numeric_limits<int>::max() &&
      onnx::TensorProto_DataType_IsValid(static_cast<int>(t)))
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  return "type " + std::to_string(t);
}

// Element type and shape of a TensorProto, after checking that its data is
// present, inline and of the right size. `what` starts the messages.
struct ProtoInfo {
  DType dtype;
  Shape shape;
};
// The payload a wire pre-pass left in the input for `t`, if any.
const TensorPayload* stripped_payload(const onnx::TensorProto& t, std::span<const TensorPayload> payloads) {
  const std::optional<uint64_t> ref = payload_ref(t.unknown_fields());
  return ref && *ref < payloads.size() ? &payloads[static_cast<std::size_t>(*ref)] : nullptr;
}

// Whether the payload field can hold elements of `dt` (as the typed fields do).
bool payload_fits(uint32_t field, DType dt) {
  switch (field) {
    case 9: return true;
    case 4: return dt == DType::kFloat32;
    case 10: return dt == DType::kFloat64;
    case 7: return dt == DType::kInt64;
    case 11: return dt == DType::kUInt32 || dt == DType::kUInt64;
    case 5:
      return dt == DType::kInt8 || dt == DType::kUInt8 || dt == DType::kInt16 || dt == DType::kUInt16 ||
             dt == DType::kInt32 || dt == DType::kBool;
    default: return false;
  }
}

ProtoInfo check_tensor_proto(const onnx::TensorProto& t, std::span<const TensorPayload> payloads,
                             const std::string& what) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location") location = kv.value();
    fail("{} stores its data in an external file ('{}'); external data is not supported", what, location);
  }
  if (t.has_segment()) fail("{} is segmented; segmented tensors are not supported", what);
  const auto dt = dtype_from_onnx(t.data_type());
  if (!dt) fail("{} has element type {}, which is not supported", what, onnx_type_name(t.data_type()));
  Shape shape(t.dims().begin(), t.dims().end());
  for (int64_t d : shape)
    if (d < 0) fail("{} has a negative dimension in shape {}", what, shape_str(shape));
  int64_t n = 0;
  try {
    n = shape_numel(shape);
    if (n > std::numeric_limits<int64_t>::max() / 8) fail("too many elements");
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
  const TensorPayload* payload = stripped_payload(t, payloads);
  if (payload && !payload_fits(payload->field, *dt))
    fail("{} stores {} data in the wrong field", what, dtype_name(*dt));
  const bool raw = payload ? payload->field == 9 : t.has_raw_data();
  const auto count = [&]() -> int64_t {
    if (payload) {
      const auto c = payload_count(*payload);
      if (!c) fail("{} has corrupt data", what);
      return *c;
    }
    if (t.has_raw_data()) return static_cast<int64_t>(t.raw_data().size());
    switch (*dt) {
      case DType::kFloat32: return t.float_data_size();
      case DType::kFloat64: return t.double_data_size();
      case DType::kInt64: return t.int64_data_size();
      case DType::kUInt32:
      case DType::kUInt64: return t.uint64_data_size();
      default: return t.int32_data_size();
    }
  }();
  const int64_t want = raw ? n * static_cast<int64_t>(dtype_size(*dt)) : n;
  if (count != want)
    fail("{} has {} {} of data, expected {} for shape {} of {}", what, count, raw ? "bytes" : "values",
         want, shape_str(shape), dtype_name(*dt));
  return {*dt, std::move(shape)};
}

template <typename T, typename Field>
void copy_field(Tensor& out, const Field& f) {
  auto d = out.data<T>();
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<T>(f[static_cast<int>(i)]);
}

Tensor decode_tensor_proto(const onnx::TensorProto& t, std::span<const TensorPayload> payloads,
                           const std::string& what) {
  ProtoInfo info = check_tensor_proto(t, payloads, what);
  Tensor out(info.dtype, std::move(info.shape));
  if (const TensorPayload* p = stripped_payload(t, payloads)) {
    if (!decode_payload(*p, dtype_size(out.dtype()), out.bytes().data(), out.numel()))
      fail("{} has corrupt data", what);
    return out;
  }
  if (t.has_raw_data()) {
    if (out.nbytes() > 0) std::memcpy(out.bytes().data(), t.raw_data().data(), out.nbytes());
    return out;
  }
  switch (info.dtype) {
    case DType::kFloat32: copy_field<float>(out, t.float_data()); break;
    case DType::kFloat64: copy_field<double>(out, t.double_data()); break;
    case DType::kInt8: copy_field<int8_t>(out, t.int32_data()); break;
    case DType::kUInt8: copy_field<uint8_t>(out, t.int32_data()); break;
    case DType::kInt16: copy_field<int16_t>(out, t.int32_data()); break;
    case DType::kUInt16: copy_field<uint16_t>(out, t.int32_data()); break;
    case DType::kInt32: copy_field<int32_t>(out, t.int32_data()); break;
    case DType::kBool: copy_field<bool>(out, t.int32_data()); break;
    case DType::kInt64: copy_field<int64_t>(out, t.int64_data()); break;
    case DType::kUInt32: copy_field<uint32_t>(out, t.uint64_data()); break;
    case DType::kUInt64: copy_field<uint64_t>(out, t.uint64_data()); break;
  }
  return out;
}

// Drops a TensorProto's payload once it has been decoded (big models would
// otherwise hold every weight twice).
void release_payload(onnx::TensorProto& t) {
  std::string().swap(*t.mutable_raw_data());
  t.clear_float_data();
  t.clear_double_data();
  t.clear_int32_data();
  t.clear_int64_data();
  t.clear_uint64_data();
}

template <typename M>
void parse_proto(M& msg, const void* data, std::size_t size, const std::string& source, const char* what) {
  if (size == 0) fail("{}: empty file, not an {}", source, what);
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    fail("{}: {} bytes is more than protobuf's 2 GB limit", source, size);
  google::protobuf::io::ArrayInputStream in(data, static_cast<int>(size));
  google::protobuf::io::CodedInputStream cis(&in);
  // The default limit (64 MB in older releases) would refuse vgg16 and other big models.
  cis.SetTotalBytesLimit(std::numeric_limits<int>::max());
  if (!msg.ParseFromCodedStream(&cis) || !cis.ConsumedEntireMessage())
    fail("{}: not a valid {} (protobuf parse failed: truncated or corrupt file)", source, what);
}

// Read-only memory map of a whole file, unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      fail("{}: cannot open: {}", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("{}: cannot open: not a regular file", path);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        ::close(fd);
        fail("{}: cannot read: {}", path, std::strerror(e));
      }
      data_ = p;
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const void* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

const std::unordered_set<std::string_view>& supported_ops() {
  static const std::unordered_set<std::string_view> ops{
      "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
      "HardSwish", "Mul", "Add", "Sum", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
      "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Dropout", "Identity", "Softmax", "LRN", "Pad",
      "QuantizeLinear", "DequantizeLinear",
      // folded at import
      "Constant", "ConstantOfShape", "Shape", "Gather", "Cast"};
  return ops;
}

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

std::string node_label(const onnx::NodeProto& n, int index) {
  if (!n.name().empty()) return n.name();
  for (const auto& o : n.output())
    if (!o.empty()) return o;
  return fmt::format("#{}", index);
}

class Importer {
 public:
  Importer(onnx::ModelProto& model, std::span<const TensorPayload> payloads, std::string source,
           const OnnxImportOptions& opts)
      : model_(model), payloads_(payloads), src_(std::move(source)), opts_(opts) {}

  LayerGraph run();

 private:
  using Attr = onnx::AttributeProto;

  // ---- errors ----
  template <typename... A>
  [[noreturn]] void fail_model(fmt::format_string<A...> f, A&&... args) const {
    throw LocatedError(src_ + ": " + fmt::format(f, std::forward<A>(args)...));
  }
  template <typename... A>
  [[noreturn]] void fail_node(fmt::format_string<A...> f, A&&... args) const {
    throw LocatedError(fmt::format("{}: node '{}' ({}): {}", src_, cur_label_, cur_->op_type(),
                                   fmt::format(f, std::forward<A>(args)...)));
  }

  // ---- model-level steps ----
  void read_opset();
  void check_operators() const;
  void add_initializers();
  void add_graph_inputs();
  void set_graph_outputs();
  [[noreturn]] void fail_unknown_input(const std::string& name) const;
  int find_cycle() const;

  // ---- attributes of the current node ----
  const Attr* attr(std::string_view name) const;
  int64_t attr_int(std::string_view name, int64_t def) const;
  float attr_float(std::string_view name, float def) const;
  std::string attr_string(std::string_view name, const std::string& def) const;
  std::optional<std::vector<int64_t>> attr_ints(std::string_view name) const;

  // ---- values ----
  ValueId add_value(const std::string& name, DType dt, Shape shape, bool is_constant);
  ValueId add_constant(const std::string& name, DType dt, Shape shape, std::function<Tensor()> thunk);
  ValueId add_constant_data(const std::string& name, Tensor t);
  const Tensor& data(ValueId v);
  Shape shape(ValueId v) const { return g_.value(v).shape; }
  DType dtype(ValueId v) const { return g_.value(v).dtype; }
  bool is_const(ValueId v) const { return v >= 0 && g_.value(v).is_constant; }
  ValueId input(int i) const;  // -1 when absent or empty
  ValueId need(int i, const char* what) const;
  std::vector<int64_t> const_ints(ValueId v, const char* what);
  double const_scalar(ValueId v, const char* what);
  const std::string& out_name(int i) const { return cur_->output(i); }
  bool has_output(int i) const { return i < cur_->output_size() && !cur_->output(i).empty(); }

  // ---- node emission ----
  std::string unique_node_name();
  void emit(OpKind op, std::vector<ValueId> inputs, OpAttrs attrs, std::vector<std::pair<DType, Shape>> outs);
  // Output `i` of the current node as a lazily evaluated constant.
  void const_output(int i, DType dt, Shape shape, std::function<Tensor()> thunk);
  // Output 0 is the same tensor as `v` (Identity, Dropout, Cast to the same type).
  void pass_through(ValueId v);

  // ---- operators ----
  void import_node();
  void import_conv();
  void import_pool(bool is_max);
  void import_gemm();
  void import_matmul();
  void import_batchnorm();
  void import_activation(ActKind kind);
  void import_binary(OpKind op);
  void import_sum();
  void import_concat();
  void import_flatten();
  void import_reshape();
  void import_transpose();
  void import_squeeze(bool unsqueeze);
  void import_dropout();
  void import_softmax();
  void import_lrn();
  void import_pad();
  void import_quant_linear(bool quantize);
  void import_constant();
  void import_constant_of_shape();
  void import_shape();
  void import_gather();
  void import_cast();

  struct Window {
    std::vector<int64_t> kernel, strides, dilations, pads;
  };
  Window read_window(const Shape& x, std::optional<std::vector<int64_t>> kernel);

  onnx::ModelProto& model_;
  std::span<const TensorPayload> payloads_;  // weights left in the input buffer
  const std::string src_;
  const OnnxImportOptions& opts_;
  int64_t opset_ = 0;
  LayerGraph g_;
  std::unordered_map<std::string, ValueId> by_name_;
  std::vector<std::function<Tensor()>> thunks_;  // by ValueId: how to compute a constant's data
  std::unordered_set<std::string> node_names_;
  std::unordered_set<std::string> graph_output_names_;
  std::vector<ValueId> graph_inputs_;
  std::vector<ValueId> graph_outputs_;
  const onnx::NodeProto* cur_ = nullptr;
  int cur_index_ = -1;
  std::string cur_label_;
};

// ------------------------------------------------------------------ model level

void Importer::read_opset() {
  bool found = false;
  for (const auto& op : model_.opset_import()) {
    if (default_domain(op.domain())) {
      opset_ = op.version();
      found = true;
    }
  }
  if (!found) {
    if (model_.ir_version() >= 3 || model_.opset_import_size() > 0)
      fail_model("the model imports no opset of the default ONNX domain (truncated or not an ONNX model?)");
    opset_ = 1;  // IR < 3 predates opset imports
  }
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    fail_model("opset {} of the default domain is not supported (supported: {} to {})", opset_, kMinOpset,
               kMaxOpset);
}

void Importer::check_operators() const {
  std::vector<std::string> seen;
  std::string list;
  const auto& nodes = model_.graph().node();
  for (int i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    const bool ok = default_domain(n.domain()) && supported_ops().count(n.op_type()) > 0;
    if (ok) continue;
    const std::string op = default_domain(n.domain()) ? n.op_type() : n.domain() + "." + n.op_type();
    if (std::find(seen.begin(), seen.end(), op) != seen.end()) continue;
    seen.push_back(op);
    if (!list.empty()) list += ", ";
    list += fmt::format("{} (node '{}')", op.empty() ? "<empty op_type>" : op, node_label(n, i));
  }
  if (!list.empty()) fail_model("unsupported operators: {}", list);
}

void Importer::add_initializers() {
  const auto& graph = model_.graph();
  if (graph.sparse_initializer_size() > 0)
    fail_model("sparse initializer '{}' is not supported", graph.sparse_initializer(0).values().name());
  auto* inits = model_.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i) {
    onnx::TensorProto* t = inits->Mutable(i);
    const std::string what = fmt::format("{}: initializer '{}'", src_, t->name());
    ProtoInfo info;
    try {
      info = check_tensor_proto(*t, payloads_, what);
    } catch (const Error& e) {
      throw LocatedError(e.what());
    }
    if (t->name().empty()) fail_model("initializer #{} has no name", i);
    if (by_name_.count(t->name())) fail_model("initializer '{}' is defined twice", t->name());
    add_constant(t->name(), info.dtype, std::move(info.shape), [this, t, what] {
      Tensor out = decode_tensor_proto(*t, payloads_, what);
      release_payload(*t);
      return out;
    });
  }
}

void Importer::add_graph_inputs() {
  for (const auto& bound : opts_.constant_inputs) {
    const std::string& name = bound.first;  // not a structured binding: clang 14 cannot capture those
    const auto& ins = model_.graph().input();
    if (std::none_of(ins.begin(), ins.end(), [&](const auto& in) { return in.name() == name; }))
      fail_model("OnnxImportOptions::constant_inputs names '{}', which is not a graph input", name);
  }
  for (const auto& in : model_.graph().input()) {
    const std::string& name = in.name();
    if (by_name_.count(name)) continue;  // has an initializer: a constant (IR < 4 lists weights as inputs)
    const auto bound = opts_.constant_inputs.find(name);
    if (bound != opts_.constant_inputs.end()) {
      const Tensor& t = bound->second;
      if (in.type().has_tensor_type()) {
        const auto& tt = in.type().tensor_type();
        const auto dt = dtype_from_onnx(tt.elem_type());
        if (tt.elem_type() != 0 && (!dt || *dt != t.dtype()))
          fail_model("graph input '{}' is declared {} but its bound value is {}", name, onnx_type_name(tt.elem_type()),
                     dtype_name(t.dtype()));
        bool same = !tt.has_shape() || tt.shape().dim_size() == static_cast<int>(t.rank());
        for (int d = 0; same && tt.has_shape() && d < tt.shape().dim_size(); ++d)
          same = !tt.shape().dim(d).has_dim_value() || tt.shape().dim(d).dim_value() == t.dim(d);
        if (!same)
          fail_model("graph input '{}' has a bound value of shape {} that does not match its declared shape", name,
                     shape_str(t.shape()));
      }
      add_constant_data(name, t);
      continue;
    }
    if (!in.type().has_tensor_type())
      fail_model("graph input '{}' is not a tensor (sequences, maps and optionals are not supported)", name);
    const auto& tt = in.type().tensor_type();
    const auto dt = dtype_from_onnx(tt.elem_type());
    if (!dt) fail_model("graph input '{}' has element type {}, which is not supported", name,
                        onnx_type_name(tt.elem_type()));
    if (!tt.has_shape()) fail_model("graph input '{}' has no shape; static shapes are required", name);
    Shape shape;
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto& dim = tt.shape().dim(d);
      if (dim.has_dim_value()) {
        if (dim.dim_value() < 0) fail_model("graph input '{}' has negative dimension {}", name, dim.dim_value());
        shape.push_back(dim.dim_value());
      } else if (d == 0) {
        shape.push_back(opts_.batch);  // symbolic batch
      } else {
        fail_model("graph input '{}' has a symbolic dimension {} ('{}'); only the batch dimension may be symbolic",
                   name, d, dim.dim_param());
      }
    }
    try {
      shape_numel(shape);
    } catch (const Error& e) {
      fail_model("graph input '{}': {}", name, e.what());
    }
    graph_inputs_.push_back(add_value(name, *dt, std::move(shape), false));
  }
}

void Importer::set_graph_outputs() {
  for (const auto& out : model_.graph().output()) {
    const auto it = by_name_.find(out.name());
    if (it == by_name_.end()) fail_model("graph output '{}' is not produced by any node", out.name());
    const ValueId v = it->second;
    const Value& val = g_.value(v);
    if (out.type().has_tensor_type()) {
      const auto& tt = out.type().tensor_type();
      const auto dt = dtype_from_onnx(tt.elem_type());
      if (tt.elem_type() != 0 && dt && *dt != val.dtype)
        fail_model("graph output '{}' is declared {} but computes {}", out.name(), dtype_name(*dt),
                   dtype_name(val.dtype));
      if (tt.has_shape()) {
        const auto& s = tt.shape();
        bool ok = s.dim_size() == static_cast<int>(val.shape.size());
        for (int d = 0; ok && d < s.dim_size(); ++d)
          if (s.dim(d).has_dim_value() && s.dim(d).dim_value() != val.shape[static_cast<std::size_t>(d)]) ok = false;
        if (!ok) {
          std::string declared;
          for (int d = 0; d < s.dim_size(); ++d) {
            if (d) declared += 'x';
            declared += s.dim(d).has_dim_value() ? std::to_string(s.dim(d).dim_value())
                                                 : (s.dim(d).dim_param().empty() ? "?" : s.dim(d).dim_param());
          }
          fail_model("graph output '{}' is declared {} but shape inference gives {}", out.name(),
                     declared.empty() ? "scalar" : declared, shape_str(val.shape));
        }
      }
    }
    graph_outputs_.push_back(v);
  }
  if (graph_outputs_.empty()) fail_model("the graph has no outputs");
}

// Node index on a cycle of the ONNX graph (edges from producer to consumer), or -1.
int Importer::find_cycle() const {
  const auto& nodes = model_.graph().node();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].output())
      if (!o.empty()) producer.emplace(o, i);
  // Iterative DFS along input edges (consumer -> producer); a back edge closes a cycle.
  std::vector<char> state(static_cast<std::size_t>(nodes.size()), 0);  // 0 new, 1 on stack, 2 done
  for (int root = 0; root < nodes.size(); ++root) {
    if (state[static_cast<std::size_t>(root)]) continue;
    std::vector<std::pair<int, int>> stack{{root, 0}};
    state[static_cast<std::size_t>(root)] = 1;
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next >= nodes[n].input_size()) {
        state[static_cast<std::size_t>(n)] = 2;
        stack.pop_back();
        continue;
      }
      const auto it = producer.find(nodes[n].input(next++));
      if (it == producer.end()) continue;
      const int p = it->second;
      if (state[static_cast<std::size_t>(p)] == 1) return p;
      if (state[static_cast<std::size_t>(p)] == 0) {
        state[static_cast<std::size_t>(p)] = 1;
        stack.emplace_back(p, 0);
      }
    }
  }
  return -1;
}

void Importer::fail_unknown_input(const std::string& name) const {
  const auto& nodes = model_.graph().node();
  for (int j = cur_index_ + 1; j < nodes.size(); ++j) {
    for (const auto& o : nodes[j].output()) {
      if (o != name) continue;
      const int c = find_cycle();
      if (c >= 0) fail_model("the graph has a cycle through node '{}'", node_label(nodes[c], c));
      fail_node("input '{}' is used before it is produced (by node '{}' later in the file; ONNX requires "
                "topological order)",
                name, node_label(nodes[j], j));
    }
  }
  fail_node("input '{}' is missing: no initializer, graph input or node output has that name", name);
}

// ------------------------------------------------------------------ attributes

const onnx::AttributeProto* Importer::attr(std::string_view name) const {
  for (const auto& a : cur_->attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t Importer::attr_int(std::string_view name, int64_t def) const {
  const Attr* a = attr(name);
  if (!a) return def;
  if (a->type() != Attr::INT && !(a->type() == Attr::UNDEFINED && a->has_i()))
    fail_node("attribute '{}' must be an int", name);
  return a->i();
}

float Importer::attr_float(std::string_view name, float def) const {
  const Attr* a = attr(name);
  if (!a) return def;
  if (a->type() == Attr::INT) return static_cast<float>(a->i());  // lenient: some exporters write 0 for 0.0
  if (a->type() != Attr::FLOAT && !(a->type() == Attr::UNDEFINED && a->has_f()))
    fail_node("attribute '{}' must be a float", name);
  return a->f();
}

std::string Importer::attr_string(std::string_view name, const std::string& def) const {
  const Attr* a = attr(name);
  if (!a) return def;
  if (a->type() != Attr::STRING && !(a->type() == Attr::UNDEFINED && a->has_s()))
    fail_node("attribute '{}' must be a string", name);
  return a->s();
}

std::optional<std::vector<int64_t>> Importer::attr_ints(std::string_view name) const {
  const Attr* a = attr(name);
  if (!a) return std::nullopt;
  if (a->type() != Attr::INTS && a->type() != Attr::UNDEFINED) fail_node("attribute '{}' must be a list of ints", name);
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

// ------------------------------------------------------------------ values

ValueId Importer::add_value(const std::string& name, DType dt, Shape shape, bool is_constant) {
  if (by_name_.count(name)) {
    if (cur_) fail_node("output '{}' is already produced elsewhere (each tensor needs exactly one producer)", name);
    fail_model("tensor '{}' is defined twice", name);
  }
  Value v;
  v.name = name;
  v.dtype = dt;
  v.shape = std::move(shape);
  v.is_constant = is_constant;
  const ValueId id = g_.add_value(std::move(v));
  thunks_.emplace_back();
  by_name_.emplace(name, id);
  return id;
}

ValueId Importer::add_constant(const std::string& name, DType dt, Shape shape, std::function<Tensor()> thunk) {
  const ValueId id = add_value(name, dt, std::move(shape), true);
  thunks_[static_cast<std::size_t>(id)] = std::move(thunk);
  return id;
}

ValueId Importer::add_constant_data(const std::string& name, Tensor t) {
  const ValueId id = add_value(name, t.dtype(), t.shape(), true);
  g_.value(id).data = std::move(t);
  return id;
}

const Tensor& Importer::data(ValueId v) {
  if (!g_.value(v).data) {
    auto thunk = std::move(thunks_[static_cast<std::size_t>(v)]);
    thunks_[static_cast<std::size_t>(v)] = nullptr;
    if (!thunk) throw std::logic_error("constant '" + g_.value(v).name + "' has neither data nor a recipe");
    Tensor t = thunk();
    if (t.shape() != g_.value(v).shape || t.dtype() != g_.value(v).dtype)
      throw std::logic_error("folded constant '" + g_.value(v).name + "' disagrees with its inferred type");
    g_.value(v).data = std::move(t);
  }
  return *g_.value(v).data;
}

ValueId Importer::input(int i) const {
  if (i >= cur_->input_size() || cur_->input(i).empty()) return -1;
  const auto it = by_name_.find(cur_->input(i));
  if (it == by_name_.end()) fail_unknown_input(cur_->input(i));
  return it->second;
}

ValueId Importer::need(int i, const char* what) const {
  const ValueId v = input(i);
  if (v < 0) fail_node("required input {} ({}) is missing", i, what);
  return v;
}

std::vector<int64_t> Importer::const_ints(ValueId v, const char* what) {
  if (!is_const(v))
    fail_node("{} '{}' must be a constant (an initializer, a folded expression, or a graph input bound with "
              "OnnxImportOptions::constant_inputs)",
              what, g_.value(v).name);
  const DType dt = dtype(v);
  if (dt == DType::kFloat32 || dt == DType::kFloat64 || dt == DType::kBool)
    fail_node("{} '{}' must hold integers, not {}", what, g_.value(v).name, dtype_name(dt));
  if (shape(v).size() > 1) fail_node("{} '{}' must be 1-D, has shape {}", what, g_.value(v).name, shape_str(shape(v)));
  const Tensor& t = data(v);
  std::vector<int64_t> out(static_cast<std::size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<std::size_t>(i)] = t.as_int64(i);
  return out;
}

double Importer::const_scalar(ValueId v, const char* what) {
  if (!is_const(v))
    fail_node("{} '{}' must be a constant (an initializer, a folded expression, or a graph input bound with "
              "OnnxImportOptions::constant_inputs)",
              what, g_.value(v).name);
  const Tensor& t = data(v);
  if (t.numel() != 1) fail_node("{} '{}' must be a scalar, has shape {}", what, g_.value(v).name, shape_str(t.shape()));
  return t.as_double(0);
}

// ------------------------------------------------------------------ emission

std::string Importer::unique_node_name() {
  std::string base = cur_label_;
  std::string name = base;
  for (int i = 2; node_names_.count(name); ++i) name = base + "_" + std::to_string(i);
  node_names_.insert(name);
  return name;
}

void Importer::emit(OpKind op, std::vector<ValueId> inputs, OpAttrs attrs,
                    std::vector<std::pair<DType, Shape>> outs) {
  Node n;
  n.name = unique_node_name();
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const int oi = static_cast<int>(i);
    if (!has_output(oi)) {
      n.outputs.push_back(-1);
      continue;
    }
    try {
      shape_numel(outs[i].second);
    } catch (const Error& e) {
      fail_node("output '{}': {}", out_name(oi), e.what());
    }
    n.outputs.push_back(add_value(out_name(oi), outs[i].first, std::move(outs[i].second), false));
  }
  while (!n.outputs.empty() && n.outputs.back() < 0) n.outputs.pop_back();
  if (n.outputs.empty()) fail_node("the node has no output");
  g_.add_node(std::move(n));
}

void Importer::const_output(int i, DType dt, Shape shape, std::function<Tensor()> thunk) {
  if (!has_output(i)) return;
  try {
    shape_numel(shape);
  } catch (const Error& e) {
    fail_node("output '{}': {}", out_name(i), e.what());
  }
  add_constant(out_name(i), dt, std::move(shape), std::move(thunk));
}

void Importer::pass_through(ValueId v) {
  if (!has_output(0)) return;
  const std::string& out = out_name(0);
  if (is_const(v)) {
    if (!graph_output_names_.count(out)) {
      if (by_name_.count(out)) fail_node("output '{}' is already produced elsewhere", out);
      by_name_.emplace(out, v);  // another name for the same constant: no copy
    } else {
      const_output(0, dtype(v), shape(v), [this, v] { return data(v); });
    }
    return;
  }
  emit(OpKind::kIdentity, {v}, std::monostate{}, {{dtype(v), shape(v)}});
}

// ------------------------------------------------------------------ operators

Importer::Window Importer::read_window(const Shape& x, std::optional<std::vector<int64_t>> kernel) {
  if (x.size() < 3) fail_node("input has rank {}; needs at least 3 (N x C x D1...)", x.size());
  const std::size_t n = x.size() - 2;
  Window w;
  if (!kernel) fail_node("attribute 'kernel_shape' is required");
  w.kernel = std::move(*kernel);
  if (w.kernel.size() != n) fail_node("kernel_shape has {} values for {} spatial axes", w.kernel.size(), n);
  w.strides = attr_ints("strides").value_or(std::vector<int64_t>(n, 1));
  w.dilations = attr_ints("dilations").value_or(std::vector<int64_t>(n, 1));
  if (w.strides.size() != n) fail_node("strides has {} values for {} spatial axes", w.strides.size(), n);
  if (w.dilations.size() != n) fail_node("dilations has {} values for {} spatial axes", w.dilations.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    if (w.kernel[i] <= 0) fail_node("kernel_shape must be positive");
    if (w.strides[i] <= 0) fail_node("strides must be positive");
    if (w.dilations[i] <= 0) fail_node("dilations must be positive");
  }
  if (auto pads = attr_ints("pads")) {
    w.pads = std::move(*pads);
    if (w.pads.size() != 2 * n) fail_node("pads has {} values, expected {}", w.pads.size(), 2 * n);
  } else {
    const std::string ap = attr_string("auto_pad", "NOTSET");
    AutoPad mode = AutoPad::kNotSet;
    if (ap == "SAME_UPPER") {
      mode = AutoPad::kSameUpper;
    } else if (ap == "SAME_LOWER") {
      mode = AutoPad::kSameLower;
    } else if (ap == "VALID") {
      mode = AutoPad::kValid;
    } else if (ap != "NOTSET" && !ap.empty()) {
      fail_node("auto_pad '{}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    }
    w.pads = auto_pads(mode, std::span(x).subspan(2), w.kernel, w.strides, w.dilations);
  }
  return w;
}

void Importer::import_conv() {
  const ValueId x = need(0, "X"), w = need(1, "W"), b = input(2);
  const Shape xs = shape(x), ws = shape(w);
  if (ws.size() != xs.size()) fail_node("weight W has rank {} but input X has rank {}", ws.size(), xs.size());
  if (xs.size() < 3) fail_node("input X has rank {}; Conv needs at least 3 (N x C x D1...)", xs.size());
  auto kernel = attr_ints("kernel_shape");
  if (!kernel) kernel = std::vector<int64_t>(ws.begin() + 2, ws.end());
  Window win = read_window(xs, std::move(kernel));
  ConvAttrs a;
  a.kernel = std::move(win.kernel);
  a.strides = std::move(win.strides);
  a.dilations = std::move(win.dilations);
  a.pads = std::move(win.pads);
  a.group = attr_int("group", 1);
  a.has_bias = b >= 0;
  Shape y = conv_output_shape(xs, ws, a);
  if (b >= 0 && shape(b) != Shape{ws[0]})
    fail_node("bias B has shape {}, expected {}", shape_str(shape(b)), ws[0]);
  std::vector<ValueId> ins{x, w};
  if (b >= 0) ins.push_back(b);
  emit(OpKind::kConv, std::move(ins), std::move(a), {{dtype(x), std::move(y)}});
}

void Importer::import_pool(bool is_max) {
  const ValueId x = need(0, "X");
  const Shape xs = shape(x);
  Window win = read_window(xs, attr_ints("kernel_shape"));
  PoolAttrs a;
  a.kernel = std::move(win.kernel);
  a.strides = std::move(win.strides);
  a.dilations = std::move(win.dilations);
  a.pads = std::move(win.pads);
  a.ceil_mode = attr_int("ceil_mode", 0) != 0;
  if (is_max) {
    a.storage_order = attr_int("storage_order", 0);
  } else {
    a.count_include_pad = attr_int("count_include_pad", 0) != 0;
  }
  const Shape y = pool_output_shape(xs, a);
  std::vector<std::pair<DType, Shape>> outs{{dtype(x), y}};
  if (is_max && has_output(1)) outs.push_back({DType::kInt64, y});
  if (!is_max && has_output(1)) fail_node("AveragePool has one output");
  emit(is_max ? OpKind::kMaxPool : OpKind::kAveragePool, {x}, std::move(a), std::move(outs));
}

void Importer::import_gemm() {
  const ValueId A = need(0, "A"), B = need(1, "B"), C = input(2);
  GemmAttrs a;
  a.alpha = attr_float("alpha", 1.0f);
  a.beta = attr_float("beta", 1.0f);
  a.trans_a = attr_int("transA", 0) != 0;
  a.trans_b = attr_int("transB", 0) != 0;
  a.has_c = C >= 0;
  const Shape y = gemm_output_shape(shape(A), shape(B), a);
  if (C >= 0 && broadcast_shapes(y, shape(C)) != y)
    fail_node("C of shape {} does not broadcast to the output {}", shape_str(shape(C)), shape_str(y));
  std::vector<ValueId> ins{A, B};
  if (C >= 0) ins.push_back(C);
  emit(OpKind::kGemm, std::move(ins), a, {{dtype(A), y}});
}

void Importer::import_matmul() {
  const ValueId A = need(0, "A"), B = need(1, "B");
  if (dtype(A) != dtype(B)) fail_node("A is {} but B is {}", dtype_name(dtype(A)), dtype_name(dtype(B)));
  emit(OpKind::kMatMul, {A, B}, std::monostate{}, {{dtype(A), matmul_output_shape(shape(A), shape(B))}});
}

void Importer::import_batchnorm() {
  const ValueId x = need(0, "X");
  std::vector<ValueId> ins{x};
  std::vector<Shape> params;
  static constexpr const char* kNames[] = {"scale", "B", "mean", "var"};
  for (int i = 1; i <= 4; ++i) {
    ins.push_back(need(i, kNames[i - 1]));
    params.push_back(shape(ins.back()));
  }
  if (opset_ < 9 && attr_int("spatial", 1) == 0)
    fail_node("spatial=0 (per-activation statistics) is not supported");
  BatchNormAttrs a;
  a.epsilon = attr_float("epsilon", 1e-5f);
  a.momentum = attr_float("momentum", 0.9f);
  a.training_mode = opset_ >= 14 && attr_int("training_mode", 0) != 0;
  bool extra_outputs = false;
  for (int i = 1; i < cur_->output_size(); ++i) extra_outputs = extra_outputs || has_output(i);
  if (extra_outputs && !a.training_mode)
    fail_node("outputs beyond Y request training statistics; training mode is supported only as "
              "training_mode=1 (opset >= 14)");
  const Shape y = batchnorm_output_shape(shape(x), params);
  std::vector<std::pair<DType, Shape>> outs{{dtype(x), y}};
  if (a.training_mode) {
    if (has_output(1) || has_output(2)) outs.push_back({dtype(ins[3]), params[2]});
    if (has_output(2)) outs.push_back({dtype(ins[4]), params[3]});
  }
  emit(OpKind::kBatchNorm, std::move(ins), a, std::move(outs));
}

void Importer::import_activation(ActKind kind) {
  const ValueId x = need(0, "X");
  Activation act;
  act.kind = kind;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (kind) {
    case ActKind::kLeakyRelu: act.alpha = attr_float("alpha", 0.01f); break;
    case ActKind::kHardSigmoid:
      act.alpha = attr_float("alpha", 0.2f);
      act.beta = attr_float("beta", 0.5f);
      break;
    case ActKind::kClip:
      if (opset_ < 11) {
        act.alpha = attr_float("min", -kInf);
        act.beta = attr_float("max", kInf);
      } else {
        const ValueId lo = input(1), hi = input(2);
        act.alpha = lo >= 0 ? static_cast<float>(const_scalar(lo, "Clip min")) : -kInf;
        act.beta = hi >= 0 ? static_cast<float>(const_scalar(hi, "Clip max")) : kInf;
        if (lo >= 0 && dtype(lo) != dtype(x)) fail_node("min is {} but input is {}", dtype_name(dtype(lo)), dtype_name(dtype(x)));
        if (hi >= 0 && dtype(hi) != dtype(x)) fail_node("max is {} but input is {}", dtype_name(dtype(hi)), dtype_name(dtype(x)));
      }
      break;
    default: break;
  }
  if (is_const(x)) {
    const_output(0, dtype(x), shape(x), [this, x, act] { return fold_activation(act, data(x)); });
    return;
  }
  OpKind op = OpKind::kRelu;
  switch (kind) {
    case ActKind::kClip: op = OpKind::kClip; break;
    case ActKind::kLeakyRelu: op = OpKind::kLeakyRelu; break;
    case ActKind::kSigmoid: op = OpKind::kSigmoid; break;
    case ActKind::kHardSigmoid: op = OpKind::kHardSigmoid; break;
    case ActKind::kHardSwish: op = OpKind::kHardSwish; break;
    default: break;
  }
  emit(op, {x}, ActAttrs{act}, {{dtype(x), shape(x)}});
}

void Importer::import_binary(OpKind op) {
  const ValueId a = need(0, "A"), b = need(1, "B");
  if (dtype(a) != dtype(b)) fail_node("A is {} but B is {}", dtype_name(dtype(a)), dtype_name(dtype(b)));
  if (opset_ < 7 && attr_int("broadcast", 0) != 0 && attr("axis")) {
    // Legacy broadcasting aligns B at `axis`; it equals numpy's only when B ends at A's last axis.
    const int64_t ra = static_cast<int64_t>(shape(a).size());
    const int64_t axis = attr_int("axis", 0);
    const int64_t start = axis < 0 ? axis + ra : axis;
    if (start + static_cast<int64_t>(shape(b).size()) != ra)
      fail_node("legacy broadcast with axis={} is not supported", axis);
  }
  const Shape y = broadcast_shapes(shape(a), shape(b));
  if (is_const(a) && is_const(b)) {
    const_output(0, dtype(a), y, [this, op, a, b] { return fold_binary(op, data(a), data(b)); });
    return;
  }
  emit(op, {a, b}, std::monostate{}, {{dtype(a), y}});
}

void Importer::import_sum() {
  std::vector<ValueId> ins;
  for (int i = 0; i < cur_->input_size(); ++i)
    if (input(i) >= 0) ins.push_back(input(i));
  if (ins.empty()) fail_node("Sum needs at least one input");
  Shape y = shape(ins[0]);
  bool all_const = true;
  for (ValueId v : ins) {
    if (dtype(v) != dtype(ins[0]))
      fail_node("inputs have different types ({} and {})", dtype_name(dtype(ins[0])), dtype_name(dtype(v)));
    y = broadcast_shapes(y, shape(v));
    all_const = all_const && is_const(v);
  }
  if (all_const) {
    const_output(0, dtype(ins[0]), y, [this, ins] {
      Tensor acc = data(ins[0]);
      for (std::size_t i = 1; i < ins.size(); ++i) acc = fold_binary(OpKind::kAdd, acc, data(ins[i]));
      return acc;
    });
    return;
  }
  const DType dt = dtype(ins[0]);  // before `ins` is moved: argument order is unspecified
  emit(OpKind::kSum, std::move(ins), std::monostate{}, {{dt, y}});
}

void Importer::import_concat() {
  std::vector<ValueId> ins;
  for (int i = 0; i < cur_->input_size(); ++i)
    if (input(i) >= 0) ins.push_back(input(i));
  if (ins.empty()) fail_node("Concat needs at least one input");
  if (opset_ >= 4 && !attr("axis")) fail_node("attribute 'axis' is required");
  const int64_t rank = static_cast<int64_t>(shape(ins[0]).size());
  const int64_t axis = normalize_axis(attr_int("axis", 1), rank);
  std::vector<Shape> shapes;
  bool all_const = true;
  for (ValueId v : ins) {
    if (dtype(v) != dtype(ins[0]))
      fail_node("inputs have different types ({} and {})", dtype_name(dtype(ins[0])), dtype_name(dtype(v)));
    shapes.push_back(shape(v));
    all_const = all_const && is_const(v);
  }
  const Shape y = concat_output_shape(shapes, axis);
  if (all_const) {
    const_output(0, dtype(ins[0]), y, [this, ins, axis] {
      std::vector<const Tensor*> ts;
      for (ValueId v : ins) ts.push_back(&data(v));
      return fold_concat(ts, axis);
    });
    return;
  }
  const DType dt = dtype(ins[0]);  // before `ins` is moved: argument order is unspecified
  emit(OpKind::kConcat, std::move(ins), AxisAttrs{axis, false}, {{dt, y}});
}

void Importer::import_flatten() {
  const ValueId x = need(0, "input");
  const int64_t rank = static_cast<int64_t>(shape(x).size());
  int64_t axis = attr_int("axis", 1);
  if (axis < -rank || axis > rank) fail_node("axis {} is out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  const Shape y = flatten_output_shape(shape(x), axis);
  if (is_const(x)) {
    const_output(0, dtype(x), y, [this, x, y] { return data(x).reshaped(y); });
    return;
  }
  emit(OpKind::kFlatten, {x}, AxisAttrs{axis, false}, {{dtype(x), y}});
}

void Importer::import_reshape() {
  const ValueId x = need(0, "data");
  std::vector<int64_t> target;
  if (opset_ < 5) {
    auto s = attr_ints("shape");
    if (!s) fail_node("attribute 'shape' is required");
    target = std::move(*s);
  } else {
    target = const_ints(need(1, "shape"), "shape");
  }
  const bool allowzero = opset_ >= 14 && attr_int("allowzero", 0) != 0;
  const Shape y = reshape_output_shape(shape(x), target, allowzero);
  if (is_const(x)) {
    const_output(0, dtype(x), y, [this, x, y] { return data(x).reshaped(y); });
    return;
  }
  emit(OpKind::kReshape, {x}, std::monostate{}, {{dtype(x), y}});
}

void Importer::import_transpose() {
  const ValueId x = need(0, "data");
  const std::size_t rank = shape(x).size();
  std::vector<int64_t> perm;
  if (auto p = attr_ints("perm")) {
    perm = std::move(*p);
  } else {
    for (std::size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  }
  const Shape y = transpose_output_shape(shape(x), perm);
  if (is_const(x)) {
    const_output(0, dtype(x), y, [this, x, perm] { return fold_transpose(data(x), perm); });
    return;
  }
  emit(OpKind::kTranspose, {x}, AxesAttrs{perm}, {{dtype(x), y}});
}

void Importer::import_squeeze(bool unsqueeze) {
  const ValueId x = need(0, "data");
  const Shape xs = shape(x);
  std::optional<std::vector<int64_t>> axes;
  if (opset_ < 13) {
    axes = attr_ints("axes");
  } else if (const ValueId a = input(1); a >= 0) {
    axes = const_ints(a, "axes");
  }
  Shape y;
  std::vector<int64_t> norm;
  if (unsqueeze) {
    if (!axes) fail_node("axes are required");
    y = unsqueeze_output_shape(xs, *axes);
    norm = normalize_axes(*axes, static_cast<int64_t>(y.size()), "axes");
  } else {
    if (!axes) {
      axes.emplace();
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (xs[i] == 1) axes->push_back(static_cast<int64_t>(i));
    }
    y = squeeze_output_shape(xs, *axes);
    norm = normalize_axes(*axes, static_cast<int64_t>(xs.size()), "axes");
  }
  if (is_const(x)) {
    const_output(0, dtype(x), y, [this, x, y] { return data(x).reshaped(y); });
    return;
  }
  emit(unsqueeze ? OpKind::kUnsqueeze : OpKind::kSqueeze, {x}, AxesAttrs{std::move(norm)}, {{dtype(x), y}});
}

void Importer::import_dropout() {
  const ValueId x = need(0, "data");
  bool training = false;
  if (opset_ >= 12) {
    if (const ValueId t = input(2); t >= 0) training = const_scalar(t, "training_mode") != 0.0;
  }
  if (training) {
    const ValueId r = input(1);
    const double ratio = r >= 0 ? const_scalar(r, "ratio") : 0.5;
    if (ratio != 0.0)
      fail_node("training-mode Dropout with ratio {} is random; only ratio 0 (a copy) can be imported", ratio);
  }
  if (has_output(1)) {
    const Shape s = shape(x);
    const_output(1, DType::kBool, s, [s] { return fold_fill(Tensor::scalar<bool>(true), s); });
  }
  pass_through(x);
}

void Importer::import_softmax() {
  const ValueId x = need(0, "input");
  const int64_t rank = static_cast<int64_t>(shape(x).size());
  const bool legacy = opset_ < 13;
  const int64_t axis = normalize_axis(attr_int("axis", legacy ? 1 : -1), rank);
  emit(OpKind::kSoftmax, {x}, AxisAttrs{axis, legacy}, {{dtype(x), shape(x)}});
}

void Importer::import_lrn() {
  const ValueId x = need(0, "X");
  if (!attr("size")) fail_node("attribute 'size' is required");
  LRNAttrs a;
  a.size = attr_int("size", 1);
  if (a.size <= 0) fail_node("size must be positive (got {})", a.size);
  a.alpha = attr_float("alpha", 1e-4f);
  a.beta = attr_float("beta", 0.75f);
  a.bias = attr_float("bias", 1.0f);
  if (shape(x).size() < 3) fail_node("input has rank {}; LRN needs at least 3 (N x C x D1...)", shape(x).size());
  emit(OpKind::kLRN, {x}, a, {{dtype(x), shape(x)}});
}

void Importer::import_pad() {
  const ValueId x = need(0, "data");
  const int64_t rank = static_cast<int64_t>(shape(x).size());
  PadAttrs a;
  const std::string mode = attr_string("mode", "constant");
  if (mode == "constant") {
    a.mode = PadMode::kConstant;
  } else if (mode == "reflect") {
    a.mode = PadMode::kReflect;
  } else if (mode == "edge") {
    a.mode = PadMode::kEdge;
  } else {
    fail_node("mode '{}' is not supported (constant, reflect, edge)", mode);
  }
  std::vector<int64_t> pads;
  if (opset_ < 11) {
    auto p = attr_ints(opset_ < 2 ? "paddings" : "pads");
    if (!p) fail_node("attribute '{}' is required", opset_ < 2 ? "paddings" : "pads");
    pads = std::move(*p);
    a.value = attr_float("value", 0.0f);
  } else {
    pads = const_ints(need(1, "pads"), "pads");
    if (const ValueId v = input(2); v >= 0) a.value = const_scalar(v, "constant_value");
    if (const ValueId ax = opset_ >= 18 ? input(3) : -1; ax >= 0) {
      const std::vector<int64_t> axes = const_ints(ax, "axes");
      if (pads.size() != 2 * axes.size())
        fail_node("pads has {} values for {} axes", pads.size(), axes.size());
      std::vector<int64_t> full(2 * static_cast<std::size_t>(rank), 0);
      for (std::size_t i = 0; i < axes.size(); ++i) {
        const auto d = static_cast<std::size_t>(normalize_axis(axes[i], rank, "axes"));
        full[d] = pads[i];
        full[d + static_cast<std::size_t>(rank)] = pads[i + axes.size()];
      }
      pads = std::move(full);
    }
  }
  const Shape y = pad_output_shape(shape(x), pads);
  if (a.mode != PadMode::kConstant) {
    for (int64_t d = 0; d < rank; ++d) {
      const auto du = static_cast<std::size_t>(d);
      if ((pads[du] > 0 || pads[du + static_cast<std::size_t>(rank)] > 0) && shape(x)[du] == 0)
        fail_node("{} padding of an empty axis {}", mode, d);
    }
  }
  a.pads = std::move(pads);
  emit(OpKind::kPad, {x}, std::move(a), {{dtype(x), y}});
}

// QuantizeLinear (opset 10+) / DequantizeLinear: per-tensor, or per-axis (opset 13+,
// a 1-D scale along `axis`). 8-bit and (opset 21) 16-bit integer types; block
// quantization (opset 21 block_size) and float8 types are refused.
void Importer::import_quant_linear(bool quantize) {
  const ValueId x = need(0, "x"), scale = need(1, "scale"), zp = input(2);
  const Shape xs = shape(x), ss = shape(scale);
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (attr_int("block_size", 0) != 0) fail_node("block quantization (block_size) is not supported");
  if (dtype(scale) != DType::kFloat32) fail_node("scale must be float32, not {}", dtype_name(dtype(scale)));
  const int64_t scale_n = shape_numel(ss);
  QuantLinearAttrs a;
  if (ss.size() > 1) fail_node("scale must be a scalar or 1-D, has shape {}", shape_str(ss));
  if (ss.size() == 1 && ss[0] != 1) {
    if (opset_ < 13) fail_node("a per-axis scale needs opset 13");
    a.axis = normalize_axis(attr_int("axis", 1), rank);
    if (xs[static_cast<std::size_t>(a.axis)] != ss[0])
      fail_node("scale has {} values but axis {} of {} has {}", ss[0], a.axis, shape_str(xs), xs[static_cast<std::size_t>(a.axis)]);
  } else if (scale_n != 1) {
    fail_node("scale is empty");
  }
  if (zp >= 0 && shape(zp) != ss)
    fail_node("zero_point has shape {} but scale has {}", shape_str(shape(zp)), shape_str(ss));
  auto integer_type = [](DType t) { return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16 || t == DType::kUInt16; };
  DType out = DType::kFloat32;
  if (quantize) {
    if (dtype(x) != DType::kFloat32) fail_node("input must be float32, not {}", dtype_name(dtype(x)));
    out = zp >= 0 ? dtype(zp) : DType::kUInt8;
    if (zp < 0 && attr("output_dtype")) {
      const auto t = dtype_from_onnx(attr_int("output_dtype", onnx::TensorProto::UINT8));
      if (!t) fail_node("output_dtype {} is not supported", attr_int("output_dtype", 0));
      out = *t;
    }
    if (!integer_type(out)) fail_node("quantizing to {} is not supported (int8, uint8, int16, uint16)", dtype_name(out));
  } else {
    if (!integer_type(dtype(x)) && dtype(x) != DType::kInt32)
      fail_node("input type {} is not supported (int8, uint8, int16, uint16, int32)", dtype_name(dtype(x)));
    if (zp >= 0 && dtype(zp) != dtype(x))
      fail_node("zero_point is {} but x is {}", dtype_name(dtype(zp)), dtype_name(dtype(x)));
  }
  if (zp >= 0 && !quantize && dtype(x) == DType::kInt32 && is_const(zp)) {
    const Tensor& z = data(zp);
    for (int64_t i = 0; i < z.numel(); ++i)
      if (z.as_int64(i) != 0) fail_node("an int32 input needs a zero point of 0");
  }
  if (is_const(x) && is_const(scale) && (zp < 0 || is_const(zp))) {
    const_output(0, out, xs, [this, x, scale, zp, a, quantize, out] {
      const Tensor* z = zp >= 0 ? &data(zp) : nullptr;
      return quantize ? fold_quantize_linear(data(x), data(scale), z, a.axis, out)
                      : fold_dequantize_linear(data(x), data(scale), z, a.axis);
    });
    return;
  }
  std::vector<ValueId> ins{x, scale};
  if (zp >= 0) ins.push_back(zp);
  emit(quantize ? OpKind::kQuantizeLinear : OpKind::kDequantizeLinear, std::move(ins), a, {{out, xs}});
}

void Importer::import_constant() {
  const Attr* value = nullptr;
  int count = 0;
  for (const auto& a : cur_->attribute()) {
    ++count;
    value = &a;
  }
  if (count != 1) fail_node("exactly one value attribute is required (has {})", count);
  const std::string& kind = value->name();
  if (kind == "value") {
    const onnx::TensorProto* t = &value->t();
    const std::string what = fmt::format("{}: node '{}' (Constant): value", src_, cur_label_);
    ProtoInfo info;
    try {
      info = check_tensor_proto(*t, payloads_, what);
    } catch (const Error& e) {
      throw LocatedError(e.what());
    }
    const_output(0, info.dtype, std::move(info.shape),
                 [this, t, what] { return decode_tensor_proto(*t, payloads_, what); });
  } else if (kind == "value_float") {
    const_output(0, DType::kFloat32, {}, [f = value->f()] { return Tensor::scalar<float>(f); });
  } else if (kind == "value_floats") {
    std::vector<float> v(value->floats().begin(), value->floats().end());
    const Shape s{static_cast<int64_t>(v.size())};
    const_output(0, DType::kFloat32, s, [v, s] { return Tensor::from<float>(s, v); });
  } else if (kind == "value_int") {
    const_output(0, DType::kInt64, {}, [i = value->i()] { return Tensor::scalar<int64_t>(i); });
  } else if (kind == "value_ints") {
    std::vector<int64_t> v(value->ints().begin(), value->ints().end());
    const Shape s{static_cast<int64_t>(v.size())};
    const_output(0, DType::kInt64, s, [v, s] { return Tensor::from<int64_t>(s, v); });
  } else {
    fail_node("attribute '{}' is not supported (strings and sparse tensors are not)", kind);
  }
}

void Importer::import_constant_of_shape() {
  const std::vector<int64_t> dims = const_ints(need(0, "input"), "shape");
  const Shape s(dims.begin(), dims.end());
  for (int64_t d : s)
    if (d < 0) fail_node("shape {} has a negative dimension", shape_str(s));
  Tensor value = Tensor::scalar<float>(0.0f);
  if (const Attr* a = attr("value")) {
    const std::string what = fmt::format("{}: node '{}' (ConstantOfShape): value", src_, cur_label_);
    try {
      value = decode_tensor_proto(a->t(), payloads_, what);
    } catch (const LocatedError&) {
      throw;
    } catch (const Error& e) {
      throw LocatedError(e.what());
    }
    if (value.numel() != 1) fail_node("value must have exactly one element (has {})", value.numel());
  }
  const DType dt = value.dtype();
  const_output(0, dt, s, [value = std::move(value), s] { return fold_fill(value, s); });
}

void Importer::import_shape() {
  const ValueId x = need(0, "data");
  const Shape xs = shape(x);
  const int64_t r = static_cast<int64_t>(xs.size());
  int64_t start = 0, end = r;
  if (opset_ >= 15) {
    start = attr_int("start", 0);
    end = attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, 0, r);
  }
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(xs[static_cast<std::size_t>(i)]);
  const Shape s{static_cast<int64_t>(dims.size())};
  const_output(0, DType::kInt64, s, [dims, s] { return Tensor::from<int64_t>(s, dims); });
}

void Importer::import_gather() {
  const ValueId d = need(0, "data"), i = need(1, "indices");
  if (!is_const(d) || !is_const(i))
    fail_node("Gather is folded at import and needs constant inputs; '{}' is not constant",
              is_const(d) ? g_.value(i).name : g_.value(d).name);
  if (dtype(i) != DType::kInt64 && dtype(i) != DType::kInt32)
    fail_node("indices must be int32 or int64, not {}", dtype_name(dtype(i)));
  const int64_t rank = static_cast<int64_t>(shape(d).size());
  if (rank == 0) fail_node("data must have rank >= 1");
  const int64_t axis = normalize_axis(attr_int("axis", 0), rank);
  const Shape y = gather_output_shape(shape(d), shape(i), axis);
  const_output(0, dtype(d), y, [this, d, i, axis] { return fold_gather(data(d), data(i), axis); });
}

void Importer::import_cast() {
  const ValueId x = need(0, "input");
  std::optional<DType> to;
  const Attr* a = attr("to");
  if (!a) fail_node("attribute 'to' is required");
  if (a->type() == Attr::STRING || (a->type() == Attr::UNDEFINED && a->has_s())) {
    onnx::TensorProto_DataType t{};  // Cast-1 names the type
    if (!onnx::TensorProto_DataType_Parse(a->s(), &t)) fail_node("unknown type '{}'", a->s());
    to = dtype_from_onnx(t);
    if (!to) fail_node("cast to {} is not supported", a->s());
  } else {
    to = dtype_from_onnx(a->i());
    if (!to) fail_node("cast to {} is not supported", onnx_type_name(a->i()));
  }
  if (is_const(x)) {
    const_output(0, *to, shape(x), [this, x, dt = *to] { return data(x).cast(dt); });
  } else if (dtype(x) == *to) {
    pass_through(x);
  } else {
    fail_node("Cast is folded at import and needs a constant input; '{}' is not constant", g_.value(x).name);
  }
}

void Importer::import_node() {
  const std::string& op = cur_->op_type();
  if (op == "Conv") return import_conv();
  if (op == "MaxPool") return import_pool(true);
  if (op == "AveragePool") return import_pool(false);
  if (op == "GlobalAveragePool") {
    const ValueId x = need(0, "X");
    return emit(OpKind::kGlobalAveragePool, {x}, std::monostate{}, {{dtype(x), global_pool_output_shape(shape(x))}});
  }
  if (op == "Gemm") return import_gemm();
  if (op == "MatMul") return import_matmul();
  if (op == "BatchNormalization") return import_batchnorm();
  if (op == "Relu") return import_activation(ActKind::kRelu);
  if (op == "Clip") return import_activation(ActKind::kClip);
  if (op == "LeakyRelu") return import_activation(ActKind::kLeakyRelu);
  if (op == "Sigmoid") return import_activation(ActKind::kSigmoid);
  if (op == "HardSigmoid") return import_activation(ActKind::kHardSigmoid);
  if (op == "HardSwish") return import_activation(ActKind::kHardSwish);
  if (op == "Add") return import_binary(OpKind::kAdd);
  if (op == "Mul") return import_binary(OpKind::kMul);
  if (op == "Sum") return import_sum();
  if (op == "Concat") return import_concat();
  if (op == "Flatten") return import_flatten();
  if (op == "Reshape") return import_reshape();
  if (op == "Transpose") return import_transpose();
  if (op == "Squeeze") return import_squeeze(false);
  if (op == "Unsqueeze") return import_squeeze(true);
  if (op == "Dropout") return import_dropout();
  if (op == "Identity") return pass_through(need(0, "input"));
  if (op == "Softmax") return import_softmax();
  if (op == "LRN") return import_lrn();
  if (op == "Pad") return import_pad();
  if (op == "QuantizeLinear") return import_quant_linear(true);
  if (op == "DequantizeLinear") return import_quant_linear(false);
  if (op == "Constant") return import_constant();
  if (op == "ConstantOfShape") return import_constant_of_shape();
  if (op == "Shape") return import_shape();
  if (op == "Gather") return import_gather();
  if (op == "Cast") return import_cast();
  throw std::logic_error("operator " + op + " passed the support check but has no importer");
}

LayerGraph Importer::run() {
  if (!model_.has_graph()) fail_model("not an ONNX model (no graph)");
  read_opset();
  check_operators();
  const auto& graph = model_.graph();
  for (const auto& o : graph.output()) graph_output_names_.insert(o.name());
  add_initializers();
  add_graph_inputs();

  const auto& nodes = graph.node();
  for (int i = 0; i < nodes.size(); ++i) {
    cur_ = &nodes[i];
    cur_index_ = i;
    cur_label_ = node_label(nodes[i], i);
    try {
      import_node();
    } catch (const LocatedError&) {
      throw;
    } catch (const Error& e) {
      fail_node("{}", e.what());  // from shape inference or folding: add file and node
    }
  }
  cur_ = nullptr;
  set_graph_outputs();

  // Constants the graph still uses get their data now (or never, for timing-only imports).
  auto materialize = [&](ValueId v) {
    if (v >= 0 && g_.value(v).is_constant) {
      try {
        data(v);
      } catch (const LocatedError&) {
        throw;
      } catch (const Error& e) {
        fail_model("constant '{}': {}", g_.value(v).name, e.what());
      }
    }
  };
  if (opts_.keep_weights) {
    // The memory limit (graph/limits.h) is checked against every weight the import
    // would decode before the first one is allocated.
    std::vector<char> counted(g_.values().size(), 0);
    int64_t total = 0;
    auto count = [&](ValueId v) {
      if (v < 0 || !g_.value(v).is_constant || counted[static_cast<std::size_t>(v)]) return;
      counted[static_cast<std::size_t>(v)] = 1;
      const Value& val = g_.value(v);
      int64_t bytes = 0;
      if (__builtin_mul_overflow(shape_numel(val.shape), static_cast<int64_t>(dtype_size(val.dtype)), &bytes) ||
          __builtin_add_overflow(total, bytes, &total))
        total = std::numeric_limits<int64_t>::max();
    };
    for (const Node& n : g_.nodes())
      for (ValueId v : n.inputs) count(v);
    for (ValueId v : graph_outputs_) count(v);
    try {
      check_memory(total, "the model's weights and constants");
    } catch (const Error& e) {
      fail_model("{}", e.what());
    }
    for (const Node& n : g_.nodes())
      for (ValueId v : n.inputs) materialize(v);
    for (ValueId v : graph_outputs_) materialize(v);
  } else {
    for (std::size_t v = 0; v < g_.values().size(); ++v) g_.value(static_cast<ValueId>(v)).data.reset();
  }
  thunks_.clear();

  g_.name = std::filesystem::path(src_).stem().string();
  g_.source = src_;
  if (g_.name.empty()) g_.name = graph.name();
  g_.set_inputs(graph_inputs_);
  g_.set_outputs(graph_outputs_);
  try {
    g_.finalize();
    const auto passes = import_passes(opts_.fold_batchnorm, opts_.fuse_activations);
    run_passes(g_, passes);
  } catch (const LocatedError&) {
    throw;
  } catch (const Error& e) {
    fail_model("{}", e.what());
  }
  return std::move(g_);
}

// Parses the model in `bytes` (which must outlive the import: large weights are
// decoded from it on demand) and imports it.
void parse_model(onnx::ModelProto& model, std::vector<TensorPayload>& payloads, std::string_view bytes,
                 const std::string& source) {
  const auto stripped = bytes.empty() ? std::nullopt : strip_tensor_payloads(bytes, kStripPayloadBytes, payloads);
  if (stripped) {
    parse_proto(model, stripped->data(), stripped->size(), source, "ONNX model");
  } else {
    payloads.clear();  // not walkable: protobuf parses (or rejects) the original bytes
    parse_proto(model, bytes.data(), bytes.size(), source, "ONNX model");
  }
}

LayerGraph import_model_bytes(std::string_view bytes, const std::string& source, const OnnxImportOptions& opts) {
  onnx::ModelProto model;
  std::vector<TensorPayload> payloads;
  parse_model(model, payloads, bytes, source);
  return Importer(model, payloads, source, opts).run();
}

}  // namespace

LayerGraph import_onnx(const std::string& path, const OnnxImportOptions& opts) {
  const MappedFile file(path);
  return import_model_bytes(std::string_view(static_cast<const char*>(file.data()), file.size()), path, opts);
}

LayerGraph import_onnx_bytes(const std::string& bytes, const std::string& source, const OnnxImportOptions& opts) {
  return import_model_bytes(bytes, source, opts);
}

std::vector<std::string> onnx_inputs_needing_values(const std::string& path) {
  const MappedFile file(path);
  const std::string_view bytes(static_cast<const char*>(file.data()), file.size());
  onnx::ModelProto model;
  std::vector<TensorPayload> payloads;
  parse_model(model, payloads, bytes, path);
  const auto& g = model.graph();
  std::unordered_set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  std::unordered_set<std::string> needed;
  static const std::unordered_map<std::string_view, std::vector<int>> kStaticOperands{
      {"Reshape", {1}}, {"Squeeze", {1}}, {"Unsqueeze", {1}}, {"Pad", {1, 2, 3}}, {"Clip", {1, 2}},
      {"Dropout", {1, 2}}, {"ConstantOfShape", {0}}, {"Gather", {0, 1}}, {"Cast", {0}}};
  for (const auto& n : g.node()) {
    const auto it = kStaticOperands.find(n.op_type());
    if (it == kStaticOperands.end() || !default_domain(n.domain())) continue;
    for (int i : it->second)
      if (i < n.input_size() && !n.input(i).empty()) needed.insert(n.input(i));
  }
  std::vector<std::string> out;
  for (const auto& in : g.input())
    if (needed.count(in.name()) && !inits.count(in.name())) out.push_back(in.name());
  return out;
}

Tensor parse_onnx_tensor(const std::string& bytes, const std::string& source) {
  onnx::TensorProto t;
  parse_proto(t, bytes.data(), bytes.size(), source, "ONNX TensorProto");
  try {
    return decode_tensor_proto(t, {}, source + ": tensor '" + t.name() + "'");
  } catch (const Error& e) {
    throw Error(one_line(e.what()));
  }
}

Tensor load_onnx_tensor(const std::string& path) {
  const MappedFile file(path);
  return parse_onnx_tensor(file.size() ? std::string(static_cast<const char*>(file.data()), file.size()) : std::string(),
                           path);
}

}  // namespace qsim
