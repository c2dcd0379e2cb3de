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
#include "runtime/executor.h"
#include "quant/quant_fake.h"
#include "runtime/thread_pool.h"

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
  const double total = w.w_sqnr + w.a_sqnr + w.w_mse + w.a_mse + w.a_delta;
  for (std::size_t wi = 0; wi < r.bits.size(); ++wi) {
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
    std::vector<double> score(nl, 0.0);
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
    for (std::size_t l = 0; l < nl; ++l) r.rows[wi * nl + l].score = total > 0 ? score[l] / total : 0.0;
  }
}

// ------------------------------------------------------------------ measurement

SensitivityResult measure_sensitivity(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.bits.empty()) fail("sensitivity: no candidate widths");
  {
    std::set<int> seen;
    for (int b : o.bits) {
      if (b < kMinQuantBits || b > kMaxQuantBits) fail("sensitivity: width {} is outside {}..{}", b, kMinQuantBits, kMaxQuantBits);
      if (!seen.insert(b).second) fail("sensitivity: width {} is given twice", b);
    }
    if (o.abits != 0 && (o.abits < kMinQuantBits || o.abits > kMaxQuantBits))
      fail("sensitivity: activation width {} is outside {}..{}", o.abits, kMinQuantBits, kMaxQuantBits);
  }
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

  // Calibration, once per width, and the weight metrics.
  std::vector<QuantSpec> specs;
  r.rows.resize(nw * nl);
  for (std::size_t wi = 0; wi < nw; ++wi) {
    const int b = o.bits[wi];
    const int ab = o.abits ? o.abits : b;
    specs.push_back(calibrate(g, PrecisionAlloc::uniform(g, b, ab, o.per_channel), "sensitivity", data, o.quant));
    const QuantSpec& spec = specs.back();
    for (std::size_t l = 0; l < nl; ++l) {
      LayerSensitivity& s = r.rows[wi * nl + l];
      const Node& n = g.node(layers[l]);
      s.layer = n.name;
      s.op = std::string(op_name(n.op));
      s.bits = b;
      s.abits = ab;
      const LayerWeights& lw = weights[l];
      const QuantizedWeights qw = quantize_weights(lw.w, lw.axis, b, spec.layers.at(n.name).weight_scales);
      int64_t inner = 1;
      for (std::size_t a = static_cast<std::size_t>(lw.axis) + 1; a < lw.w.shape().size(); ++a) inner *= lw.w.shape()[a];
      const auto w = lw.w.data<float>();
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
  return r;
}

// ------------------------------------------------------------------ JSON / CSV

namespace {

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json SensitivityResult::to_json() const {
  nlohmann::json j;
  j["format"] = "qsim-sensitivity";
  j["version"] = 1;
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
      "w_sqnr,a_sqnr\n";
  const auto f = [](double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : std::string(x > 0 ? "inf" : "-inf"); };
  const auto ratio = [](double s, double n) { return n > 0 ? s / n : std::numeric_limits<double>::infinity(); };
  for (const LayerSensitivity& s : rows)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", s.layer, s.bits, f(s.w_sqnr_db()), f(s.a_sqnr_db()),
                       f(s.w_mse()), f(s.a_mse()), f(s.score), s.abits, s.op, f(s.a_in_sqnr_db()), f(s.a_sqnr_delta_db()),
                       f(mse_db(s.w_mse())), f(mse_db(s.a_mse())), f(ratio(s.w_signal, s.w_noise)),
                       f(ratio(s.a_signal, s.a_noise)));
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
