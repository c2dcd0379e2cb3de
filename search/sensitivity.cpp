#include "search/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/eval.h"
#include "quant/group_probe.h"
#include "quant/quant_fake.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"
#include "search/quantune.h"

namespace qsim {

namespace {

double db(double signal, double noise) {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  if (signal <= 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

// dB values used for normalisation: infinities (no noise, no signal) clamped.
double finite_db(double x) { return std::clamp(x, -400.0, 400.0); }

double mse_db(double mse) { return mse > 0 ? 10.0 * std::log10(mse) : -std::numeric_limits<double>::infinity(); }

}  // namespace

// ------------------------------------------------------------------ methods

std::optional<SensitivityMethod> parse_sensitivity_method(std::string_view s) {
  if (s == "quantunev2") return SensitivityMethod::kQuantuneV2;
  if (s == "isolated") return SensitivityMethod::kIsolated;
  if (s == "output-kl") return SensitivityMethod::kOutputKl;
  if (s == "measured") return SensitivityMethod::kMeasured;
  return std::nullopt;
}

std::string_view sensitivity_method_name(SensitivityMethod m) {
  switch (m) {
    case SensitivityMethod::kQuantuneV2: return "quantunev2";
    case SensitivityMethod::kIsolated: return "isolated";
    case SensitivityMethod::kOutputKl: return "output-kl";
    case SensitivityMethod::kMeasured: return "measured";
  }
  return "?";
}

bool method_needs_labels(SensitivityMethod m) { return m == SensitivityMethod::kMeasured; }

SensitivityMethod sensitivity_method_or_fail(std::string_view s, std::string_view flag) {
  if (const auto m = parse_sensitivity_method(s)) return *m;
  fail("{} '{}': unknown method (did you mean {}?); methods: measured, output-kl, isolated, quantunev2", flag, s,
       closest_name(s, {"measured", "output-kl", "isolated", "quantunev2"}));
}

SensitivityMethod default_sensitivity_method(bool labelled) {
  return labelled ? SensitivityMethod::kMeasured : SensitivityMethod::kOutputKl;
}

double EstDropModel::operator()(double metric) const {
  if (!(metric > 0)) return 0.0;
  return scale * std::pow(metric, power);
}

EstDropModel est_drop_model(SensitivityMethod m) {
  // Fitted on the four bundled models at w2/a8 and w3/a3 (bench/quantune_validate;
  // docs/quantune.md section 5 gives the leave-one-model-out figures).
  switch (m) {
    case SensitivityMethod::kOutputKl: return {100.0, 1.0};
    case SensitivityMethod::kIsolated: return {20.0, 2.0};
    case SensitivityMethod::kQuantuneV2: return {20.0, 2.0};
    case SensitivityMethod::kMeasured: break;
  }
  return {1.0, 1.0};
}

// ------------------------------------------------------------------ weights

ScoreWeights ScoreWeights::parse(std::string_view text, std::string_view flag) {
  std::vector<double> v;
  std::size_t pos = 0;
  const std::string s(text);
  while (pos <= s.size()) {
    const std::size_t comma = std::min(s.find(',', pos), s.size());
    const std::string item = s.substr(pos, comma - pos);
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(x) || x < 0)
      fail("{} '{}': expected 4 or 5 non-negative numbers a,b,c,d[,e]", flag, text);
    v.push_back(x);
    pos = comma + 1;
  }
  if (v.size() != 4 && v.size() != 5) fail("{} '{}': expected 4 or 5 non-negative numbers a,b,c,d[,e]", flag, text);
  ScoreWeights w;
  w.w_sqnr = v[0];
  w.a_sqnr = v[1];
  w.w_mse = v[2];
  w.a_mse = v[3];
  w.a_delta = v.size() == 5 ? v[4] : 0.0;
  if (w.w_sqnr + w.a_sqnr + w.w_mse + w.a_mse + w.a_delta <= 0) fail("{} '{}': the weights are all zero", flag, text);
  return w;
}

std::string ScoreWeights::str() const { return fmt::format("{:g},{:g},{:g},{:g},{:g}", w_sqnr, a_sqnr, w_mse, a_mse, a_delta); }

// ------------------------------------------------------------------ metrics

double LayerSensitivity::w_sqnr_db() const { return db(w_signal, w_noise); }
double LayerSensitivity::a_sqnr_db() const { return db(a_signal, a_noise); }
double LayerSensitivity::a_in_sqnr_db() const { return db(in_signal, in_noise); }
double LayerSensitivity::a_sqnr_delta_db() const { return finite_db(a_in_sqnr_db()) - finite_db(a_sqnr_db()); }

int SensitivityResult::width_index(int b) const {
  const auto it = std::find(bits.begin(), bits.end(), b);
  return it == bits.end() ? -1 : static_cast<int>(it - bits.begin());
}

void score_sensitivity(SensitivityResult& r, const ScoreWeights& w) {
  r.weights = w;
  const std::size_t nl = r.layers.size();
  const bool combined = r.method == SensitivityMethod::kQuantuneV2 || r.method == SensitivityMethod::kIsolated;
  const double total = w.w_sqnr + w.a_sqnr + w.w_mse + w.a_mse + w.a_delta;
  for (std::size_t wi = 0; wi < r.bits.size(); ++wi) {
    std::vector<double> score(nl, 0.0);
    if (combined) {
      // Each metric oriented so that larger = more sensitive.
      const auto metric = [&](int m, const LayerSensitivity& s) {
        switch (m) {
          case 0: return -finite_db(s.w_sqnr_db());
          case 1: return -finite_db(s.a_sqnr_db());
          case 2: return finite_db(mse_db(s.w_mse()));
          case 3: return finite_db(mse_db(s.a_mse()));
          default: return s.a_sqnr_delta_db();
        }
      };
      const double weight[5] = {w.w_sqnr, w.a_sqnr, w.w_mse, w.a_mse, w.a_delta};
      for (int m = 0; m < 5; ++m) {
        if (weight[m] == 0) continue;
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (std::size_t l = 0; l < nl; ++l) {
          const double x = metric(m, r.rows[wi * nl + l]);
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
        for (std::size_t l = 0; l < nl; ++l) {
          const double x = metric(m, r.rows[wi * nl + l]);
          score[l] += weight[m] * (hi > lo ? (x - lo) / (hi - lo) : 0.0);
        }
      }
      for (double& x : score) x = total > 0 ? x / total : 0.0;
    } else {
      // The raw metric, min-max normalised (its order is the ranking).
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (std::size_t l = 0; l < nl; ++l) {
        lo = std::min(lo, r.rows[wi * nl + l].metric);
        hi = std::max(hi, r.rows[wi * nl + l].metric);
      }
      for (std::size_t l = 0; l < nl; ++l) score[l] = hi > lo ? (r.rows[wi * nl + l].metric - lo) / (hi - lo) : 0.0;
    }
    for (std::size_t l = 0; l < nl; ++l) {
      LayerSensitivity& row = r.rows[wi * nl + l];
      row.score = score[l];
      if (combined) row.metric = score[l];
    }
  }
  if (combined) map_est_drop(r, est_drop_model(r.method));
}

void map_est_drop(SensitivityResult& r, const EstDropModel& m) {
  if (r.method == SensitivityMethod::kMeasured) return;  // measured: the drop itself
  for (LayerSensitivity& row : r.rows) row.est_drop = m(row.metric);
}

// ------------------------------------------------------------------ measurement

namespace {

void check_widths(const SensitivityOptions& o) {
  const std::string_view method = sensitivity_method_name(o.method);
  if (o.bits.empty()) fail("sensitivity: no candidate widths");
  std::set<int> seen;
  for (int b : o.bits) {
    if (b < kMinQuantBits || b > kMaxQuantBits)
      fail("sensitivity: width {} is outside {}..{}, the widths the {} method runs", b, kMinQuantBits, kMaxQuantBits,
           method);
    if (!seen.insert(b).second) fail("sensitivity: width {} is given twice", b);
  }
  if (o.abits != 0 && (o.abits < kMinQuantBits || o.abits > kMaxQuantBits))
    fail("sensitivity: activation width {} is outside {}..{}, the widths the {} method runs", o.abits, kMinQuantBits,
         kMaxQuantBits, method);
}

// Weight metrics of every layer at every width: the weights quantized as the
// allocation would quantize them (symmetric, per channel unless per_tensor).
void weight_metrics(const LayerGraph& g, const std::vector<NodeId>& layers, const std::vector<LayerWeights>& weights,
                    const SensitivityOptions& o, SensitivityResult& r) {
  const std::size_t nl = layers.size();
  for (std::size_t wi = 0; wi < o.bits.size(); ++wi) {
    const int b = o.bits[wi];
    for (std::size_t l = 0; l < nl; ++l) {
      LayerSensitivity& s = r.rows[wi * nl + l];
      const Node& n = g.node(layers[l]);
      s.layer = n.name;
      s.op = std::string(op_name(n.op));
      s.bits = b;
      s.abits = o.abits ? o.abits : b;
      const LayerWeights& lw = weights[l];
      const QuantizedWeights qw =
          quantize_weights(lw.w, lw.axis, b, weight_scales(lw.w, lw.axis, b, o.per_channel, o.quant.weight_clip));
      int64_t inner = 1;
      for (std::size_t a = static_cast<std::size_t>(lw.axis) + 1; a < lw.w.shape().size(); ++a) inner *= lw.w.shape()[a];
      const auto w = lw.w.data<float>();
      s.w_signal = s.w_noise = 0;
      for (std::size_t k = 0; k < w.size(); ++k) {
        const int64_t c = (static_cast<int64_t>(k) / inner) % lw.channels;
        const double x = w[k];
        const double e = x - static_cast<double>(qw.q[k]) * qw.scale_of(c);
        s.w_signal += x * x;
        s.w_noise += e * e;
      }
      s.weight_count = static_cast<int64_t>(w.size());
    }
  }
}

double calibration_passes(const QuantOptions& q) { return needs_histogram(q.calib) ? 2.0 : 1.0; }

SensitivityResult measure_quantunev2(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (g.inputs().size() != 1) fail("model '{}' has {} inputs; sensitivity feeds one", g.name, g.inputs().size());
  const Value& in = g.value(g.inputs()[0]);
  if (in.dtype != DType::kFloat32 || in.shape.empty())
    fail("model '{}': sensitivity needs a float32 input with a batch axis", g.name);
  const int64_t model_batch = in.shape[0];
  const int64_t per_sample = shape_numel(in.shape) / std::max<int64_t>(model_batch, 1);
  if (per_sample != data.sample_numel())
    fail("model '{}' takes {} per sample, the data {} gives {}", g.name, shape_str(in.shape), data.description(),
         shape_str(data.sample_shape()));
  const std::vector<int64_t> idx = calibration_indices(data.size(), o.quant.calib_samples);
  if (idx.empty()) fail("{}: no samples", data.description());

  SensitivityResult r;
  r.model = g.name;
  r.bits = o.bits;
  r.abits = o.abits;
  r.per_channel = o.per_channel;
  r.samples = static_cast<int64_t>(idx.size());

  // The layers: compute layers with constant weights.
  std::vector<NodeId> layers;
  std::vector<LayerWeights> weights;
  for (NodeId id : g.compute_layers()) {
    auto lw = layer_weights(g, id);
    if (!lw) continue;
    layers.push_back(id);
    weights.push_back(std::move(*lw));
    r.layers.push_back(g.node(id).name);
  }
  if (layers.empty()) fail("model '{}' has no compute layer with constant weights", g.name);
  const std::size_t nl = layers.size(), nw = o.bits.size();

  // Calibration: one observation pass for every width (ActivationStats), then the
  // specs; and the weight metrics.
  const ActivationStats stats = ActivationStats::collect(g, data, o.quant);
  std::vector<QuantSpec> specs;
  r.rows.resize(nw * nl);
  for (std::size_t wi = 0; wi < nw; ++wi) {
    const int b = o.bits[wi];
    const int ab = o.abits ? o.abits : b;
    specs.push_back(stats.spec(g, PrecisionAlloc::uniform(g, b, ab, o.per_channel), "sensitivity"));
  }
  weight_metrics(g, layers, weights, o, r);
  r.calibration = specs.front().calibration;

  // The graph both passes run, re-batched when it allows it (value ids unchanged).
  const int64_t want = std::clamp<int64_t>(o.batch, 1, static_cast<int64_t>(idx.size()));
  std::optional<LayerGraph> batched;
  if (want != model_batch) batched = rebatch(g, want);
  const LayerGraph& run_g = batched ? *batched : g;
  const int64_t batch = run_g.value(run_g.inputs()[0]).shape[0];
  r.batch = batch;

  // Tracked tensors: every layer's input and output (a tensor may be both).
  std::vector<ValueId> tracked;
  std::map<ValueId, std::size_t> slot;
  auto track = [&](ValueId v) {
    if (slot.emplace(v, tracked.size()).second) tracked.push_back(v);
    return slot.at(v);
  };
  std::vector<std::size_t> in_slot(nl), out_slot(nl);
  for (std::size_t l = 0; l < nl; ++l) {
    const Node& n = g.node(layers[l]);
    in_slot[l] = track(n.inputs[0]);
    out_slot[l] = track(n.outputs[0]);
  }
  const std::size_t nt = tracked.size();
  std::vector<int64_t> per(nt);  // elements per sample
  for (std::size_t t = 0; t < nt; ++t) {
    const Value& v = run_g.value(tracked[t]);
    if (v.dtype != DType::kFloat32) fail("model '{}': tensor '{}' is {}, not float32", g.name, v.name, dtype_name(v.dtype));
    per[t] = shape_numel(v.shape) / batch;
  }
  const ValueId in_v = run_g.inputs()[0];

  ThreadPool pool(o.quant.threads);
  const ExecOptions eo{.pool = &pool};
  int64_t valid = 0;  // samples of the current batch (the tail batch is padded)
  std::vector<Tensor> input{Tensor(DType::kFloat32, run_g.value(in_v).shape)}, outputs;

  // Float32 pass: each tracked tensor copied for the current batch.
  std::vector<std::vector<float>> ref(nt);
  for (std::size_t t = 0; t < nt; ++t) ref[t].resize(static_cast<std::size_t>(per[t] * batch));
  Executor fex(run_g, eo);
  fex.add_hook(run_g.topo_order().front(), [&r](NodeId, std::span<const TensorRef>) { ++r.float_runs; });
  for (std::size_t t = 0; t < nt; ++t) {
    const NodeId p = run_g.producer(tracked[t]);
    if (p < 0) continue;  // the graph input: copied from the batch
    const Node& pn = run_g.node(p);
    const std::size_t k = static_cast<std::size_t>(std::find(pn.outputs.begin(), pn.outputs.end(), tracked[t]) - pn.outputs.begin());
    fex.add_hook(p, [&ref, &per, &valid, t, k](NodeId, std::span<const TensorRef> outs) {
      const float* y = static_cast<const float*>(outs[k].data);
      std::copy(y, y + per[t] * valid, ref[t].begin());
    });
  }

  // Quantized passes: per width, each tracked tensor's error against the float copy.
  struct Acc {
    double signal = 0, noise = 0;
    int64_t count = 0;
  };
  std::vector<std::vector<Acc>> acc(nw, std::vector<Acc>(nt));
  std::vector<std::unique_ptr<QuantizedModel>> models;
  std::vector<std::unique_ptr<FakeQuantExecutor>> qex;
  std::vector<std::vector<std::size_t>> input_slots(nw);  // tracked tensors that are graph inputs
  auto accumulate = [&](Acc& a, std::size_t t, const float* y, const QParams* q) {
    const float* f = ref[t].data();
    const int64_t n = per[t] * valid;
    const double scale = q ? q->scale : 1.0;  // fake-quant tensors hold q - z
    double s = 0, e = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = f[i];
      const double d = x - scale * static_cast<double>(y[i]);
      s += x * x;
      e += d * d;
    }
    a.signal += s;
    a.noise += e;
    a.count += n;
  };
  for (std::size_t wi = 0; wi < nw; ++wi) {
    models.push_back(std::make_unique<QuantizedModel>(run_g, specs[wi], "sensitivity"));
    const QuantizedModel& qm = *models.back();
    qex.push_back(std::make_unique<FakeQuantExecutor>(qm, eo));
    Executor& ex = qex.back()->executor();
    const LayerGraph& qg = qm.graph();
    ex.add_hook(qg.topo_order().front(), [&r](NodeId, std::span<const TensorRef>) { ++r.quant_runs; });
    for (std::size_t t = 0; t < nt; ++t) {
      const auto qv = qg.find_value(run_g.value(tracked[t]).name);
      if (!qv) throw std::logic_error("sensitivity: tensor missing from the quantized graph: " + run_g.value(tracked[t]).name);
      const NodeId p = qg.producer(*qv);
      if (p < 0) {
        input_slots[wi].push_back(t);
        continue;
      }
      const Node& pn = qg.node(p);
      const std::size_t k = static_cast<std::size_t>(std::find(pn.outputs.begin(), pn.outputs.end(), *qv) - pn.outputs.begin());
      const QParams* q = qm.params(*qv);
      Acc& a = acc[wi][t];
      ex.add_hook(p, [&accumulate, &a, t, k, q](NodeId, std::span<const TensorRef> outs) {
        accumulate(a, t, static_cast<const float*>(outs[k].data), q);
      });
    }
  }

  std::vector<float> qin;
  for (std::size_t first = 0; first < idx.size(); first += static_cast<std::size_t>(batch)) {
    valid = std::min<int64_t>(batch, static_cast<int64_t>(idx.size() - first));
    float* x = input[0].data<float>().data();
    for (int64_t s = 0; s < batch; ++s) {
      if (s < valid) {
        data.load(idx[first + static_cast<std::size_t>(s)], x + s * per_sample);
      } else {
        std::fill(x + s * per_sample, x + (s + 1) * per_sample, 0.0f);
      }
    }
    ++r.batches;
    fex.run(input, outputs);
    if (const auto it = slot.find(in_v); it != slot.end()) std::copy(x, x + per_sample * valid, ref[it->second].begin());
    for (std::size_t wi = 0; wi < nw; ++wi) {
      qex[wi]->run(input, outputs);
      // A graph input is quantized by the executor before the first node: the same
      // rounding here (QParams::quantize is intarith::quantize).
      for (std::size_t t : input_slots[wi]) {
        const auto qv = models[wi]->graph().find_value(run_g.value(tracked[t]).name);
        const QParams* q = models[wi]->params(*qv);
        const int64_t n = per[t] * valid;
        qin.resize(static_cast<std::size_t>(n));
        for (int64_t i = 0; i < n; ++i)
          qin[static_cast<std::size_t>(i)] = q ? static_cast<float>(q->quantize(x[i]) - q->zero_point) : x[i];
        accumulate(acc[wi][t], t, qin.data(), q);
      }
    }
  }

  for (std::size_t wi = 0; wi < nw; ++wi)
    for (std::size_t l = 0; l < nl; ++l) {
      LayerSensitivity& s = r.rows[wi * nl + l];
      const Acc& a = acc[wi][out_slot[l]];
      const Acc& i = acc[wi][in_slot[l]];
      s.a_signal = a.signal;
      s.a_noise = a.noise;
      s.act_count = a.count;
      s.in_signal = i.signal;
      s.in_noise = i.noise;
      s.in_count = i.count;
    }
  score_sensitivity(r, o.weights);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cost.calibration_runs = stats.float_runs();
  r.cost.runs = r.cost.calibration_runs + r.float_runs + r.quant_runs;
  r.cost.pass_equivalents = calibration_passes(o.quant) +
                            static_cast<double>(r.float_runs + r.quant_runs) / static_cast<double>(std::max<int64_t>(r.batches, 1));
  r.cost.seconds = r.seconds;
  return r;
}

// isolated, output-kl, measured: every fused group quantized alone (quant/group_probe.h).
SensitivityResult measure_per_group(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int64_t> idx = calibration_indices(data.size(), o.quant.calib_samples);
  if (idx.empty()) fail("{}: no samples", data.description());
  if (method_needs_labels(o.method) && data.label(idx.front()) < 0)
    fail("--method {} needs labelled data, and {} has no labels; the label-free methods are output-kl, isolated and "
         "quantunev2",
         sensitivity_method_name(o.method), data.description());
  SensitivityResult r;
  r.method = o.method;
  r.model = g.name;
  r.bits = o.bits;
  r.abits = o.abits;
  r.per_channel = o.per_channel;
  r.samples = static_cast<int64_t>(idx.size());

  const auto compute = g.compute_layers();
  std::vector<NodeId> layers;
  std::vector<LayerWeights> weights;
  std::vector<int> layer_index(compute.size(), -1);
  for (std::size_t i = 0; i < compute.size(); ++i) {
    auto lw = layer_weights(g, compute[i]);
    if (!lw) continue;
    layer_index[i] = static_cast<int>(layers.size());
    layers.push_back(compute[i]);
    weights.push_back(std::move(*lw));
    r.layers.push_back(g.node(compute[i]).name);
  }
  if (layers.empty()) fail("model '{}' has no compute layer with constant weights", g.name);
  const std::size_t nl = layers.size(), nw = o.bits.size();
  r.rows.resize(nw * nl);
  weight_metrics(g, layers, weights, o, r);

  const ActivationStats stats = ActivationStats::collect(g, data, o.quant);
  // The groups with weights, and one probe per group and width.
  std::vector<GroupProbe> probes;
  for (const FusedGroup& fg : fused_groups(g, o.fuse_elementwise)) {
    std::vector<NodeId> nodes;
    bool scored = false;
    for (std::size_t l : fg.layers) {
      nodes.push_back(compute[l]);
      if (layer_index[l] >= 0) {
        scored = true;
        for (std::size_t wi = 0; wi < nw; ++wi)
          r.rows[wi * nl + static_cast<std::size_t>(layer_index[l])].group = static_cast<int>(r.groups.size());
      }
    }
    if (!scored) continue;
    for (const std::string& f : fg.fused) nodes.push_back(*g.find_node(f));
    r.groups.push_back({fg.names, fg.fused});
    for (int b : o.bits) probes.push_back({nodes, b, o.abits ? o.abits : b, o.per_channel});
  }
  GroupProber prober(g, data, idx, stats,
                     AllocEvalOptions{.threads = o.quant.threads, .batch = o.batch, .cache_bytes = o.cache_bytes});
  const std::vector<ProbeResult> res = prober.run(probes, o.method != SensitivityMethod::kIsolated, o.progress);
  const OutputScore& ref = prober.batches().float_score();
  r.float_top1 = ref.top1();
  r.batch = prober.batches().batch();
  r.batches = prober.batches().batches();
  for (std::size_t wi = 0; wi < nw; ++wi)
    for (std::size_t l = 0; l < nl; ++l) {
      LayerSensitivity& s = r.rows[wi * nl + l];
      const ProbeResult& p = res[static_cast<std::size_t>(s.group) * nw + wi];
      s.a_signal = p.out_signal;
      s.a_noise = p.out_noise;
      s.act_count = p.out_count;
      s.in_signal = p.in_signal;
      s.in_noise = p.in_noise;
      s.in_count = p.in_count;
      if (o.method == SensitivityMethod::kIsolated) continue;
      s.kl = p.output.mean_kl();
      s.flip_rate = p.output.flip_rate();
      s.output_sqnr_db = p.output.sqnr_db();
      if (ref.labelled) {
        s.ce_increase = p.output.mean_ce() - ref.mean_ce();
        s.top1_drop = 100.0 * (ref.top1() - p.output.top1());
      }
      if (o.method == SensitivityMethod::kOutputKl) {
        s.metric = s.kl;
      } else {
        s.metric = s.ce_increase;  // the ranking: smooth where the top-1 drop is a count
        s.est_drop = s.top1_drop;
      }
    }
  score_sensitivity(r, o.weights);
  if (o.method == SensitivityMethod::kOutputKl) map_est_drop(r, est_drop_model(o.method));
  const EvalCost c = prober.cost();
  r.calibration = stats.spec(g, PrecisionAlloc::uniform(g, o.bits.front(), o.abits ? o.abits : o.bits.front(), o.per_channel),
                             "sensitivity")
                      .calibration;
  r.float_runs = prober.batches().batches();
  r.quant_runs = c.runs - r.float_runs;
  r.cost.calibration_runs = stats.float_runs();
  r.cost.runs = stats.float_runs() + c.runs;
  r.cost.pass_equivalents = calibration_passes(o.quant) + c.pass_equivalents;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cost.seconds = r.seconds;
  return r;
}

}  // namespace

SensitivityResult measure_sensitivity(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o) {
  check_widths(o);
  SensitivityResult r = o.method == SensitivityMethod::kQuantuneV2 ? measure_quantunev2(g, data, o)
                                                                    : measure_per_group(g, data, o);
  if (o.est_drop) map_est_drop(r, *o.est_drop);
  return r;
}

// ------------------------------------------------------------------ JSON / CSV

namespace {

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

// A number, or NaN when absent or null.
double opt_num(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

}  // namespace

nlohmann::json SensitivityResult::to_json() const {
  nlohmann::json j;
  j["format"] = "qsim-sensitivity";
  j["version"] = 1;
  j["method"] = std::string(sensitivity_method_name(method));
  j["model"] = model;
  j["bits"] = bits;
  j["abits"] = abits;
  j["per_channel"] = per_channel;
  j["samples"] = samples;
  j["batch"] = batch;
  j["batches"] = batches;
  j["float_runs"] = float_runs;
  j["quant_runs"] = quant_runs;
  j["seconds"] = seconds;
  j["cost"] = {{"calibration_runs", cost.calibration_runs},
               {"runs", cost.runs},
               {"pass_equivalents", cost.pass_equivalents},
               {"seconds", cost.seconds}};
  j["float_top1"] = num(float_top1);
  j["calibration"] = calibration;
  j["weights"] = {{"w_sqnr", weights.w_sqnr}, {"a_sqnr", weights.a_sqnr}, {"w_mse", weights.w_mse},
                  {"a_mse", weights.a_mse}, {"a_delta", weights.a_delta}};
  j["layers"] = layers;
  nlohmann::json rs = nlohmann::json::array();
  for (const LayerSensitivity& s : rows) {
    rs.push_back({{"layer", s.layer},
                  {"op", s.op},
                  {"bits", s.bits},
                  {"abits", s.abits},
                  {"w_sqnr_db", num(s.w_sqnr_db())},
                  {"a_sqnr_db", num(s.a_sqnr_db())},
                  {"a_in_sqnr_db", num(s.a_in_sqnr_db())},
                  {"a_sqnr_delta_db", num(s.a_sqnr_delta_db())},
                  {"w_mse", s.w_mse()},
                  {"a_mse", s.a_mse()},
                  {"score", s.score},
                  {"metric", num(s.metric)},
                  {"est_drop", num(s.est_drop)},
                  {"kl", num(s.kl)},
                  {"flip_rate", num(s.flip_rate)},
                  {"output_sqnr_db", num(s.output_sqnr_db)},
                  {"ce_increase", num(s.ce_increase)},
                  {"top1_drop", num(s.top1_drop)},
                  {"group", s.group},
                  {"weight_count", s.weight_count},
                  {"act_count", s.act_count},
                  {"in_count", s.in_count},
                  {"w_signal", s.w_signal},
                  {"w_noise", s.w_noise},
                  {"a_signal", s.a_signal},
                  {"a_noise", s.a_noise},
                  {"in_signal", s.in_signal},
                  {"in_noise", s.in_noise}});
  }
  j["rows"] = std::move(rs);
  // Per group and width: what the allocation and the search read (est_drop).
  nlohmann::json gs = nlohmann::json::array();
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    nlohmann::json widths = nlohmann::json::array();
    for (std::size_t wi = 0; wi < bits.size(); ++wi)
      for (std::size_t l = 0; l < layers.size(); ++l) {
        const LayerSensitivity& s = at(wi, l);
        if (s.group != static_cast<int>(gi)) continue;
        widths.push_back({{"bits", s.bits},
                          {"abits", s.abits},
                          {"est_drop", num(s.est_drop)},
                          {"metric", num(s.metric)},
                          {"kl", num(s.kl)},
                          {"flip_rate", num(s.flip_rate)},
                          {"output_sqnr_db", num(s.output_sqnr_db)},
                          {"ce_increase", num(s.ce_increase)},
                          {"top1_drop", num(s.top1_drop)}});
        break;
      }
    gs.push_back({{"layers", groups[gi].layers}, {"fused", groups[gi].fused}, {"widths", std::move(widths)}});
  }
  j["groups"] = std::move(gs);
  return j;
}

SensitivityResult SensitivityResult::from_json(const nlohmann::json& j, std::string_view source) {
  SensitivityResult r;
  try {
    if (!j.is_object() || j.value("format", std::string()) != "qsim-sensitivity")
      fail("{}: not a sensitivity file (\"format\": \"qsim-sensitivity\" expected; write it with qsim sensitivity --json)",
           source);
    r.model = j.value("model", std::string());
    r.source = std::string(source);
    const std::string method = j.value("method", std::string("quantunev2"));
    const auto m = parse_sensitivity_method(method);
    if (!m) fail("{}: unknown \"method\" '{}'", source, method);
    r.method = *m;
    r.bits = j.at("bits").get<std::vector<int>>();
    r.abits = j.value("abits", 0);
    r.per_channel = j.value("per_channel", true);
    r.samples = j.value("samples", int64_t{0});
    r.batch = j.value("batch", int64_t{1});
    r.batches = j.value("batches", int64_t{0});
    r.float_runs = j.value("float_runs", int64_t{0});
    r.quant_runs = j.value("quant_runs", int64_t{0});
    r.seconds = j.value("seconds", 0.0);
    if (j.contains("calibration")) r.calibration = j.at("calibration");
    if (const auto c = j.find("cost"); c != j.end() && c->is_object()) {
      r.cost.calibration_runs = c->value("calibration_runs", int64_t{0});
      r.cost.runs = c->value("runs", int64_t{0});
      r.cost.pass_equivalents = c->value("pass_equivalents", 0.0);
      r.cost.seconds = c->value("seconds", 0.0);
    }
    r.float_top1 = opt_num(j, "float_top1");
    if (const auto gs = j.find("groups"); gs != j.end() && gs->is_array())
      for (const auto& x : *gs)
        r.groups.push_back({x.at("layers").get<std::vector<std::string>>(), x.value("fused", std::vector<std::string>{})});
    r.layers = j.at("layers").get<std::vector<std::string>>();
    const auto& w = j.at("weights");
    r.weights = {w.at("w_sqnr").get<double>(), w.at("a_sqnr").get<double>(), w.at("w_mse").get<double>(),
                 w.at("a_mse").get<double>(), w.at("a_delta").get<double>()};
    const auto& rows = j.at("rows");
    if (!rows.is_array() || rows.size() != r.bits.size() * r.layers.size())
      fail("{}: \"rows\" must hold one entry per layer and width ({} x {})", source, r.layers.size(), r.bits.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& x = rows[i];
      LayerSensitivity s;
      s.layer = x.at("layer").get<std::string>();
      s.op = x.value("op", std::string());
      s.bits = x.at("bits").get<int>();
      s.abits = x.at("abits").get<int>();
      if (s.layer != r.layers[i % r.layers.size()] || s.bits != r.bits[i / r.layers.size()])
        fail("{}: row {} is layer '{}' at {} bits; expected '{}' at {}", source, i, s.layer, s.bits,
             r.layers[i % r.layers.size()], r.bits[i / r.layers.size()]);
      s.weight_count = x.at("weight_count").get<int64_t>();
      s.act_count = x.at("act_count").get<int64_t>();
      s.in_count = x.at("in_count").get<int64_t>();
      s.w_signal = x.at("w_signal").get<double>();
      s.w_noise = x.at("w_noise").get<double>();
      s.a_signal = x.at("a_signal").get<double>();
      s.a_noise = x.at("a_noise").get<double>();
      s.in_signal = x.at("in_signal").get<double>();
      s.in_noise = x.at("in_noise").get<double>();
      s.score = x.at("score").get<double>();
      s.metric = x.contains("metric") ? opt_num(x, "metric") : s.score;
      s.est_drop = opt_num(x, "est_drop");
      s.kl = opt_num(x, "kl");
      s.flip_rate = opt_num(x, "flip_rate");
      s.output_sqnr_db = opt_num(x, "output_sqnr_db");
      s.ce_increase = opt_num(x, "ce_increase");
      s.top1_drop = opt_num(x, "top1_drop");
      s.group = x.value("group", -1);
      if (s.group >= static_cast<int>(r.groups.size())) fail("{}: row {} names group {}, which is not listed", source, i, s.group);
      r.rows.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed sensitivity file: {}", source, e.what());
  }
  return r;
}

std::string SensitivityResult::to_csv() const {
  std::string out =
      "layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,abits,op,a_in_sqnr_db,a_sqnr_delta_db,w_mse_db,a_mse_db,"
      "w_sqnr,a_sqnr,method,est_drop,metric,kl,flip_rate,output_sqnr_db,ce_increase,top1_drop\n";
  const auto f = [](double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : std::string(x > 0 ? "inf" : "-inf"); };
  const auto ratio = [](double s, double n) { return n > 0 ? s / n : std::numeric_limits<double>::infinity(); };
  const auto g = [&f](double x) { return std::isnan(x) ? std::string() : f(x); };  // empty: not measured
  for (const LayerSensitivity& s : rows)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", s.layer, s.bits,
                       f(s.w_sqnr_db()), f(s.a_sqnr_db()), f(s.w_mse()), f(s.a_mse()), f(s.score), s.abits, s.op,
                       f(s.a_in_sqnr_db()), f(s.a_sqnr_delta_db()), f(mse_db(s.w_mse())), f(mse_db(s.a_mse())),
                       f(ratio(s.w_signal, s.w_noise)), f(ratio(s.a_signal, s.a_noise)), sensitivity_method_name(method),
                       g(s.est_drop), g(s.metric), g(s.kl), g(s.flip_rate), g(s.output_sqnr_db), g(s.ce_increase),
                       g(s.top1_drop));
  return out;
}

// ------------------------------------------------------------------ Spearman

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n != y.size() || n < 2) return std::numeric_limits<double>::quiet_NaN();
  const auto ranks = [n](const std::vector<double>& v) {
    std::vector<std::size_t> o(n);
    std::iota(o.begin(), o.end(), std::size_t{0});
    std::sort(o.begin(), o.end(), [&v](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      while (j + 1 < n && v[o[j + 1]] == v[o[i]]) ++j;
      const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
      for (std::size_t k = i; k <= j; ++k) r[o[k]] = avg;
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / static_cast<double>(n);
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace qsim
