#include "quant/quant_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "graph/error.h"
#include "runtime/gemm.h"

namespace qsim {

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
  // the first reader as the timing model's requantization row; every reader at that
  // width reads it.
  const auto compute_layers = g.compute_layers();
  for (std::size_t r = 0; r < plan.requants.size(); ++r) {
    const Requantization& c = plan.requants[r];
    const QParams q = params_for(c.value, c.to_bits);
    const std::string out = unique_name(g, taken, fmt::format("{}::a{}", g.value(c.value).name, c.to_bits));
    const std::string step = g.node(compute_layers[c.first_layer]).name + ".requant";
    const ValueId nv = add_step(step, c.value, out, &q, QRole::kRequant);
    for (std::size_t i = 0; i < compute_layers.size(); ++i)
      if (plan.input_requant[i] == static_cast<int>(r)) qg_.node(compute_layers[i]).inputs[0] = nv;
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
