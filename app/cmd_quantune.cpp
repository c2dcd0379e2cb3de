// qsim sensitivity and qsim allocate: per-layer sensitivity (QuantuneV2's local
// metrics and the per-group estimators) and mixed-precision allocation (rank,
// knapsack, greedy-measured) over fused groups (search/, docs/quantune.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/quant_cli.h"
#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/model_import.h"
#include "quant/alloc_eval.h"
#include "search/allocate.h"
#include "search/quantune.h"
#include "search/sensitivity.h"

namespace qsim::app {

namespace {

std::string fmt_db(double x) { return std::isfinite(x) ? fmt::format("{:.2f}", x) : (x > 0 ? "inf" : "-inf"); }
std::string fmt_opt(double x, const char* f) { return std::isnan(x) ? std::string("-") : fmt::format(fmt::runtime(f), x); }

// A progress line on stderr, rewritten in place, when stderr is a terminal and the
// work has run for more than a second. Called from workers (serialised).
class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), tty_(::isatty(2) != 0) {}
  ~Progress() {
    if (shown_) std::cerr << "\n";
  }
  void operator()(int64_t done, int64_t total) {
    std::lock_guard lock(m_);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (!tty_ || s < 1.0) return;
    std::cerr << fmt::format("\r{}: {}/{} groups, {:.1f} s", what_, done, total, s) << std::flush;
    shown_ = true;
  }
  std::function<void(int64_t, int64_t)> callback() {
    return [this](int64_t d, int64_t t) { (*this)(d, t); };
  }

 private:
  std::string what_;
  bool tty_;
  bool shown_ = false;
  std::mutex m_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// The data and whether it has labels.
std::unique_ptr<Dataset> open_data(const SensitivityCliOptions& o) {
  if (o.data.empty()) fail("--data: give the calibration data (fashion-mnist[:DIR] or npy:FILE)");
  return open_quant_data(o.data, o.labels, Split::kTrain, 0, !o.labels.empty(), "--data");
}
bool labelled(const Dataset& d) { return d.size() > 0 && d.label(0) >= 0; }

// --method, or the default: measured when the data has labels, output-kl otherwise
// (docs/quantune.md section 6).
SensitivityMethod resolve_method(const std::string& name, const Dataset* data) {
  const bool has_labels = data && labelled(*data);
  if (name.empty()) return default_sensitivity_method(has_labels);
  const SensitivityMethod m = sensitivity_method_or_fail(name, "--method");
  if (data && method_needs_labels(m) && !has_labels)
    fail("--method {} needs labelled data, and {} has no labels (npy data: --labels FILE); the label-free methods "
         "are output-kl, isolated and quantunev2",
         name, data->description());
  return m;
}

SensitivityOptions sensitivity_options(const SensitivityCliOptions& o, SensitivityMethod method) {
  SensitivityOptions so;
  so.method = method;
  so.quant = quant_options(o.quant, o.threads);  // --calib, --calib-samples, ... checked as qsim quantize does
  if (o.bits.empty()) fail("--bits: give at least one width");
  for (int b : o.bits)
    if (b < kMinQuantBits || b > kMaxQuantBits)
      fail("--bits {}: the {} method runs widths {}..{}", b, sensitivity_method_name(method), kMinQuantBits, kMaxQuantBits);
  if (o.abits != 0 && (o.abits < kMinQuantBits || o.abits > kMaxQuantBits))
    fail("--abits {}: the {} method runs widths {}..{}", o.abits, sensitivity_method_name(method), kMinQuantBits,
         kMaxQuantBits);
  so.bits = o.bits;
  so.abits = o.abits;
  so.per_channel = !o.per_tensor;
  if (!o.weights.empty()) so.weights = ScoreWeights::parse(o.weights, "--weights");
  return so;
}

void print_cost(const std::string& what, const SensitivityResult& r) {
  std::cerr << fmt::format("{}: {} on {} samples: {} executor runs ({} for calibration), {:.1f} whole-model passes, "
                           "{:.2f} s\n",
                           what, sensitivity_method_name(r.method), r.samples, r.cost.runs, r.cost.calibration_runs,
                           r.cost.pass_equivalents, r.cost.seconds);
}

}  // namespace

int run_sensitivity(const SensitivityCliOptions& o) {
  std::string text;  // printed once the files are written: nothing on stdout when they cannot be
  CommandFiles declared;
  declared.input("--model", o.model).input("--labels", o.labels);
  data_inputs(declared, "--data", o.data);
  OutputFiles files = declared.output("--csv", o.csv).output("--json", o.json).check();
  if (!o.method.empty()) (void)sensitivity_method_or_fail(o.method, "--method");  // before any work
  const auto data = open_data(o);
  const SensitivityMethod method = resolve_method(o.method, data.get());
  SensitivityOptions so = sensitivity_options(o, method);
  const LayerGraph g = import_model(o.model);
  Progress progress("qsim sensitivity");
  so.progress = progress.callback();
  const SensitivityResult r = measure_sensitivity(g, *data, so);

  text += fmt::format("{}: {} layers x widths {} (activations at {}), {} samples of {} in {} batches of {}\n",
                           g.name, r.layers.size(), fmt::join(r.bits, ","),
                           r.abits ? std::to_string(r.abits) + " bits" : "the candidate width", r.samples,
                           r.calibration.value("data", std::string("the data")), r.batches, r.batch);
  text += fmt::format("method {}; executor runs: {} float32 + {} quantized; score weights {} (w_sqnr,a_sqnr,w_mse,a_mse,a_delta)\n",
                           sensitivity_method_name(r.method), r.float_runs, r.quant_runs, r.weights.str());
  std::size_t wname = 5;
  for (const auto& l : r.layers) wname = std::max(wname, l.size());
  text += fmt::format("{:<{}}  {:>4}  {:>9}  {:>9}  {:>9}  {:>10}  {:>10}  {:>6}  {:>8}  {:>8}  {:>8}\n", "layer", wname, "bits",
                           "w_sqnr_dB", "a_sqnr_dB", "a_delta", "w_mse", "a_mse", "score", "kl", "top1_drop", "est_drop");
  for (std::size_t l = 0; l < r.layers.size(); ++l)
    for (std::size_t w = 0; w < r.bits.size(); ++w) {
      const LayerSensitivity& s = r.at(w, l);
      text += fmt::format("{:<{}}  {:>4}  {:>9}  {:>9}  {:>9}  {:>10.3e}  {:>10.3e}  {:>6.3f}  {:>8}  {:>8}  {:>8}\n", s.layer,
                               wname, s.bits, fmt_db(s.w_sqnr_db()), fmt_db(s.a_sqnr_db()), fmt_db(s.a_sqnr_delta_db()),
                               s.w_mse(), s.a_mse(), s.score, fmt_opt(s.kl, "{:.4f}"), fmt_opt(s.top1_drop, "{:.2f}"),
                               fmt_opt(s.est_drop, "{:.2f}"));
    }
  if (!o.csv.empty()) files.set(o.csv, r.to_csv());
  if (!o.json.empty()) {
    nlohmann::json j = r.to_json();
    j["source_model"] = o.model;
    files.set(o.json, j.dump(2) + "\n");
  }
  files.commit();
  std::cout << text;
  print_cost("qsim sensitivity", r);
  return 0;
}

int run_allocate(const AllocateCliOptions& o) {
  std::string text;  // printed once the files are written: nothing on stdout when they cannot be
  CommandFiles declared;
  declared.input("--model", o.measure.model).input("--sensitivity", o.sensitivity).input("--labels", o.measure.labels);
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
  if (!o.measure.method.empty()) (void)sensitivity_method_or_fail(o.measure.method, "--method");  // before any work
  std::optional<Allocator> allocator;
  if (!o.allocator.empty()) allocator = allocator_or_fail(o.allocator, "--allocator");
  if (ao.random_order && allocator && *allocator != Allocator::kRank)
    fail("--order random is a baseline of --allocator rank, not of {}", o.allocator);
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
  // Defaults (docs/quantune.md section 6): greedy-measured with --data, knapsack over a
  // sensitivity file; the rank order for the random baseline.
  const Allocator alloc_kind = allocator ? *allocator
                               : ao.random_order       ? Allocator::kRank
                               : o.sensitivity.empty() ? Allocator::kGreedyMeasured
                                                       : Allocator::kKnapsack;
  if (alloc_kind == Allocator::kGreedyMeasured && !o.sensitivity.empty())
    fail("--allocator greedy-measured measures whole allocations: give --data instead of --sensitivity {}", o.sensitivity);
  std::unique_ptr<Dataset> data;
  std::optional<SensitivityMethod> method;
  if (!o.measure.data.empty()) {
    data = open_data(o.measure);
    method = resolve_method(o.measure.method, data.get());
    if (alloc_kind == Allocator::kGreedyMeasured && *method != SensitivityMethod::kMeasured &&
        *method != SensitivityMethod::kOutputKl)
      fail("--allocator greedy-measured measures whole allocations: its loss is the cross-entropy (--method measured) "
           "or the output KL (--method output-kl), not {}",
           sensitivity_method_name(*method));
  } else if (!o.measure.method.empty()) {
    fail("--method {}: the method is the sensitivity file's ({}); --method applies with --data", o.measure.method,
         o.sensitivity);
  }

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
  AllocateResult r;
  bool measured_here = false;
  if (alloc_kind == Allocator::kGreedyMeasured) {
    // Whole allocations on the calibration samples: one calibration, one evaluator.
    const QuantOptions qo = quant_options(o.measure.quant, o.measure.threads);
    if (ao.abits != 0 && (ao.abits < kMinQuantBits || ao.abits > kMaxQuantBits))
      fail("--abits {}: the {} method runs widths {}..{}", ao.abits, sensitivity_method_name(*method), kMinQuantBits,
           kMaxQuantBits);
    const auto t0 = std::chrono::steady_clock::now();
    const ActivationStats stats = ActivationStats::collect(g, *data, qo);
    AllocationEvaluator ev(g, *data, calibration_indices(data->size(), qo.calib_samples), stats,
                           AllocEvalOptions{.threads = o.measure.threads});
    r = allocate_greedy_measured(g, ev, ao, GreedyOptions{.use_labels = *method == SensitivityMethod::kMeasured});
    const EvalCost c = ev.cost();
    s.method = *method;
    s.samples = ev.batches().samples();
    s.cost.calibration_runs = stats.float_runs();
    s.cost.runs = stats.float_runs() + c.runs;
    s.cost.pass_equivalents = (needs_histogram(qo.calib) ? 2.0 : 1.0) + c.pass_equivalents;
    s.cost.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s_source = fmt::format("whole allocations measured on {} samples ({})", s.samples,
                           *method == SensitivityMethod::kMeasured ? "cross-entropy" : "output KL");
    measured_here = true;
  } else if (!o.sensitivity.empty()) {
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
    m.bits = {o.low};  // only the low width is needed
    SensitivityOptions so = sensitivity_options(m, *method);
    Progress progress("qsim allocate");
    so.progress = progress.callback();
    so.fuse_elementwise = hw ? hw->vector.fuse_elementwise : true;
    s = measure_sensitivity(g, *data, so);
    s_source = fmt::format("measured on {} samples", s.samples);
    measured_here = true;
  }
  if (hw && ao.latency_budget_ms) {
    // Every width the allocation can produce must run on the PE.
    for (int b : {o.high, o.low}) {
      const int ab = ao.abits ? ao.abits : b;
      if (effective_width(hw->pe, b) == 0 || effective_width(hw->pe, ab) == 0)
        fail("{}: the PE cannot run {}x{} bits (pe.widths)", hw->source, b, ab);
    }
  }
  if (alloc_kind == Allocator::kRank) r = allocate_precision(g, s, ao);
  if (alloc_kind == Allocator::kKnapsack) r = allocate_knapsack(g, s, ao);

  const std::string how = ao.random_order ? fmt::format("random order (seed {})", ao.seed)
                          : alloc_kind == Allocator::kRank
                              ? fmt::format("rank: {} sensitivity order", sensitivity_method_name(s.method))
                          : alloc_kind == Allocator::kKnapsack
                              ? fmt::format("knapsack over {} est_drop", sensitivity_method_name(s.method))
                          : r.direction_loss.size() > 1
                              ? fmt::format("greedy-measured (up and down, kept {}, {} evaluations)", r.direction, r.evaluations)
                              : fmt::format("greedy-measured ({}, {} evaluations)", r.direction, r.evaluations);
  text += fmt::format("{}: {} compute layers in {} fused groups; {}; high w{}/a{}, low w{}/a{}; sensitivity {}\n",
                           g.name, g.compute_layers().size(), r.groups.size(), how, o.high, ao.abits ? ao.abits : o.high,
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
  text += fmt::format("high layers: {} of {}; requant boundaries: {}; total score: {:.4f}; weights: {:.2f} KiB{}{}\n",
                           r.high_layers, g.compute_layers().size(), r.boundaries, r.total_score, r.weight_kib,
                           r.latency_ms ? fmt::format("; latency {:.6f} ms on {}", *r.latency_ms, hw->name) : "",
                           std::isnan(r.est_drop) ? "" : fmt::format("; estimated top-1 drop {:.2f} points", r.est_drop));

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
  nlohmann::json cost = {{"runs", s.cost.runs},
                         {"calibration_runs", s.cost.calibration_runs},
                         {"pass_equivalents", s.cost.pass_equivalents},
                         {"seconds", s.cost.seconds},
                         {"measured_here", measured_here}};
  if (alloc_kind == Allocator::kGreedyMeasured) cost["evaluations"] = r.evaluations;
  nlohmann::json summary = {{"method", ao.random_order ? std::string("random") : std::string(sensitivity_method_name(s.method))},
                            {"allocator", std::string(allocator_name(alloc_kind))},
                            {"order", ao.random_order ? "random" : "sensitivity"},
                            {"cost", cost},
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
  if (!std::isnan(r.est_drop)) summary["est_drop"] = r.est_drop;
  if (alloc_kind == Allocator::kGreedyMeasured) {
    summary["direction"] = r.direction;
    summary["step_loss"] = r.step_loss;
    // The final loss of each pass run; the allocation is the pass of lowest loss.
    summary["direction_loss"] = nlohmann::json::object();
    for (const auto& [d, l] : r.direction_loss) summary["direction_loss"][d] = l;
  }
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
  if (measured_here)
    std::cerr << fmt::format("qsim allocate: {} with {} on {} samples: {} executor runs ({} for calibration), {:.1f} "
                             "whole-model passes{}, {:.2f} s\n",
                             allocator_name(alloc_kind), sensitivity_method_name(s.method), s.samples, s.cost.runs,
                             s.cost.calibration_runs, s.cost.pass_equivalents,
                             alloc_kind == Allocator::kGreedyMeasured ? fmt::format(", {} allocations evaluated", r.evaluations) : "",
                             s.cost.seconds);
  return 0;
}

}  // namespace qsim::app
