#include "quant/quant_plan.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/precision_plan.h"
#include "quant/quantizer.h"

namespace qsim {

std::string_view qrole_name(QRole r) {
  switch (r) {
    case QRole::kCompute: return "compute";
    case QRole::kAdd: return "add";
    case QRole::kConcat: return "concat";
    case QRole::kAvgPool: return "avgpool";
    case QRole::kMaxPool: return "maxpool";
    case QRole::kView: return "view";
    case QRole::kMove: return "move";
    case QRole::kClamp: return "clamp";
    case QRole::kFloat: return "float";
    case QRole::kRequant: return "requant";
    case QRole::kDequant: return "dequant";
    case QRole::kQuant: return "quant";
  }
  return "?";
}

namespace {

bool is_float_activation(const LayerGraph& g, ValueId v) {
  return v >= 0 && !g.value(v).is_constant && g.value(v).dtype == DType::kFloat32;
}
bool is_const(const LayerGraph& g, ValueId v) { return v >= 0 && g.value(v).is_constant; }

QRole classify(const LayerGraph& g, NodeId id) {
  const Node& n = g.node(id);
  const auto in = [&](std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : ValueId{-1}; };
  const bool float_in = !n.inputs.empty() && is_float_activation(g, in(0));
  const bool one_output = n.outputs.size() == 1 && n.outputs[0] >= 0 && g.value(n.outputs[0]).dtype == DType::kFloat32;
  switch (n.op) {
    case OpKind::kConv:
    case OpKind::kGemm:
    case OpKind::kMatMul:
      return float_in && one_output && layer_weights(g, id) ? QRole::kCompute : QRole::kFloat;
    case OpKind::kAdd:
    case OpKind::kSum: {
      if (!one_output || n.inputs.size() < 2 || n.inputs.size() > 8) return QRole::kFloat;
      const Shape& y = g.value(n.outputs[0]).shape;
      for (ValueId v : n.inputs)
        if (!is_float_activation(g, v) || g.value(v).shape != y) return QRole::kFloat;
      return QRole::kAdd;
    }
    case OpKind::kConcat:
      for (ValueId v : n.inputs)
        if (!is_float_activation(g, v)) return QRole::kFloat;
      return one_output ? QRole::kConcat : QRole::kFloat;
    case OpKind::kAveragePool:
    case OpKind::kGlobalAveragePool: return float_in && one_output ? QRole::kAvgPool : QRole::kFloat;
    case OpKind::kMaxPool: return float_in && one_output ? QRole::kMaxPool : QRole::kFloat;
    case OpKind::kFlatten:
    case OpKind::kReshape:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
    case OpKind::kIdentity: return float_in && one_output ? QRole::kView : QRole::kFloat;
    case OpKind::kTranspose: return float_in && one_output ? QRole::kMove : QRole::kFloat;
    case OpKind::kPad: {
      const auto& a = std::get<PadAttrs>(n.attrs);
      return float_in && one_output && a.mode == PadMode::kConstant && a.value == 0.0 ? QRole::kMove : QRole::kFloat;
    }
    case OpKind::kRelu:
    case OpKind::kClip: return float_in && one_output ? QRole::kClamp : QRole::kFloat;
    default: return QRole::kFloat;
  }
}

bool keeps_params(QRole r) {
  return r == QRole::kMaxPool || r == QRole::kView || r == QRole::kMove || r == QRole::kClamp;
}

}  // namespace

QuantPlan plan_quantization(const LayerGraph& g, std::span<const LayerPrecision> precision) {
  const auto compute = g.compute_layers();
  if (precision.size() != compute.size())
    throw std::logic_error("plan_quantization: one precision per compute layer expected");
  QuantPlan p;
  p.precision.assign(precision.begin(), precision.end());
  const std::size_t nv = g.values().size(), nn = g.nodes().size();
  p.role.resize(nn);
  p.width.assign(nv, 0);
  p.params_of.assign(nv, -1);
  std::vector<int> layer_of(nn, -1);
  for (std::size_t i = 0; i < compute.size(); ++i) {
    layer_of[static_cast<std::size_t>(compute[i])] = static_cast<int>(i);
    const LayerPrecision& lp = precision[i];
    for (int b : {lp.wbits, lp.abits})
      if (b < kMinQuantBits || b > kMaxQuantBits)
        fail("layer '{}': width {} is outside {}..{}, the widths qsim quantizes", g.node(compute[i]).name, b,
             kMinQuantBits, kMaxQuantBits);
  }
  for (std::size_t i = 0; i < nn; ++i) p.role[i] = classify(g, static_cast<NodeId>(i));

  // Widths and requantizations: the one rule (graph/precision_plan.h) the timing
  // model and the search read too.
  PrecisionPlan widths = plan_precision(g, precision);
  p.width = std::move(widths.width);
  std::vector<std::pair<ValueId, int>> required;
  auto require = [&](ValueId v, int bits) {
    const std::pair<ValueId, int> k{v, bits};
    if (std::find(required.begin(), required.end(), k) == required.end()) required.push_back(k);
  };

  // Parameter sources: a value owns parameters unless its producer keeps its input's.
  for (std::size_t v = 0; v < nv; ++v)
    if (g.value(static_cast<ValueId>(v)).dtype != DType::kFloat32 || g.value(static_cast<ValueId>(v)).is_constant)
      p.width[v] = 0;
  // Conversions of quantized tensors (an integer-typed tensor is not quantized: its
  // readers take it as it is).
  p.input_requant.assign(compute.size(), -1);
  for (std::size_t r = 0; r < widths.requants.size(); ++r) {
    const Requantization& q = widths.requants[r];
    if (p.width[static_cast<std::size_t>(q.value)] == 0) continue;
    for (std::size_t i = 0; i < compute.size(); ++i)
      if (widths.input_requant[i] == static_cast<int>(r)) p.input_requant[i] = static_cast<int>(p.requants.size());
    p.requants.push_back(q);
  }
  for (ValueId v : g.inputs())
    if (p.width[static_cast<std::size_t>(v)] > 0) p.params_of[static_cast<std::size_t>(v)] = v;
  // Graph outputs (through views only) of operators that compute a wider integer
  // result (compute layers, Add, average pools, float operators) are dequantized from
  // that result instead of being requantized: the logits keep the accumulator's
  // precision, so rounding cannot tie two classes.
  std::vector<char> output_only(nv, 0);
  for (ValueId v : g.outputs()) output_only[static_cast<std::size_t>(v)] = 1;
  const auto topo = g.topo_order();
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    const Node& n = g.node(*it);
    for (ValueId o : n.outputs) {
      if (o < 0 || g.consumers(o).empty()) continue;
      bool only = true;
      for (NodeId c : g.consumers(o))
        only = only && p.role[static_cast<std::size_t>(c)] == QRole::kView &&
               output_only[static_cast<std::size_t>(g.node(c).outputs[0])];
      output_only[static_cast<std::size_t>(o)] = only;
    }
  }
  p.float_output.assign(nv, 0);
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    const QRole r = p.role[static_cast<std::size_t>(id)];
    const bool widens = r == QRole::kCompute || r == QRole::kAdd || r == QRole::kAvgPool || r == QRole::kFloat;
    for (ValueId o : n.outputs) {
      if (o < 0 || p.width[static_cast<std::size_t>(o)] == 0) continue;
      if (widens && output_only[static_cast<std::size_t>(o)]) {
        p.float_output[static_cast<std::size_t>(o)] = 1;
        continue;
      }
      p.params_of[static_cast<std::size_t>(o)] = keeps_params(r) ? p.params_of[static_cast<std::size_t>(n.inputs[0])] : o;
    }
  }
  for (std::size_t v = 0; v < nv; ++v)
    if (p.params_of[v] == static_cast<ValueId>(v)) require(static_cast<ValueId>(v), p.width[v]);
  for (const Requantization& q : p.requants) require(q.value, q.to_bits);
  p.required = std::move(required);
  return p;
}

// ------------------------------------------------------------------ weights

std::optional<LayerWeights> layer_weights(const LayerGraph& g, NodeId id) {
  const Node& n = g.node(id);
  const auto in = [&](std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : ValueId{-1}; };
  const ValueId w = in(1);
  if (!is_const(g, w) || g.value(w).dtype != DType::kFloat32 || !g.value(w).data) return std::nullopt;
  LayerWeights lw;
  const Shape& ws = g.value(w).shape;
  if (n.op == OpKind::kConv) {
    const ValueId b = in(2);
    if (b >= 0 && (!is_const(g, b) || !g.value(b).data || g.value(b).dtype != DType::kFloat32)) return std::nullopt;
    lw.w = *g.value(w).data;
    lw.axis = 0;
    lw.channels = ws[0];
    lw.bias.assign(static_cast<std::size_t>(lw.channels), 0.0f);
    if (b >= 0) {
      const auto bd = g.value(b).data->data<float>();
      std::copy(bd.begin(), bd.end(), lw.bias.begin());
    }
    return lw;
  }
  if (n.op == OpKind::kGemm) {
    const auto& a = std::get<GemmAttrs>(n.attrs);
    if (a.trans_a || ws.size() != 2) return std::nullopt;
    lw.axis = a.trans_b ? 0 : 1;
    lw.channels = ws[static_cast<std::size_t>(lw.axis)];
    lw.w = *g.value(w).data;
    for (float& x : lw.w.data<float>()) x *= a.alpha;
    lw.bias.assign(static_cast<std::size_t>(lw.channels), 0.0f);
    const ValueId c = in(2);
    if (c >= 0 && a.beta != 0.0f) {
      if (!is_const(g, c) || !g.value(c).data || g.value(c).dtype != DType::kFloat32) return std::nullopt;
      const Tensor& ct = *g.value(c).data;
      const Shape& cs = ct.shape();
      // C must be a per-column bias: [], [1], [N], [1, 1] or [1, N].
      const int64_t cols = cs.empty() ? 1 : cs.back();
      if (ct.numel() != cols || (cols != 1 && cols != lw.channels)) return std::nullopt;
      const auto cd = ct.data<float>();
      for (int64_t j = 0; j < lw.channels; ++j) lw.bias[static_cast<std::size_t>(j)] = a.beta * cd[static_cast<std::size_t>(cols == 1 ? 0 : j)];
    }
    return lw;
  }
  if (n.op == OpKind::kMatMul) {
    if (ws.size() != 2 || g.value(in(0)).shape.size() < 2) return std::nullopt;
    lw.w = *g.value(w).data;
    lw.axis = 1;
    lw.channels = ws[1];
    lw.bias.assign(static_cast<std::size_t>(lw.channels), 0.0f);
    return lw;
  }
  return std::nullopt;
}

}  // namespace qsim
