#include "quant/quant_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/conv.h"
#include "quant/eval.h"
#include "quant/executor.h"
#include "quant/gemm.h"

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

// ------------------------------------------------------------------ QuantSpec

const QParams* QuantSpec::find(std::string_view tensor, int bits) const {
  for (const Act& a : activations)
    if (a.tensor == tensor && a.q.bits == bits) return &a.q;
  return nullptr;
}

void QuantSpec::set(const std::string& tensor, const QParams& q) {
  for (Act& a : activations)
    if (a.tensor == tensor && a.q.bits == q.bits) {
      a.q = q;
      return;
    }
  activations.push_back({tensor, q});
}

PrecisionAlloc QuantSpec::to_alloc() const {
  PrecisionAlloc a = alloc;
  for (const auto& [name, l] : layers) {
    if (!a.find(name)) continue;
    a.extra(name)["weight_scale"] = l.weight_scales;
    if (!l.bias_correction.empty()) a.extra(name)["bias_correction"] = l.bias_correction;
  }
  nlohmann::json acts = nlohmann::json::array();
  for (const Act& x : activations)
    acts.push_back({{"tensor", x.tensor},
                    {"bits", x.q.bits},
                    {"signed", x.q.is_signed},
                    {"scale", x.q.scale},
                    {"zero_point", x.q.zero_point}});
  nlohmann::json& q = a.section("quantization");
  q = nlohmann::json::object();
  q["acc_bits"] = acc_bits;
  q["act_scheme"] = act_symmetric ? "symmetric" : "asymmetric";
  q["calibration"] = calibration;
  q["activations"] = std::move(acts);
  return a;
}

namespace {

int json_int(const nlohmann::json& j, const char* key, std::string_view where, int64_t lo, int64_t hi) {
  if (!j.contains(key) || !j[key].is_number_integer()) fail("{}: \"{}\" must be an integer", where, key);
  const auto v = j[key].get<int64_t>();
  if (v < lo || v > hi) fail("{}: \"{}\" = {} is outside {}..{}", where, key, v, lo, hi);
  return static_cast<int>(v);
}

float positive_float(const nlohmann::json& v, std::string_view where) {
  if (!v.is_number()) fail("{}: expected a number", where);
  const double d = v.get<double>();
  if (!(d > 0.0) || !std::isfinite(d) || d > 3.0e38) fail("{}: {} is not a positive finite float", where, d);
  return static_cast<float>(d);
}

std::vector<float> float_list(const nlohmann::json& v, std::string_view where, bool positive) {
  if (!v.is_array() || v.empty()) fail("{}: expected a non-empty array of numbers", where);
  std::vector<float> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    if (positive) {
      out.push_back(positive_float(v[i], at));
    } else {
      if (!v[i].is_number() || !std::isfinite(v[i].get<double>()) || std::abs(v[i].get<double>()) > 3.0e38)
        fail("{}: expected a finite number", at);
      out.push_back(static_cast<float>(v[i].get<double>()));
    }
  }
  return out;
}

}  // namespace

std::optional<QuantSpec> QuantSpec::from_alloc(const PrecisionAlloc& a, std::string_view source) {
  const nlohmann::json* q = a.find_section("quantization");
  if (!q) return std::nullopt;
  const std::string where = fmt::format("{}: \"quantization\"", source);
  if (!q->is_object()) fail("{} must be an object", where);
  QuantSpec s;
  s.alloc = a;
  s.acc_bits = json_int(*q, "acc_bits", where, 16, 32);
  if (q->contains("act_scheme")) {
    const auto& sch = (*q)["act_scheme"];
    if (sch != "symmetric" && sch != "asymmetric") fail("{}: \"act_scheme\" must be \"symmetric\" or \"asymmetric\"", where);
    s.act_symmetric = sch == "symmetric";
  }
  if (q->contains("calibration")) s.calibration = (*q)["calibration"];
  if (!q->contains("activations") || !(*q)["activations"].is_array()) fail("{}: missing \"activations\" array", where);
  std::size_t i = 0;
  for (const auto& e : (*q)["activations"]) {
    const std::string at = fmt::format("{}.activations[{}]", where, i++);
    if (!e.is_object() || !e.contains("tensor") || !e["tensor"].is_string()) fail("{}: needs a string \"tensor\"", at);
    QParams p;
    p.bits = json_int(e, "bits", at, kMinQuantBits, kMaxQuantBits);
    if (!e.contains("signed") || !e["signed"].is_boolean()) fail("{}: \"signed\" must be true or false", at);
    p.is_signed = e["signed"].get<bool>();
    if (!e.contains("scale")) fail("{}: missing \"scale\"", at);
    p.scale = positive_float(e["scale"], at + ".scale");
    const auto r = p.range();
    p.zero_point = json_int(e, "zero_point", at, r.lo, r.hi);
    const std::string name = e["tensor"].get<std::string>();
    if (s.find(name, p.bits)) fail("{}: tensor '{}' at {} bits appears twice", at, name, p.bits);
    s.activations.push_back({name, p});
  }
  for (const auto& [name, prec] : a.entries()) {
    const nlohmann::json* x = a.find_extra(name);
    const std::string at = fmt::format("{}: layer '{}'", source, name);
    if (!x || !x->contains("weight_scale")) fail("{}: has no \"weight_scale\" (needed with a \"quantization\" section)", at);
    Layer l;
    l.weight_scales = float_list((*x)["weight_scale"], at + ": \"weight_scale\"", true);
    if (x->contains("bias_correction"))
      l.bias_correction = float_list((*x)["bias_correction"], at + ": \"bias_correction\"", false);
    s.layers[name] = std::move(l);
  }
  return s;
}

// ------------------------------------------------------------------ plan

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

  // Widths exactly as the timing model derives them (sim/analytical/analytical_backend.cpp).
  const int default_width = compute.empty() ? 8 : precision[0].abits;
  auto is_act = [&](ValueId v) { return v >= 0 && !g.value(v).is_constant; };
  std::vector<int> requant_to(nv, 0);
  std::vector<std::pair<ValueId, int>> required;
  auto require = [&](ValueId v, int bits) {
    const std::pair<ValueId, int> k{v, bits};
    if (std::find(required.begin(), required.end(), k) == required.end()) required.push_back(k);
  };
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    const auto uid = static_cast<std::size_t>(id);
    if (layer_of[uid] >= 0) {
      const LayerPrecision& lp = precision[static_cast<std::size_t>(layer_of[uid])];
      const ValueId x = n.inputs.empty() ? -1 : n.inputs[0];
      if (is_act(x)) {
        const auto ux = static_cast<std::size_t>(x);
        if (p.width[ux] == 0) {
          p.width[ux] = lp.abits;
        } else if (p.width[ux] != lp.abits && p.role[uid] == QRole::kCompute) {
          p.width_changes.push_back({x, id, lp.abits});
          if (requant_to[ux] != lp.abits) requant_to[ux] = lp.abits;
        }
      }
      for (ValueId o : n.outputs)
        if (o >= 0) p.width[static_cast<std::size_t>(o)] = lp.abits;
      continue;
    }
    int w = 0;
    for (ValueId v : n.inputs) {
      if (!is_act(v)) continue;
      int& wv = p.width[static_cast<std::size_t>(v)];
      if (wv == 0) wv = default_width;
      w = std::max(w, wv);
    }
    if (w == 0) w = default_width;
    for (ValueId o : n.outputs)
      if (o >= 0) p.width[static_cast<std::size_t>(o)] = w;
  }
  for (ValueId v : g.inputs())
    if (p.width[static_cast<std::size_t>(v)] == 0) p.width[static_cast<std::size_t>(v)] = default_width;

  // Parameter sources: a value owns parameters unless its producer keeps its input's.
  for (std::size_t v = 0; v < nv; ++v)
    if (g.value(static_cast<ValueId>(v)).dtype != DType::kFloat32 || g.value(static_cast<ValueId>(v)).is_constant)
      p.width[v] = 0;
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
  for (const auto& c : p.width_changes) require(c.value, c.bits);
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

std::vector<int64_t> calibration_indices(int64_t size, int64_t n) {
  n = std::min(n, size);
  std::vector<int64_t> idx(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i * size / n;
  return idx;
}

// ------------------------------------------------------------------ calibration

namespace {

// Mean over output positions of the layer applied to the mean input with weights
// dw (the weight quantization error): the expected output error per channel.
std::vector<float> expected_error(const LayerGraph& g, NodeId id, const LayerWeights& lw, const Tensor& dw,
                                  std::span<const double> mean_x, ThreadPool& pool) {
  const Node& n = g.node(id);
  std::vector<float> out(static_cast<std::size_t>(lw.channels), 0.0f);
  if (n.op == OpKind::kConv) {
    Shape xs = g.value(n.inputs[0]).shape, ys = g.value(n.outputs[0]).shape;
    xs[0] = 1;
    ys[0] = 1;
    std::vector<float> x(mean_x.begin(), mean_x.end());
    std::vector<float> y(static_cast<std::size_t>(shape_numel(ys)));
    ConvKernel k(xs, ys, dw.shape(), dw.data<float>().data(), std::get<ConvAttrs>(n.attrs), Activation{}, pool.size());
    gemm::Workspace ws;
    ws.reserve(pool.size(), k.workspace_floats());
    k.run(x.data(), nullptr, nullptr, y.data(), pool, ws);
    const int64_t plane = shape_numel(ys) / lw.channels;
    for (int64_t c = 0; c < lw.channels; ++c) {
      double s = 0;
      for (int64_t i = 0; i < plane; ++i) s += y[static_cast<std::size_t>(c * plane + i)];
      out[static_cast<std::size_t>(c)] = static_cast<float>(s / static_cast<double>(plane));
    }
    return out;
  }
  // Gemm / MatMul: rows of A are samples (or positions); mean_x is the mean row.
  const int64_t K = static_cast<int64_t>(mean_x.size());
  const auto d = dw.data<float>();
  for (int64_t c = 0; c < lw.channels; ++c) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t idx = lw.axis == 0 ? c * K + k : k * lw.channels + c;
      s += static_cast<double>(d[static_cast<std::size_t>(idx)]) * mean_x[static_cast<std::size_t>(k)];
    }
    out[static_cast<std::size_t>(c)] = static_cast<float>(s);
  }
  return out;
}

}  // namespace

QuantSpec calibrate(const LayerGraph& g, const PrecisionAlloc& alloc, std::string_view alloc_source,
                    const Dataset& calib, const QuantOptions& o) {
  if (o.acc_bits < 16 || o.acc_bits > 32) fail("accumulator width {} is outside 16..32", o.acc_bits);
  const std::vector<LayerPrecision> prec = alloc.resolve(g, alloc_source);
  const QuantPlan plan = plan_quantization(g, prec);
  if (g.inputs().size() != 1) fail("model '{}' has {} inputs; calibration feeds one", g.name, g.inputs().size());
  const Value& in = g.value(g.inputs()[0]);
  if (in.dtype != DType::kFloat32 || in.shape.empty()) fail("model '{}': calibration needs a float32 input with a batch axis", g.name);
  const int64_t model_batch = in.shape[0];
  const int64_t per_sample = shape_numel(in.shape) / std::max<int64_t>(model_batch, 1);
  if (per_sample != calib.sample_numel())
    fail("model '{}' takes {} per sample, the calibration data {} gives {}", g.name, shape_str(in.shape),
         calib.description(), shape_str(calib.sample_shape()));
  if (o.calib_samples <= 0) fail("--calib-samples {}: must be positive", o.calib_samples);
  const std::vector<int64_t> idx = calibration_indices(calib.size(), o.calib_samples);
  if (idx.empty()) fail("{}: no calibration samples", calib.description());

  QuantSpec spec;
  spec.alloc = alloc;
  spec.alloc.model = g.name;
  spec.acc_bits = o.acc_bits;
  spec.act_symmetric = o.act_symmetric;

  // Weights.
  const auto compute = g.compute_layers();
  std::vector<std::optional<LayerWeights>> weights(compute.size());
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const NodeId id = compute[i];
    if (plan.role[static_cast<std::size_t>(id)] != QRole::kCompute) continue;
    weights[i] = layer_weights(g, id);
    QuantSpec::Layer l;
    l.weight_scales = weight_scales(weights[i]->w, weights[i]->axis, prec[i].wbits, prec[i].per_channel, o.weight_clip);
    spec.layers[g.node(id).name] = std::move(l);
  }

  // Observers run on a re-batched copy when the graph allows it (ids are unchanged).
  const int64_t want_batch = std::min<int64_t>(16, static_cast<int64_t>(idx.size()));
  std::optional<LayerGraph> batched;
  if (want_batch != model_batch) batched = rebatch(g, want_batch);
  const LayerGraph& run_g = batched ? *batched : g;
  const int64_t batch = run_g.value(run_g.inputs()[0]).shape[0];

  const std::size_t nv = g.values().size();
  std::vector<char> observed(nv, 0);
  for (const auto& [v, bits] : plan.required) observed[static_cast<std::size_t>(v)] = 1;
  std::vector<TensorStats> stats(nv);
  // Bias correction: running sums of each compute layer's input, per sample position.
  std::vector<std::vector<double>> mean_in(nv);
  std::vector<char> want_mean(nv, 0);
  if (o.bias_correction)
    for (std::size_t i = 0; i < compute.size(); ++i)
      if (weights[i]) want_mean[static_cast<std::size_t>(g.node(compute[i]).inputs[0])] = 1;

  ThreadPool pool(o.threads);
  Executor ex(run_g, ExecOptions{.pool = &pool});
  std::vector<Tensor> input{Tensor(DType::kFloat32, run_g.value(run_g.inputs()[0]).shape)}, outputs;
  int pass = 1;
  int64_t valid = 0;  // samples of the current batch (the tail batch is padded)
  auto observe = [&](ValueId v, const float* data) {
    const auto uv = static_cast<std::size_t>(v);
    const int64_t per = shape_numel(run_g.value(v).shape) / batch;
    const std::span<const float> x(data, static_cast<std::size_t>(per * valid));
    if (observed[uv]) {
      if (pass == 1) {
        stats[uv].observe_minmax(x);
      } else {
        stats[uv].observe_histograms(x);
      }
    }
    if (pass == 1 && want_mean[uv]) {
      auto& m = mean_in[uv];
      if (m.empty()) m.assign(static_cast<std::size_t>(per), 0.0);
      for (int64_t s = 0; s < valid; ++s)
        for (int64_t i = 0; i < per; ++i) m[static_cast<std::size_t>(i)] += x[static_cast<std::size_t>(s * per + i)];
    }
  };
  for (NodeId id : run_g.topo_order()) {
    const Node& n = run_g.node(id);
    bool any = false;
    for (ValueId v : n.outputs) any = any || (v >= 0 && (observed[static_cast<std::size_t>(v)] || want_mean[static_cast<std::size_t>(v)]));
    if (!any) continue;
    ex.add_hook(id, [&, id](NodeId, std::span<const TensorRef> outs) {
      const Node& nn = run_g.node(id);
      for (std::size_t k = 0; k < nn.outputs.size(); ++k) {
        const ValueId v = nn.outputs[k];
        if (v >= 0 && outs[k].dtype == DType::kFloat32 && (observed[static_cast<std::size_t>(v)] || want_mean[static_cast<std::size_t>(v)]))
          observe(v, static_cast<const float*>(outs[k].data));
      }
    });
  }
  const ValueId in_v = run_g.inputs()[0];
  auto run_pass = [&]() {
    for (std::size_t first = 0; first < idx.size(); first += static_cast<std::size_t>(batch)) {
      valid = std::min<int64_t>(batch, static_cast<int64_t>(idx.size() - first));
      float* x = input[0].data<float>().data();
      for (int64_t s = 0; s < batch; ++s) {
        if (s < valid) {
          calib.load(idx[first + static_cast<std::size_t>(s)], x + s * per_sample);
        } else {
          std::fill(x + s * per_sample, x + (s + 1) * per_sample, 0.0f);
        }
      }
      observe(in_v, x);
      ex.run(input, outputs);
    }
  };
  run_pass();
  if (needs_histogram(o.calib)) {
    for (std::size_t v = 0; v < nv; ++v)
      if (observed[v]) stats[v].start_histograms(o.calib_params, o.calib == CalibMethod::kKl);
    pass = 2;
    run_pass();
  }

  for (const auto& [v, bits] : plan.required) {
    const QParams q = choose_params(stats[static_cast<std::size_t>(v)], o.calib, o.calib_params,
                                    ActEncoding{bits, o.act_symmetric});
    spec.set(g.value(v).name, q);
  }

  if (o.bias_correction) {
    const double count = static_cast<double>(idx.size());
    for (std::size_t i = 0; i < compute.size(); ++i) {
      if (!weights[i]) continue;
      const NodeId id = compute[i];
      const LayerWeights& lw = *weights[i];
      auto& sums = mean_in[static_cast<std::size_t>(g.node(id).inputs[0])];
      if (sums.empty()) continue;
      std::vector<double> mean(sums.size());
      for (std::size_t k = 0; k < sums.size(); ++k) mean[k] = sums[k] / count;
      if (g.node(id).op != OpKind::kConv) {
        // Rows of A (all leading dimensions) are averaged into one K-vector.
        const int64_t K = g.value(id >= 0 ? g.node(id).inputs[0] : 0).shape.back();
        std::vector<double> row(static_cast<std::size_t>(K), 0.0);
        const int64_t rows = static_cast<int64_t>(mean.size()) / K;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < K; ++k) row[static_cast<std::size_t>(k)] += mean[static_cast<std::size_t>(r * K + k)] / rows;
        mean = std::move(row);
      }
      QuantSpec::Layer& l = spec.layers[g.node(id).name];
      const QuantizedWeights qw = quantize_weights(lw.w, lw.axis, prec[i].wbits, l.weight_scales);
      Tensor dw = lw.w;
      auto d = dw.data<float>();
      const int64_t inner = [&] {
        int64_t s = 1;
        for (std::size_t a = static_cast<std::size_t>(lw.axis) + 1; a < lw.w.shape().size(); ++a) s *= lw.w.shape()[a];
        return s;
      }();
      for (std::size_t k = 0; k < d.size(); ++k) {
        const int64_t c = (static_cast<int64_t>(k) / inner) % lw.channels;
        d[k] = static_cast<float>(qw.q[k]) * qw.scale_of(c) - d[k];
      }
      l.bias_correction = expected_error(g, id, lw, dw, mean, pool);
    }
  }

  spec.calibration = {{"method", std::string(calib_method_name(o.calib))},
                      {"samples", static_cast<int64_t>(idx.size())},
                      {"data", calib.description()},
                      {"selection", "evenly spaced: sample floor(i * size / samples)"},
                      {"weight_clip", std::string(weight_clip_name(o.weight_clip))},
                      {"bias_correction", o.bias_correction}};
  if (o.calib == CalibMethod::kPercentile) spec.calibration["percentile"] = o.calib_params.percentile;
  if (needs_histogram(o.calib)) spec.calibration["bins"] = o.calib_params.bins;
  return spec;
}

// ------------------------------------------------------------------ QuantizedModel

float ComputeQ::real(int32_t acc, int64_t c) const {
  float y = static_cast<float>(acc) * acc_scale[static_cast<std::size_t>(c)];
  gemm::apply_activation(act, &y, 1);
  return y;
}

int32_t ComputeQ::finish_float(int32_t acc, int64_t c) const { return out.quantize(real(acc, c)); }

int QuantizedModel::exact_layers() const {
  int n = 0;
  for (const ComputeQ& c : compute_) n += c.fake_exact ? 1 : 0;
  return n;
}

namespace {

std::string unique_name(const LayerGraph& g, std::unordered_set<std::string>& taken, const std::string& base) {
  std::string name = base;
  for (int i = 2; taken.count(name) || g.find_value(name); ++i) name = base + "_" + std::to_string(i);
  taken.insert(name);
  return name;
}

intarith::QRange act_range(const Activation& act, const QParams& out) {
  const auto r = out.range();
  if (act.kind == ActKind::kRelu) return intarith::clamp_range(r, out.scale, out.zero_point, true, 0.0f, false, 0.0f);
  if (act.kind == ActKind::kClip)
    return intarith::clamp_range(r, out.scale, out.zero_point, std::isfinite(act.alpha), act.alpha,
                                 std::isfinite(act.beta), act.beta);
  return r;
}

RescaleQ make_rescale(const QParams& from, const QParams& to, intarith::QRange range) {
  RescaleQ r;
  r.in_zp = from.zero_point;
  r.out_zp = to.zero_point;
  r.range = range;
  r.m = intarith::quantize_multiplier(static_cast<double>(from.scale) / to.scale);
  r.identity = from == to;
  return r;
}

}  // namespace

QuantizedModel::QuantizedModel(const LayerGraph& g, const QuantSpec& spec, std::string_view source) : g_(g) {
  acc_bits_ = spec.acc_bits;
  const std::vector<LayerPrecision> prec = spec.alloc.resolve(g, source);
  const QuantPlan plan = plan_quantization(g, prec);

  // Parameters by value name (names survive the renumbering of finalize()).
  auto params_for = [&](ValueId v, int bits) -> QParams {
    const std::string& name = g.value(v).name;
    const QParams* q = spec.find(name, bits);
    if (!q) fail("{}: no activation parameters for tensor '{}' at {} bits (calibrate again)", source, name, bits);
    return *q;
  };
  std::unordered_map<std::string, QParams> by_name;
  std::unordered_map<std::string, QRole> carrier_role;  // node name -> role of an inserted step
  for (std::size_t v = 0; v < g.values().size(); ++v) {
    const ValueId src = plan.params_of[v];
    if (src < 0) continue;
    by_name[g.value(static_cast<ValueId>(v)).name] = params_for(src, plan.width[v]);
  }

  qg_ = g;
  std::unordered_set<std::string> taken;
  for (const Value& v : g.values()) taken.insert(v.name);
  std::unordered_set<std::string> node_names;
  for (const Node& n : g.nodes()) node_names.insert(n.name);
  auto add_step = [&](const std::string& node_name, ValueId in, const std::string& out_name, const QParams* q,
                      QRole role) {
    Value out = qg_.value(in);
    out.name = out_name;
    out.is_constant = false;
    out.data.reset();
    const ValueId ov = qg_.add_value(std::move(out));
    Node n;
    std::string nn = node_name;
    for (int i = 2; node_names.count(nn); ++i) nn = node_name + "_" + std::to_string(i);
    node_names.insert(nn);
    n.name = nn;
    // A Clip over (-inf, inf) is a float32 copy: the executors replace its computation.
    n.op = OpKind::kClip;
    n.inputs = {in};
    n.outputs = {ov};
    n.attrs = ActAttrs{Activation{ActKind::kClip, -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::infinity()}};
    qg_.add_node(std::move(n));
    carrier_role[nn] = role;
    if (q) by_name[out_name] = *q;
    return ov;
  };

  // Width changes in front of compute layers: one step per (tensor, width), named after
  // the first consumer as the timing model's requantization row.
  std::map<std::pair<ValueId, int>, ValueId> converted;
  for (const auto& c : plan.width_changes) {
    auto it = converted.find({c.value, c.bits});
    if (it == converted.end()) {
      const QParams q = params_for(c.value, c.bits);
      const std::string out = unique_name(g, taken, fmt::format("{}::a{}", g.value(c.value).name, c.bits));
      const ValueId nv = add_step(g.node(c.consumer).name + ".requant", c.value, out, &q, QRole::kRequant);
      it = converted.emplace(std::make_pair(c.value, c.bits), nv).first;
    }
    Node& consumer = qg_.node(c.consumer);
    consumer.inputs[0] = it->second;
  }

  // Float operators: dequantize their quantized inputs, quantize their float outputs.
  std::map<ValueId, ValueId> dequantized;
  for (NodeId id : g.topo_order()) {
    if (plan.role[static_cast<std::size_t>(id)] != QRole::kFloat) continue;
    const Node orig = g.node(id);
    for (std::size_t k = 0; k < orig.inputs.size(); ++k) {
      if (orig.inputs[k] < 0 || plan.params_of[static_cast<std::size_t>(orig.inputs[k])] < 0) continue;
      // The current input: an earlier float operator's output has been replaced by its
      // quantized tensor already.
      const ValueId v = qg_.node(id).inputs[k];
      auto it = dequantized.find(v);
      if (it == dequantized.end()) {
        const std::string vname = qg_.value(v).name;
        const std::string out = unique_name(g, taken, vname + "::dq");
        const QParams q = by_name.at(vname);
        const ValueId dv = add_step("dequantize:" + vname, v, out, nullptr, QRole::kDequant);
        convert_.push_back({q});
        it = dequantized.emplace(v, dv).first;
      }
      qg_.node(id).inputs[k] = it->second;
    }
    for (std::size_t k = 0; k < orig.outputs.size(); ++k) {
      const ValueId v = orig.outputs[k];
      if (v < 0 || plan.params_of[static_cast<std::size_t>(v)] < 0) continue;
      // The float result is renamed; the quantized tensor keeps the model's name, so
      // consumers and graph outputs see it unchanged.
      const std::string name = g.value(v).name;
      const QParams q = by_name.at(name);
      qg_.value(v).name = unique_name(g, taken, name + "::float");
      by_name.erase(name);
      const ValueId fv = v;
      // The step's output takes over v's consumers: add it, then swap the ids in every
      // consumer and in the graph outputs.
      const ValueId qv = add_step("quantize:" + name, fv, name, &q, QRole::kQuant);
      for (NodeId c : g.consumers(v))
        for (ValueId& x : qg_.node(c).inputs)
          if (x == v) x = qv;
      // Inserted steps created above that read v (width changes) read the quantized value too.
      for (std::size_t nid = g.nodes().size(); nid < qg_.nodes().size(); ++nid) {
        Node& sn = qg_.node(static_cast<NodeId>(nid));
        if (sn.outputs[0] == qv) continue;
        for (ValueId& x : sn.inputs)
          if (x == v) x = qv;
      }
      std::vector<ValueId> outs(qg_.outputs().begin(), qg_.outputs().end());
      for (ValueId& x : outs)
        if (x == v) x = qv;
      qg_.set_outputs(std::move(outs));
    }
  }
  // Dequantize steps were recorded in creation order; index them by node below.

  // Compute layers: integer weights and biases for the fake-quant executor.
  const auto compute = g.compute_layers();
  std::map<NodeId, ComputeQ> cq;
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const NodeId id = compute[i];
    if (plan.role[static_cast<std::size_t>(id)] != QRole::kCompute) continue;
    const Node& n = g.node(id);
    const std::string& lname = n.name;
    const auto lit = spec.layers.find(lname);
    if (lit == spec.layers.end()) fail("{}: layer '{}' has no weight scales", source, lname);
    const LayerWeights lw = *layer_weights(g, id);
    ComputeQ c;
    c.wbits = prec[i].wbits;
    c.acc_bits = spec.acc_bits;
    c.act = n.act;
    c.in = by_name.at(qg_.value(qg_.node(id).inputs[0]).name);
    c.float_output = plan.float_output[static_cast<std::size_t>(n.outputs[0])] != 0;
    if (!c.float_output) c.out = by_name.at(g.value(n.outputs[0]).name);
    const QuantizedWeights qw = quantize_weights(lw.w, lw.axis, c.wbits, lit->second.weight_scales);
    c.channels = lw.channels;
    c.qweight = qw.q;
    c.weight_axis = lw.axis;
    const Shape& ys = g.value(n.outputs[0]).shape;
    if (n.op == OpKind::kConv) {
      c.outer = ys[0];
      c.inner = shape_numel(ys) / (ys[0] * c.channels);
    } else {
      c.outer = shape_numel(ys) / c.channels;
      c.inner = 1;
    }
    const auto& bc = lit->second.bias_correction;
    if (!bc.empty() && static_cast<int64_t>(bc.size()) != c.channels)
      fail("{}: layer '{}': \"bias_correction\" has {} values for {} channels", source, lname, bc.size(), c.channels);
    c.wscale.resize(static_cast<std::size_t>(c.channels));
    c.bias.resize(c.wscale.size());
    c.mult.resize(c.wscale.size());
    c.acc_scale.resize(c.wscale.size());
    c.float_epilogue = c.float_output ||
                       (n.act.kind != ActKind::kNone && n.act.kind != ActKind::kRelu && n.act.kind != ActKind::kClip);
    c.out_range = c.float_epilogue ? c.out.range() : act_range(n.act, c.out);
    const auto ir = c.in.range();
    const int64_t xmax = std::max<int64_t>(c.in.zero_point - ir.lo, ir.hi - c.in.zero_point);
    // Per-channel sums of |w| bound the accumulator (exactness of float32 accumulation).
    std::vector<int64_t> wabs(c.wscale.size(), 0);
    const int64_t inner_w = [&] {
      int64_t s = 1;
      for (std::size_t a = static_cast<std::size_t>(lw.axis) + 1; a < lw.w.shape().size(); ++a) s *= lw.w.shape()[a];
      return s;
    }();
    for (std::size_t k = 0; k < qw.q.size(); ++k)
      wabs[static_cast<std::size_t>((static_cast<int64_t>(k) / inner_w) % c.channels)] += std::abs(qw.q[k]);
    for (int64_t o = 0; o < c.channels; ++o) {
      const auto uo = static_cast<std::size_t>(o);
      c.wscale[uo] = qw.scale_of(o);
      const double acc_scale = static_cast<double>(c.in.scale) * c.wscale[uo];
      c.acc_scale[uo] = static_cast<float>(acc_scale);
      const double b = static_cast<double>(lw.bias[uo]) - (bc.empty() ? 0.0 : bc[uo]);
      const double bq = std::clamp(b / acc_scale, -2147483648.0, 2147483647.0);
      c.bias[uo] = static_cast<int32_t>(intarith::round_half_even(bq));
      c.mult[uo] = c.float_output ? intarith::Multiplier{} : intarith::quantize_multiplier(acc_scale / c.out.scale);
      c.acc_bound = std::max(c.acc_bound, wabs[uo] * xmax + std::abs(static_cast<int64_t>(c.bias[uo])));
    }
    c.fake_exact = c.acc_bound < (int64_t{1} << 24);

    // The fake-quant graph: integer-valued float weights and bias, no fused activation.
    Node& qn = qg_.node(id);
    Tensor wf(DType::kFloat32, lw.w.shape());
    auto wd = wf.data<float>();
    for (std::size_t k = 0; k < wd.size(); ++k) wd[k] = static_cast<float>(c.qweight[k]);
    Value wv{unique_name(g, taken, lname + "::wq"), DType::kFloat32, wf.shape(), true, std::move(wf)};
    qn.inputs[1] = qg_.add_value(std::move(wv));
    if (n.op == OpKind::kConv || n.op == OpKind::kGemm) {  // the integer bias as the third input
      std::vector<float> bf(c.bias.begin(), c.bias.end());
      Value bv{unique_name(g, taken, lname + "::bq"), DType::kFloat32, Shape{c.channels}, true,
               Tensor::from<float>(Shape{c.channels}, bf)};
      const ValueId b = qg_.add_value(std::move(bv));
      if (qn.inputs.size() > 2) {
        qn.inputs[2] = b;
      } else {
        qn.inputs.push_back(b);
      }
    }
    if (n.op == OpKind::kConv) {
      std::get<ConvAttrs>(qn.attrs).has_bias = true;
    } else if (n.op == OpKind::kGemm) {
      auto& a = std::get<GemmAttrs>(qn.attrs);
      a.alpha = 1.0f;
      a.beta = 1.0f;
      a.has_c = true;
    }
    qn.act = Activation{};
    cq.emplace(id, std::move(c));
  }
  for (const auto& [v, bits] : plan.required) (void)params_for(v, bits);

  qg_.finalize();

  // Per node of the finalized graph: role and integer parameters.
  const std::size_t nn = qg_.nodes().size(), nv = qg_.values().size();
  role_.resize(nn);
  index_.assign(nn, 0);
  params_.assign(nv, std::nullopt);
  for (std::size_t v = 0; v < nv; ++v) {
    const auto it = by_name.find(qg_.value(static_cast<ValueId>(v)).name);
    if (it != by_name.end() && qg_.value(static_cast<ValueId>(v)).dtype == DType::kFloat32 &&
        !qg_.value(static_cast<ValueId>(v)).is_constant)
      params_[v] = it->second;
  }
  std::size_t next_dequant = 0;
  std::vector<ConvertQ> dq_steps = std::move(convert_);
  convert_.clear();
  for (std::size_t i = 0; i < nn; ++i) {
    const auto id = static_cast<NodeId>(i);
    const Node& n = qg_.node(id);
    const auto cr = carrier_role.find(n.name);
    const QRole r = i < g.nodes().size() ? plan.role[i] : cr->second;
    role_[i] = r;
    const auto P = [&](ValueId v) -> const QParams& {
      if (!params_[static_cast<std::size_t>(v)]) throw std::logic_error("quantized tensor without parameters: " + qg_.value(v).name);
      return *params_[static_cast<std::size_t>(v)];
    };
    switch (r) {
      case QRole::kCompute:
        index_[i] = compute_.size();
        compute_.push_back(std::move(cq.at(id)));
        break;
      case QRole::kAdd: {
        AddQ a;
        int max_bits = 0;
        float max_scale = 0;
        for (ValueId v : n.inputs) {
          max_bits = std::max(max_bits, P(v).bits);
          max_scale = std::max(max_scale, P(v).scale);
        }
        int log2n = 0;
        while ((std::size_t{1} << log2n) < n.inputs.size()) ++log2n;
        a.left_shift = intarith::add_left_shift(max_bits) - (log2n - 1);
        const double twice_max = 2.0 * max_scale;
        for (ValueId v : n.inputs)
          a.in.push_back({P(v).zero_point, intarith::quantize_multiplier(P(v).scale / twice_max)});
        if (params_[static_cast<std::size_t>(n.outputs[0])]) {
          const QParams& out = P(n.outputs[0]);
          a.out_m = intarith::quantize_multiplier(twice_max / (std::ldexp(1.0, a.left_shift) * out.scale));
          a.out_zp = out.zero_point;
          a.range = act_range(n.act, out);
        } else {  // a graph output: the sum dequantized
          a.float_output = true;
          a.out_real = static_cast<float>(twice_max / std::ldexp(1.0, a.left_shift));
          a.act = n.act;
        }
        index_[i] = add_.size();
        add_.push_back(std::move(a));
        break;
      }
      case QRole::kConcat: {
        ConcatQ c;
        const QParams& out = P(n.outputs[0]);
        const auto axis = static_cast<std::size_t>(std::get<AxisAttrs>(n.attrs).axis);
        const Shape& ys = qg_.value(n.outputs[0]).shape;
        for (std::size_t d = 0; d < axis; ++d) c.outer *= ys[d];
        for (ValueId v : n.inputs) {
          c.in.push_back(make_rescale(P(v), out, out.range()));
          const Shape& xs = qg_.value(v).shape;
          int64_t blk = 1;
          for (std::size_t d = axis; d < xs.size(); ++d) blk *= xs[d];
          c.block.push_back(blk);
        }
        index_[i] = concat_.size();
        concat_.push_back(std::move(c));
        break;
      }
      case QRole::kAvgPool: {
        PoolQ p;
        const QParams& in = P(n.inputs[0]);
        p.float_output = !params_[static_cast<std::size_t>(n.outputs[0])];
        const QParams out = p.float_output ? in : P(n.outputs[0]);
        const Shape& xs = qg_.value(n.inputs[0]).shape;
        const Shape& ys = qg_.value(n.outputs[0]).shape;
        if (n.op == OpKind::kGlobalAveragePool) {
          const std::vector<int64_t> k(xs.begin() + 2, xs.end());
          p.geom = kernels::make_spatial3(xs, ys, k, {}, {}, {});
        } else {
          const auto& a = std::get<PoolAttrs>(n.attrs);
          p.geom = kernels::make_spatial3(xs, ys, a.kernel, a.strides, a.dilations, a.pads);
          p.include_pad = a.count_include_pad;
        }
        p.in_zp = in.zero_point;
        p.out_zp = out.zero_point;
        p.range = out.range();
        const int64_t kvol = p.geom.kernel_volume();
        p.by_count.resize(static_cast<std::size_t>(kvol) + 1);
        p.real_by_count.resize(static_cast<std::size_t>(kvol) + 1);
        for (int64_t k = 1; k <= kvol; ++k) {
          p.by_count[static_cast<std::size_t>(k)] =
              intarith::quantize_multiplier(static_cast<double>(in.scale) / (static_cast<double>(k) * out.scale));
          p.real_by_count[static_cast<std::size_t>(k)] = static_cast<float>(static_cast<double>(in.scale) / static_cast<double>(k));
        }
        index_[i] = pool_.size();
        pool_.push_back(std::move(p));
        break;
      }
      case QRole::kClamp: {
        ClampQ c;
        const QParams& q = P(n.inputs[0]);
        c.zp = q.zero_point;
        c.range = act_range(std::get<ActAttrs>(n.attrs).act, q);
        index_[i] = clamp_.size();
        clamp_.push_back(c);
        break;
      }
      case QRole::kRequant: {
        const QParams& to = P(n.outputs[0]);
        index_[i] = rescale_.size();
        rescale_.push_back(make_rescale(P(n.inputs[0]), to, to.range()));
        break;
      }
      case QRole::kDequant:
        index_[i] = convert_.size();
        convert_.push_back(dq_steps.at(next_dequant++));
        break;
      case QRole::kQuant:
        index_[i] = convert_.size();
        convert_.push_back({P(n.outputs[0])});
        break;
      default: break;
    }
  }
}

}  // namespace qsim
