#include "quant/qdq_export.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include <fmt/format.h>
#include <onnx/onnx.pb.h>

#include "graph/error.h"

namespace qsim {

namespace {

int onnx_type(DType t) {
  switch (t) {
    case DType::kFloat32: return onnx::TensorProto::FLOAT;
    case DType::kFloat64: return onnx::TensorProto::DOUBLE;
    case DType::kInt8: return onnx::TensorProto::INT8;
    case DType::kUInt8: return onnx::TensorProto::UINT8;
    case DType::kInt16: return onnx::TensorProto::INT16;
    case DType::kUInt16: return onnx::TensorProto::UINT16;
    case DType::kInt32: return onnx::TensorProto::INT32;
    case DType::kUInt32: return onnx::TensorProto::UINT32;
    case DType::kInt64: return onnx::TensorProto::INT64;
    case DType::kUInt64: return onnx::TensorProto::UINT64;
    case DType::kBool: return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

// The integer container of a width: 8 bits up to 8, 16 above.
DType container(int bits, bool is_signed) {
  if (bits <= 8) return is_signed ? DType::kInt8 : DType::kUInt8;
  return is_signed ? DType::kInt16 : DType::kUInt16;
}

Tensor int_tensor(DType t, const Shape& s, std::span<const int32_t> v) {
  Tensor out(t, s);
  for (std::size_t i = 0; i < v.size(); ++i) {
    switch (t) {
      case DType::kInt8: out.data<int8_t>()[i] = static_cast<int8_t>(v[i]); break;
      case DType::kUInt8: out.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]); break;
      case DType::kInt16: out.data<int16_t>()[i] = static_cast<int16_t>(v[i]); break;
      case DType::kUInt16: out.data<uint16_t>()[i] = static_cast<uint16_t>(v[i]); break;
      default: out.data<int32_t>()[i] = v[i]; break;
    }
  }
  return out;
}

class Exporter {
 public:
  explicit Exporter(const QuantizedModel& m) : m_(m), g_(m.graph()) {}

  std::string run() {
    opset_ = 13;
    for (ValueId v = 0; v < static_cast<ValueId>(g_.values().size()); ++v)
      if (const QParams* q = m_.params(v); q && q->bits > 8) opset_ = 21;
    for (NodeId id : g_.topo_order()) {
      const Node& n = g_.node(id);
      if (m_.role(id) == QRole::kCompute && m_.compute(id).wbits > 8) opset_ = 21;
      if (n.op == OpKind::kHardSwish || n.act.kind == ActKind::kHardSwish) opset_ = std::max(opset_, 14);
    }
    model_.set_ir_version(opset_ >= 21 ? 10 : 7);
    model_.set_producer_name("qsim");
    model_.set_producer_version("quantize");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset_);
    gp_ = model_.mutable_graph();
    gp_->set_name(g_.name + "_qdq");
    for (const Value& v : g_.values()) names_.insert(v.name);
    real_.assign(g_.values().size(), "");
    for (ValueId v : g_.outputs()) is_output_.insert(v);

    for (ValueId v : g_.inputs()) {
      const Value& val = g_.value(v);
      add_value_info(gp_->add_input(), val);
      const QParams* q = m_.params(v);
      real_[static_cast<std::size_t>(v)] = q ? qdq(v, val.name, *q) : val.name;
    }
    for (NodeId id : g_.topo_order()) emit(id);
    for (ValueId v : g_.outputs()) {
      const Value& val = g_.value(v);
      const std::string& r = real_[static_cast<std::size_t>(v)];
      if (r != val.name) node("Identity", {r}, {val.name}, val.name + "::output");
      Value out = val;
      if (m_.params(v)) out.dtype = DType::kFloat32;
      add_value_info(gp_->add_output(), out);
    }
    std::string bytes;
    if (!model_.SerializeToString(&bytes)) fail("model '{}': the QDQ model could not be serialized", g_.name);
    return bytes;
  }

 private:
  // ---- building blocks ----
  std::string fresh(const std::string& base) {
    std::string s = base;
    for (int i = 2; names_.count(s); ++i) s = base + "_" + std::to_string(i);
    names_.insert(s);
    return s;
  }
  void add_value_info(onnx::ValueInfoProto* vi, const Value& v) {
    vi->set_name(v.name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_type(v.dtype));
    auto* sh = tt->mutable_shape();
    for (int64_t d : v.shape) sh->add_dim()->set_dim_value(d);
  }
  std::string initializer(const std::string& base, const Tensor& t) {
    const std::string name = fresh(base);
    auto* tp = gp_->add_initializer();
    tp->set_name(name);
    tp->set_data_type(onnx_type(t.dtype()));
    for (int64_t d : t.shape()) tp->add_dims(d);
    tp->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes().data()), t.nbytes()));
    return name;
  }
  std::string scalar_f(const std::string& base, float v) { return initializer(base, Tensor::scalar<float>(v)); }
  std::string ints64(const std::string& base, std::span<const int64_t> v) {
    return initializer(base, Tensor::from<int64_t>(Shape{static_cast<int64_t>(v.size())}, std::vector<int64_t>(v.begin(), v.end())));
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                        const std::string& name) {
    auto* n = gp_->add_node();
    n->set_op_type(op);
    n->set_name(fresh_node(name));
    for (auto& s : ins) n->add_input(s);
    for (auto& s : outs) n->add_output(s);
    return n;
  }
  std::string fresh_node(const std::string& base) {
    std::string s = base;
    for (int i = 2; node_names_.count(s); ++i) s = base + "_" + std::to_string(i);
    node_names_.insert(s);
    return s;
  }
  static void attr(onnx::NodeProto* n, const char* key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* n, const char* key, float v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto* n, const char* key, std::span<const int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto* n, const char* key, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }

  // QuantizeLinear [-> Clip] -> DequantizeLinear of value v, whose real value is `pre`.
  std::string qdq(ValueId v, const std::string& pre, const QParams& q) {
    const std::string& name = g_.value(v).name;
    const DType ct = container(q.bits, q.is_signed);
    const std::string s = scalar_f(name + "::scale", q.scale);
    const int32_t zp = q.zero_point;
    const std::string z = initializer(name + "::zero_point", int_tensor(ct, {}, std::span<const int32_t>(&zp, 1)));
    std::string qn = fresh(name + "::q");
    node("QuantizeLinear", {pre, s, z}, {qn}, name + "::QuantizeLinear");
    const int cbits = ct == DType::kInt8 || ct == DType::kUInt8 ? 8 : 16;
    if (q.bits < cbits) {
      const auto r = q.range();
      const std::string lo = initializer(name + "::qmin", int_tensor(ct, {}, std::span<const int32_t>(&r.lo, 1)));
      const std::string hi = initializer(name + "::qmax", int_tensor(ct, {}, std::span<const int32_t>(&r.hi, 1)));
      const std::string clipped = fresh(name + "::qc");
      node("Clip", {qn, lo, hi}, {clipped}, name + "::Clip");
      qn = clipped;
    }
    const std::string out = is_output_.count(v) ? name : fresh(name + "::dq");
    node("DequantizeLinear", {qn, s, z}, {out}, name + "::DequantizeLinear");
    return out;
  }

  // Name for a quantized output's float value before its Q/DQ pair.
  std::string pre_name(ValueId v) { return is_output_.count(v) ? fresh(g_.value(v).name + "::f") : g_.value(v).name; }

  // The real (float) ONNX name of input i of node n, writing constants as initializers.
  std::string in(const Node& n, std::size_t i) {
    const ValueId v = i < n.inputs.size() ? n.inputs[i] : ValueId{-1};
    if (v < 0) return "";
    auto& r = real_[static_cast<std::size_t>(v)];
    if (r.empty()) {
      const Value& val = g_.value(v);
      if (!val.is_constant || !val.data) throw std::logic_error("QDQ export: value '" + val.name + "' has no producer yet");
      names_.erase(val.name);
      r = initializer(val.name, *val.data);
    }
    return r;
  }

  // A fused activation applied to `x`; returns the output name (`out` or a fresh one).
  std::string act(const Activation& a, const std::string& x, const std::string& out, const std::string& node_name) {
    switch (a.kind) {
      case ActKind::kNone: return x;
      case ActKind::kRelu: node("Relu", {x}, {out}, node_name + "::Relu"); break;
      case ActKind::kClip: {
        const std::string lo = std::isfinite(a.alpha) ? scalar_f(node_name + "::min", a.alpha) : "";
        const std::string hi = std::isfinite(a.beta) ? scalar_f(node_name + "::max", a.beta) : "";
        node("Clip", {x, lo, hi}, {out}, node_name + "::Clip");
        break;
      }
      case ActKind::kLeakyRelu: attr(node("LeakyRelu", {x}, {out}, node_name + "::LeakyRelu"), "alpha", a.alpha); break;
      case ActKind::kSigmoid: node("Sigmoid", {x}, {out}, node_name + "::Sigmoid"); break;
      case ActKind::kHardSigmoid: {
        auto* nn = node("HardSigmoid", {x}, {out}, node_name + "::HardSigmoid");
        attr(nn, "alpha", a.alpha);
        attr(nn, "beta", a.beta);
        break;
      }
      case ActKind::kHardSwish: node("HardSwish", {x}, {out}, node_name + "::HardSwish"); break;
    }
    return out;
  }

  // Writes node n's own operator (float semantics) reading `ins`, writing `out`.
  void emit_op(const Node& n, std::vector<std::string> ins, const std::string& out) {
    const bool fused = n.act.kind != ActKind::kNone;
    const std::string y = fused ? fresh(out + "::preact") : out;
    auto pool_attrs = [&](onnx::NodeProto* p, const PoolAttrs& a, bool is_max) {
      attr(p, "kernel_shape", a.kernel);
      attr(p, "strides", a.strides);
      attr(p, "pads", a.pads);
      if (a.ceil_mode) attr(p, "ceil_mode", int64_t{1});
      if (is_max) {
        if (std::any_of(a.dilations.begin(), a.dilations.end(), [](int64_t d) { return d != 1; }))
          attr(p, "dilations", a.dilations);
        if (a.storage_order) attr(p, "storage_order", a.storage_order);
      } else {
        if (std::any_of(a.dilations.begin(), a.dilations.end(), [](int64_t d) { return d != 1; }))
          fail("node '{}': AveragePool with dilations cannot be exported at opset {}", n.name, opset_);
        if (a.count_include_pad) attr(p, "count_include_pad", int64_t{1});
      }
    };
    const std::string op(op_name(n.op));
    switch (n.op) {
      case OpKind::kConv: {
        const auto& a = std::get<ConvAttrs>(n.attrs);
        auto* p = node("Conv", ins, {y}, n.name);
        attr(p, "kernel_shape", a.kernel);
        attr(p, "strides", a.strides);
        attr(p, "pads", a.pads);
        attr(p, "dilations", a.dilations);
        attr(p, "group", a.group);
        break;
      }
      case OpKind::kGemm: {
        const auto& a = std::get<GemmAttrs>(n.attrs);
        auto* p = node("Gemm", ins, {y}, n.name);
        attr(p, "alpha", a.alpha);
        attr(p, "beta", a.beta);
        attr(p, "transA", int64_t{a.trans_a});
        attr(p, "transB", int64_t{a.trans_b});
        break;
      }
      case OpKind::kMaxPool: pool_attrs(node("MaxPool", ins, {y}, n.name), std::get<PoolAttrs>(n.attrs), true); break;
      case OpKind::kAveragePool:
        pool_attrs(node("AveragePool", ins, {y}, n.name), std::get<PoolAttrs>(n.attrs), false);
        break;
      case OpKind::kConcat:
      case OpKind::kFlatten: attr(node(op, ins, {y}, n.name), "axis", std::get<AxisAttrs>(n.attrs).axis); break;
      case OpKind::kSoftmax: {
        const auto& a = std::get<AxisAttrs>(n.attrs);
        const auto rank = static_cast<int64_t>(g_.value(n.inputs[0]).shape.size());
        if (a.legacy_softmax && a.axis != rank - 1)
          fail("node '{}': a Softmax of opset < 13 over axis {} cannot be exported at opset {}", n.name, a.axis, opset_);
        attr(node("Softmax", ins, {y}, n.name), "axis", a.axis);
        break;
      }
      case OpKind::kTranspose: attr(node("Transpose", ins, {y}, n.name), "perm", std::get<AxesAttrs>(n.attrs).axes); break;
      case OpKind::kSqueeze:
      case OpKind::kUnsqueeze:
        ins.push_back(ints64(n.name + "::axes", std::get<AxesAttrs>(n.attrs).axes));
        node(op, ins, {y}, n.name);
        break;
      case OpKind::kReshape:
        ins.push_back(ints64(n.name + "::shape", g_.value(n.outputs[0]).shape));
        node("Reshape", ins, {y}, n.name);
        break;
      case OpKind::kPad: {
        const auto& a = std::get<PadAttrs>(n.attrs);
        ins.push_back(ints64(n.name + "::pads", a.pads));
        if (a.value != 0.0) {
          const DType t = g_.value(n.inputs[0]).dtype;
          if (t != DType::kFloat32) fail("node '{}': Pad of {} with a non-zero value cannot be exported", n.name, dtype_name(t));
          ins.push_back(scalar_f(n.name + "::value", static_cast<float>(a.value)));
        }
        auto* p = node("Pad", ins, {y}, n.name);
        attr(p, "mode", std::string(a.mode == PadMode::kConstant ? "constant" : a.mode == PadMode::kReflect ? "reflect" : "edge"));
        break;
      }
      case OpKind::kLRN: {
        const auto& a = std::get<LRNAttrs>(n.attrs);
        auto* p = node("LRN", ins, {y}, n.name);
        attr(p, "alpha", a.alpha);
        attr(p, "beta", a.beta);
        attr(p, "bias", a.bias);
        attr(p, "size", a.size);
        break;
      }
      case OpKind::kBatchNorm: {
        const auto& a = std::get<BatchNormAttrs>(n.attrs);
        if (a.training_mode) fail("node '{}': training-mode BatchNormalization cannot be exported", n.name);
        auto* p = node("BatchNormalization", ins, {y}, n.name);
        attr(p, "epsilon", a.epsilon);
        break;
      }
      case OpKind::kRelu:
      case OpKind::kClip:
      case OpKind::kLeakyRelu:
      case OpKind::kSigmoid:
      case OpKind::kHardSigmoid:
      case OpKind::kHardSwish: act(std::get<ActAttrs>(n.attrs).act, ins[0], y, n.name); break;
      case OpKind::kQuantizeLinear:
      case OpKind::kDequantizeLinear: {
        auto* p = node(op, ins, {y}, n.name);
        if (shape_numel(g_.value(n.inputs[1]).shape) > 1) attr(p, "axis", std::get<QuantLinearAttrs>(n.attrs).axis);
        break;
      }
      case OpKind::kMatMul:
      case OpKind::kAdd:
      case OpKind::kMul:
      case OpKind::kSum:
      case OpKind::kGlobalAveragePool:
      case OpKind::kIdentity: node(op, ins, {y}, n.name); break;
    }
    if (fused) act(n.act, y, out, n.name);
  }

  // A compute layer: integer weights and bias behind DequantizeLinear.
  void emit_compute(NodeId id) {
    const Node& n = g_.node(id);
    const ComputeQ& c = m_.compute(id);
    const Shape& ws = g_.value(n.inputs[1]).shape;
    const bool per_tensor = std::all_of(c.wscale.begin(), c.wscale.end(), [&](float s) { return s == c.wscale[0]; });
    const Shape sshape = per_tensor ? Shape{} : Shape{c.channels};
    const DType wt = container(c.wbits, true);
    const std::string wq = initializer(n.name + "::weight_q", int_tensor(wt, ws, c.qweight));
    const std::vector<float> wsc = per_tensor ? std::vector<float>{c.wscale[0]} : c.wscale;
    const std::string wsn = initializer(n.name + "::weight_scale", Tensor::from<float>(sshape, wsc));
    const std::vector<int32_t> zeros(wsc.size(), 0);
    const std::string wzn = initializer(n.name + "::weight_zero_point", int_tensor(wt, sshape, zeros));
    const std::string w = fresh(n.name + "::weight");
    auto* dq = node("DequantizeLinear", {wq, wsn, wzn}, {w}, n.name + "::weight::DequantizeLinear");
    if (!per_tensor) attr(dq, "axis", c.weight_axis);
    // Bias: int32 at s_in * s_w (per channel).
    std::vector<float> bsc;
    for (std::size_t i = 0; i < wsc.size(); ++i) bsc.push_back(c.in.scale * wsc[i]);
    const bool has_bias = std::any_of(c.bias.begin(), c.bias.end(), [](int32_t b) { return b != 0; }) || n.op != OpKind::kMatMul;
    std::string b;
    if (has_bias) {
      const std::string bq = initializer(n.name + "::bias_q", int_tensor(DType::kInt32, {c.channels}, c.bias));
      // A per-tensor bias scale still needs one value per channel of a 1-D bias (axis 0).
      std::vector<float> bscale = bsc;
      if (per_tensor) bscale.assign(static_cast<std::size_t>(c.channels), bsc[0]);
      const std::string bs = initializer(n.name + "::bias_scale", Tensor::from<float>({c.channels}, bscale));
      const std::string bz = initializer(n.name + "::bias_zero_point",
                                         int_tensor(DType::kInt32, {c.channels}, std::vector<int32_t>(static_cast<std::size_t>(c.channels), 0)));
      b = fresh(n.name + "::bias");
      attr(node("DequantizeLinear", {bq, bs, bz}, {b}, n.name + "::bias::DequantizeLinear"), "axis", int64_t{0});
    }
    const ValueId out = n.outputs[0];
    // A graph output dequantized from the accumulator has no Q/DQ pair.
    const bool float_out = c.float_output;
    const std::string pre = float_out ? g_.value(out).name : pre_name(out);
    const std::string x = in(n, 0);
    if (n.op == OpKind::kMatMul) {
      Node mm = n;
      mm.act = Activation{};
      if (has_bias) {
        const std::string prod = fresh(pre + "::matmul");
        emit_op(mm, {x, w}, prod);
        Node add;
        add.name = n.name + "::bias_add";
        add.op = OpKind::kAdd;
        add.act = c.act;
        emit_op(add, {prod, b}, pre);
      } else {
        mm.act = c.act;
        emit_op(mm, {x, w}, pre);
      }
    } else {
      Node op = n;
      op.act = c.act;  // the graph node's activation moved into the requantization
      std::vector<std::string> ins{x, w};
      if (has_bias) ins.push_back(b);
      emit_op(op, ins, pre);
    }
    real_[static_cast<std::size_t>(out)] = float_out ? pre : qdq(out, pre, *m_.params(out));
  }

  void emit(NodeId id) {
    const Node& n = g_.node(id);
    const QRole r = m_.role(id);
    auto set_real = [&](ValueId v, std::string s) { real_[static_cast<std::size_t>(v)] = std::move(s); };
    if (r == QRole::kCompute) return emit_compute(id);  // its weight and bias operands are written as integers
    std::vector<std::string> ins;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(n, i));
    const ValueId out = n.outputs.empty() ? -1 : n.outputs[0];
    switch (r) {
      case QRole::kCompute: return;
      case QRole::kAdd:
      case QRole::kConcat:
      case QRole::kAvgPool:
      case QRole::kClamp: {
        const QParams* q = m_.params(out);
        if (!q) {  // a graph output dequantized from the integer result: no Q/DQ pair
          emit_op(n, ins, g_.value(out).name);
          set_real(out, g_.value(out).name);
          return;
        }
        const std::string pre = pre_name(out);
        emit_op(n, ins, pre);
        set_real(out, qdq(out, pre, *q));
        return;
      }
      case QRole::kMaxPool:
      case QRole::kView:
      case QRole::kMove:
        emit_op(n, ins, g_.value(out).name);
        set_real(out, g_.value(out).name);
        return;
      case QRole::kRequant:
      case QRole::kQuant: set_real(out, qdq(out, ins[0], *m_.params(out))); return;
      case QRole::kDequant: set_real(out, ins[0]); return;
      case QRole::kFloat: {
        if (n.outputs.size() != 1) {
          // MaxPool with Indices: the only multi-output operator the executors run.
          auto* p = node(std::string(op_name(n.op)), ins, {}, n.name);
          for (ValueId v : n.outputs) {
            p->add_output(v >= 0 ? g_.value(v).name : "");
            if (v >= 0) set_real(v, g_.value(v).name);
          }
          const auto& a = std::get<PoolAttrs>(n.attrs);
          attr(p, "kernel_shape", a.kernel);
          attr(p, "strides", a.strides);
          attr(p, "pads", a.pads);
          if (a.ceil_mode) attr(p, "ceil_mode", int64_t{1});
          if (a.storage_order) attr(p, "storage_order", a.storage_order);
          if (std::any_of(a.dilations.begin(), a.dilations.end(), [](int64_t d) { return d != 1; })) attr(p, "dilations", a.dilations);
          return;
        }
        emit_op(n, ins, g_.value(out).name);
        set_real(out, g_.value(out).name);
        return;
      }
    }
  }

  const QuantizedModel& m_;
  const LayerGraph& g_;
  onnx::ModelProto model_;
  onnx::GraphProto* gp_ = nullptr;
  int opset_ = 13;
  std::vector<std::string> real_;
  std::unordered_set<std::string> names_, node_names_;
  std::unordered_set<ValueId> is_output_;
};

}  // namespace

std::string export_qdq_onnx(const QuantizedModel& m) { return Exporter(m).run(); }

}  // namespace qsim
