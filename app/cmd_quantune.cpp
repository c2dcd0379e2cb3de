// qsim sensitivity and qsim allocate: QuantuneV2's local-metric sensitivity and its
// fusion-aware mixed-precision allocation (search/, docs/quantune.md).
#include <algorithm>
#include <cmath>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/quant_cli.h"
#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/model_import.h"
#include "search/quantune.h"
#include "search/sensitivity.h"

namespace qsim::app {

namespace {

std::string fmt_db(double x) { return std::isfinite(x) ? fmt::format("{:.2f}", x) : (x > 0 ? "inf" : "-inf"); }

SensitivityOptions sensitivity_options(const SensitivityCliOptions& o) {
  SensitivityOptions so;
  so.quant = quant_options(o.quant, o.threads);  // --calib, --calib-samples, ... checked as qsim quantize does
  if (o.bits.empty()) fail("--bits: give at least one width");
  for (int b : o.bits)
    if (b < kMinQuantBits || b > kMaxQuantBits) fail("--bits {}: widths must be in {}..{}", b, kMinQuantBits, kMaxQuantBits);
  if (o.abits != 0 && (o.abits < kMinQuantBits || o.abits > kMaxQuantBits))
    fail("--abits {}: must be in {}..{}", o.abits, kMinQuantBits, kMaxQuantBits);
  so.bits = o.bits;
  so.abits = o.abits;
  so.per_channel = !o.per_tensor;
  if (!o.weights.empty()) so.weights = ScoreWeights::parse(o.weights, "--weights");
  return so;
}

SensitivityResult measure(const LayerGraph& g, const SensitivityCliOptions& o, const SensitivityOptions& so) {
  if (o.data.empty()) fail("--data: give the calibration data (fashion-mnist[:DIR] or npy:FILE)");
  const auto data = open_quant_data(o.data, "", Split::kTrain, 0, false, "--data");
  return measure_sensitivity(g, *data, so);
}

}  // namespace

int run_sensitivity(const SensitivityCliOptions& o) {
  std::string text;  // printed once the files are written: nothing on stdout when they cannot be
  CommandFiles declared;
  declared.input("--model", o.model);
  data_inputs(declared, "--data", o.data);
  OutputFiles files = declared.output("--csv", o.csv).output("--json", o.json).check();
  const SensitivityOptions so = sensitivity_options(o);
  const LayerGraph g = import_model(o.model);
  const SensitivityResult r = measure(g, o, so);

  text += fmt::format("{}: {} layers x widths {} (activations at {}), {} samples of {} in {} batches of {}\n",
                           g.name, r.layers.size(), fmt::join(r.bits, ","),
                           r.abits ? std::to_string(r.abits) + " bits" : "the candidate width", r.samples,
                           r.calibration.value("data", std::string("the data")), r.batches, r.batch);
  text += fmt::format("executor runs: {} float32 + {} quantized; score weights {} (w_sqnr,a_sqnr,w_mse,a_mse,a_delta)\n",
                           r.float_runs, r.quant_runs, r.weights.str());
  std::size_t wname = 5;
  for (const auto& l : r.layers) wname = std::max(wname, l.size());
  text += fmt::format("{:<{}}  {:>4}  {:>9}  {:>9}  {:>9}  {:>10}  {:>10}  {:>6}\n", "layer", wname, "bits",
                           "w_sqnr_dB", "a_sqnr_dB", "a_delta", "w_mse", "a_mse", "score");
  for (std::size_t l = 0; l < r.layers.size(); ++l)
    for (std::size_t w = 0; w < r.bits.size(); ++w) {
      const LayerSensitivity& s = r.at(w, l);
      text += fmt::format("{:<{}}  {:>4}  {:>9}  {:>9}  {:>9}  {:>10.3e}  {:>10.3e}  {:>6.3f}\n", s.layer, wname, s.bits,
                               fmt_db(s.w_sqnr_db()), fmt_db(s.a_sqnr_db()), fmt_db(s.a_sqnr_delta_db()), s.w_mse(),
                               s.a_mse(), s.score);
    }
  if (!o.csv.empty()) files.set(o.csv, r.to_csv());
  if (!o.json.empty()) {
    nlohmann::json j = r.to_json();
    j["source_model"] = o.model;
    files.set(o.json, j.dump(2) + "\n");
  }
  files.commit();
  std::cout << text;
  return 0;
}

int run_allocate(const AllocateCliOptions& o) {
  std::string text;  // printed once the files are written: nothing on stdout when they cannot be
  CommandFiles declared;
  declared.input("--model", o.measure.model).input("--sensitivity", o.sensitivity);
  declared.input("--hw", o.hw.hw).input("--scalesim-cfg", o.hw.scalesim_cfg);
  data_inputs(declared, "--data", o.measure.data);
  OutputFiles files = declared.output("--out", o.out).output("--json", o.json).check();
  AllocateOptions ao;
  ao.high_bits = o.high;
  ao.low_bits = o.low;
  ao.abits = o.measure.abits;
  ao.per_channel = !o.measure.per_tensor;
  ao.keep_first_last = !o.no_keep_first_last;
  ao.prefer_fewer_boundaries = o.prefer_fewer_boundaries;
  if (!(o.tie_tolerance >= 0)) fail("--tie-tolerance {}: must be >= 0", o.tie_tolerance);
  ao.tie_tolerance = o.tie_tolerance;
  if (o.order == "random") {
    ao.random_order = true;
  } else if (o.order != "sensitivity") {
    fail("--order '{}': expected sensitivity or random", o.order);
  }
  ao.seed = o.seed;
  for (int b : {o.high, o.low})
    if (b < kMinQuantBits || b > kMaxQuantBits) fail("--high/--low {}: widths must be in {}..{}", b, kMinQuantBits, kMaxQuantBits);
  if (o.high <= o.low) fail("--high {} must exceed --low {}", o.high, o.low);
  for (const std::string& k : o.keep) {
    const auto eq = k.rfind('=');
    int bits = 0;
    std::size_t used = 0;
    try {
      if (eq != std::string::npos) bits = std::stoi(k.substr(eq + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (eq == std::string::npos || eq == 0 || used == 0 || used != k.size() - eq - 1)
      fail("--keep '{}': expected LAYER=BITS", k);
    ao.keep.emplace_back(k.substr(0, eq), bits);
  }
  const int criteria = (o.high_count >= 0) + (o.high_fraction >= 0) + (o.latency_budget_ms >= 0) + (o.size_budget_kib >= 0);
  if (criteria == 0) fail("give how many layers stay at the high width: --high-count, --high-fraction, --latency-budget-ms or --size-budget-kib");
  if (o.high_count >= 0 && o.high_fraction >= 0) fail("--high-count and --high-fraction exclude each other");
  if (o.high_fraction >= 0 && !(o.high_fraction <= 1.0)) fail("--high-fraction {}: must be in [0, 1]", o.high_fraction);
  if (o.latency_budget_ms >= 0 && o.hw.hw.empty() && o.hw.scalesim_cfg.empty())
    fail("--latency-budget-ms needs the hardware: --hw HW.yaml (or --scalesim-cfg)");
  if (!o.sensitivity.empty() && !o.measure.data.empty())
    fail("--sensitivity {} and --data exclude each other (the sensitivity is read, not measured)", o.sensitivity);
  if (o.sensitivity.empty() && o.measure.data.empty()) fail("give --sensitivity S.json (qsim sensitivity --json) or --data to measure it");

  const LayerGraph g = import_model(o.measure.model);
  std::optional<HwSpec> hw;
  if (!o.hw.hw.empty() || !o.hw.scalesim_cfg.empty()) hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  ao.hw = hw ? &*hw : nullptr;
  if (o.high_count >= 0) ao.high_count = o.high_count;
  if (o.high_fraction >= 0)
    ao.high_count = static_cast<int64_t>(std::llround(o.high_fraction * static_cast<double>(g.compute_layers().size())));
  if (o.latency_budget_ms >= 0) ao.latency_budget_ms = o.latency_budget_ms;
  if (o.size_budget_kib >= 0) ao.size_budget_kib = o.size_budget_kib;

  SensitivityResult s;
  std::string s_source;
  if (!o.sensitivity.empty()) {
    const std::string text_in = read_file(o.sensitivity);  // names a folder, a missing file, a name too long
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text_in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not JSON: {}", o.sensitivity, e.what());
    }
    s = SensitivityResult::from_json(j, o.sensitivity);
    s_source = o.sensitivity;
    if (!o.measure.weights.empty()) score_sensitivity(s, ScoreWeights::parse(o.measure.weights, "--weights"));
  } else {
    SensitivityCliOptions m = o.measure;
    m.bits = {o.low};  // only the low width is needed: 1 float32 + 1 quantized run per batch
    s = measure(g, m, sensitivity_options(m));
    s_source = fmt::format("measured on {} samples", s.samples);
  }
  if (hw && ao.latency_budget_ms) {
    // Every width the allocation can produce must run on the PE.
    for (int b : {o.high, o.low}) {
      const int ab = ao.abits ? ao.abits : b;
      if (effective_width(hw->pe, b) == 0 || effective_width(hw->pe, ab) == 0)
        fail("{}: the PE cannot run {}x{} bits (pe.widths)", hw->source, b, ab);
    }
  }
  const AllocateResult r = allocate_precision(g, s, ao);

  const std::string method = ao.random_order ? fmt::format("random order (seed {})", ao.seed) : "QuantuneV2 (sensitivity order)";
  text += fmt::format("{}: {} compute layers in {} fused groups; {}; high w{}/a{}, low w{}/a{}; sensitivity {}\n",
                           g.name, g.compute_layers().size(), r.groups.size(), method, o.high, ao.abits ? ao.abits : o.high,
                           o.low, ao.abits ? ao.abits : o.low, s_source);
  std::size_t wname = 5;
  for (const auto& gr : r.groups) wname = std::max(wname, fmt::format("{}", fmt::join(gr.names, " + ")).size());
  text += fmt::format("{:<{}}  {:>6}  {:>5}  {}\n", "group", wname, "score", "wbits", "why");
  for (std::size_t gi = 0; gi < r.groups.size(); ++gi) {
    const auto& gr = r.groups[gi];
    const auto it = std::find(r.raised.begin(), r.raised.end(), gi);
    const std::string why = r.forced[gi] ? "kept" : it != r.raised.end() ? fmt::format("raised #{}", it - r.raised.begin() + 1) : "low";
    text += fmt::format("{:<{}}  {:>6.3f}  {:>5}  {}{}\n", fmt::format("{}", fmt::join(gr.names, " + ")), wname, gr.score,
                             r.group_bits[gi], why, gr.fused.empty() ? "" : fmt::format("  (fused: {})", fmt::join(gr.fused, ", ")));
  }
  text += fmt::format("high layers: {} of {}; requant boundaries: {}; total score: {:.4f}; weights: {:.2f} KiB{}\n",
                           r.high_layers, g.compute_layers().size(), r.boundaries, r.total_score, r.weight_kib,
                           r.latency_ms ? fmt::format("; latency {:.6f} ms on {}", *r.latency_ms, hw->name) : "");

  nlohmann::json groups = nlohmann::json::array();
  for (std::size_t gi = 0; gi < r.groups.size(); ++gi) {
    const auto& gr = r.groups[gi];
    const auto it = std::find(r.raised.begin(), r.raised.end(), gi);
    groups.push_back({{"layers", gr.names},
                      {"fused", gr.fused},
                      {"score", gr.score},
                      {"wbits", r.group_bits[gi]},
                      {"forced", r.forced[gi] != 0},
                      {"raised", it != r.raised.end() ? nlohmann::json(it - r.raised.begin() + 1) : nlohmann::json(nullptr)}});
  }
  nlohmann::json summary = {{"method", ao.random_order ? "random" : "quantunev2"},
                            {"high", {{"wbits", o.high}, {"abits", ao.abits ? ao.abits : o.high}}},
                            {"low", {{"wbits", o.low}, {"abits", ao.abits ? ao.abits : o.low}}},
                            {"high_layers", r.high_layers},
                            {"compute_layers", g.compute_layers().size()},
                            {"boundaries", r.boundaries},
                            {"total_score", r.total_score},
                            {"weight_kib", r.weight_kib},
                            {"score_weights", s.weights.str()},
                            {"sensitivity", s_source}};
  if (ao.random_order) summary["seed"] = ao.seed;
  if (ao.high_count) summary["high_count"] = *ao.high_count;
  if (ao.latency_budget_ms) summary["latency_budget_ms"] = *ao.latency_budget_ms;
  if (ao.size_budget_kib) summary["size_budget_kib"] = *ao.size_budget_kib;
  if (r.latency_ms) {
    summary["latency_ms"] = *r.latency_ms;
    summary["hw"] = hw->name;
  }
  if (!o.out.empty()) {
    PrecisionAlloc a = r.alloc;
    a.section("allocation") = summary;
    files.set(o.out, a.to_json().dump(2) + "\n");
  }
  if (!o.json.empty()) {
    nlohmann::json j = summary;
    j["model"] = o.measure.model;
    j["groups"] = groups;
    j["raised_order"] = nlohmann::json::array();
    for (std::size_t gi : r.raised) j["raised_order"].push_back(r.groups[gi].names);
    files.set(o.json, j.dump(2) + "\n");
  }
  files.commit();
  std::cout << text;
  if (!o.out.empty()) std::cout << fmt::format("wrote {}\n", o.out);
  return 0;
}

}  // namespace qsim::app
