// Validation of the sensitivity methods and allocators (docs/quantune.md section 5),
// in one process on the library functions `qsim sensitivity` and `qsim allocate` call.
//
// Per model and regime (w8 high / w2 low with 8-bit activations; w8a8 / w3a3):
//  - truth: the top-1 drop on the TEST split with only one free group low (all else
//    high), measured exactly as `qsim quantize --precision` measures (the allocation
//    evaluator, bit-exact with it; calibration on 512 evenly spaced train images);
//  - per method (quantunev2, isolated, output-kl, measured; on the same 512 train
//    images): Spearman of its group ranking with the truth, and its cost;
//  - allocations at 25/50/75 % of the free layers high: each method with the rank and
//    knapsack allocators, greedy-measured (cross-entropy, and output KL), 10 random
//    allocations, the greedy by true single-group drop, and where there are at most 12
//    free groups the exhaustive optimum on the test split (the oracle ceiling); all
//    scored by true top-1 on the test split;
//  - the additive assumption: predicted (all-high top-1 minus the sum of est_drop of
//    the low groups) against true top-1 of the knapsack allocations;
//  - leave-one-model-out for what is fitted (the est_drop mapping of the label-free
//    methods; quantunev2's score weights): fitted on the other bundled models, scored
//    on the held-out one. Models outside the four bundled ones (--extra) use the
//    mapping fitted on all four.
// --cost MODEL.onnx times every method on random tensors (--cost-samples, default 32).
//
// Results are written per model and regime as each one finishes (--results DIR:
// <model>-<regime>.measure.json after the measurements, <model>-<regime>.json after the
// allocations), and --out/--md are rewritten after every regime, so a run cut short keeps
// what finished. The leave-one-model-out fits use every bundled model measured in this run
// and, for bundled models not in it, their .measure.json in DIR from an earlier run with the
// same --test-limit (--measure-only writes those without the allocation phase):
//   quantune_validate --measure-only --results DIR       # all four: truth and methods
//   quantune_validate --models fmnist_resnet --results DIR   # allocations, fits on the other three
//
//   quantune_validate [--quick] [--models a,b] [--extra M.onnx ...] [--regimes w2a8,w3a3]
//                     [--test-limit N] [--threads N] [--out results.json] [--md tables.md]
//                     [--results DIR] [--measure-only]
//   quantune_validate --cost M.onnx [--cost-samples 32] [--threads N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "quant/alloc_eval.h"
#include "quant/calibrate.h"
#include "search/allocate.h"
#include "search/quantune.h"
#include "search/sensitivity.h"

namespace {

using namespace qsim;
using json = nlohmann::json;

constexpr const char* kBundled[] = {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"};
constexpr SensitivityMethod kMethods[] = {SensitivityMethod::kQuantuneV2, SensitivityMethod::kIsolated,
                                          SensitivityMethod::kOutputKl, SensitivityMethod::kMeasured};
constexpr double kFractions[] = {0.25, 0.5, 0.75};
// `qsim allocate --data`'s default on labelled data (docs/quantune.md section 6).
constexpr const char* kDefault = "measured+greedy-measured";

struct Regime {
  std::string name;
  int low = 2;
  int abits = 8;  // 0: activations follow the weights
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.empty() ? NAN : v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Random tensors with random labels (the cost runs).
class RandomData final : public Dataset {
 public:
  RandomData(Shape s, int64_t n, int64_t classes) : shape_(std::move(s)), n_(n), classes_(classes) {}
  int64_t size() const override { return n_; }
  const Shape& sample_shape() const override { return shape_; }
  void load(int64_t k, float* dst) const override {
    std::mt19937 rng(static_cast<uint32_t>(k + 1));
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t i = 0; i < sample_numel(); ++i) dst[i] = d(rng);
  }
  int64_t label(int64_t k) const override { return k % classes_; }
  std::string description() const override { return "random tensors"; }

 private:
  Shape shape_;
  int64_t n_, classes_;
};

// Least squares of log(drop) on log(metric) over pairs with a drop of at least 0.3
// points (below that the truth is noise on 10k images).
EstDropModel fit_power(const std::vector<std::pair<double, double>>& pairs) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (const auto& [m, d] : pairs) {
    if (!(m > 0) || !(d >= 0.3)) continue;
    const double x = std::log(m), y = std::log(d);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    ++n;
  }
  if (n < 3) return {0.0, 1.0};
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double a = (sy - b * sx) / n;
  return {std::exp(a), b};
}

struct Options {
  std::vector<std::string> models;
  std::vector<std::string> extra;
  std::vector<Regime> regimes{{"w2a8", 2, 8}, {"w3a3", 3, 0}};
  int64_t test_limit = 0;
  int64_t calib_samples = 512;
  int threads = 2;
  int randoms = 10;
  std::size_t exhaustive_max = 12;
  std::string out, md;
  std::string results;  // per model and regime files (empty: none)
  bool measure_only = false;
  std::string cost_model;
  int64_t cost_samples = 32;
};

// Everything measured for one model and regime.
struct Run {
  std::string model;
  bool bundled = true;
  Regime regime;
  json j;
  // For the leave-one-model-out fits: per method, (group metric, true drop) pairs.
  std::map<std::string, std::vector<std::pair<double, double>>> pairs;
  // quantunev2 rows (the raw metrics), to re-score with other weights.
  SensitivityResult q2;
  std::vector<double> truth_by_layer;  // per quantunev2 layer: its group's true drop (NaN: forced)
  std::map<std::string, SensitivityResult> tables;  // per method, on the calibration images
  std::vector<double> truth;                        // per group: true single-group drop (NaN: forced)
  std::map<std::string, EstDropModel> mapping;      // per label-free method: leave-one-model-out fit
  ScoreWeights lomo_weights;                        // quantunev2's weights chosen on the other models
  std::string path;
  bool loaded = false;  // measurements read from an earlier run's .measure.json (fits only)
};

// NaN is written as null by nlohmann::json; read it back as NaN.
double number_or_nan(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

// What the leave-one-model-out fits need of a measured model, as written to
// <model>-<regime>.measure.json.
json measure_record(const Run& r, int64_t test_limit) {
  json pairs = json::object();
  for (const auto& [mn, v] : r.pairs) {
    json a = json::array();
    for (const auto& [m, d] : v) a.push_back({m, d});
    pairs[mn] = a;
  }
  return {{"model", r.model},          {"regime", r.regime.name}, {"low", r.regime.low},
          {"abits", r.regime.abits},   {"test_limit", test_limit}, {"measurements", r.j},
          {"truth", r.truth},          {"truth_by_layer", r.truth_by_layer},
          {"pairs", pairs},            {"quantunev2", r.q2.to_json()}};
}

Run run_from_measure_record(const json& f, const std::string& source) {
  Run r;
  r.model = f.at("model").get<std::string>();
  r.regime = {f.at("regime").get<std::string>(), f.at("low").get<int>(), f.at("abits").get<int>()};
  r.bundled = true;
  r.loaded = true;
  r.j = f.at("measurements");
  for (const auto& v : f.at("truth")) r.truth.push_back(number_or_nan(v));
  for (const auto& v : f.at("truth_by_layer")) r.truth_by_layer.push_back(number_or_nan(v));
  for (auto it = f.at("pairs").begin(); it != f.at("pairs").end(); ++it)
    for (const auto& p : it.value()) r.pairs[it.key()].push_back({number_or_nan(p[0]), number_or_nan(p[1])});
  r.q2 = SensitivityResult::from_json(f.at("quantunev2"), source);
  return r;
}

class Validator {
 public:
  // Called when a model's regime finishes a phase (1: measured, 2: allocated).
  std::function<void(const Run&, int)> on_done;

  explicit Validator(Options o) : o_(std::move(o)) {
    train_ = load_fashion_mnist("", Split::kTrain);
    test_ = load_fashion_mnist("", Split::kTest, o_.test_limit);
  }

  // Phase 1 (measure) or 2 (allocate, after the leave-one-model-out fits) of a model.
  void run_model(const std::string& path, const std::string& name, bool bundled, std::vector<Run>& runs, int phase) {
    const LayerGraph g = import_model(path);
    QuantOptions qo;
    qo.calib_samples = o_.calib_samples;
    qo.threads = o_.threads;
    const double t0 = now_s();
    const ActivationStats stats = ActivationStats::collect(g, *train_, qo);
    std::vector<int64_t> test_idx(static_cast<std::size_t>(test_->size()));
    std::iota(test_idx.begin(), test_idx.end(), 0);
    const std::vector<int64_t> calib_idx = calibration_indices(train_->size(), o_.calib_samples);
    fmt::print(stderr, "{}: {} compute layers, stats in {:.1f} s (phase {})\n", name, g.compute_layers().size(),
               now_s() - t0, phase);
    for (const Regime& rg : o_.regimes) {
      if (phase == 1) {
        Run run;
        run.model = name;
        run.path = path;
        run.bundled = bundled;
        run.regime = rg;
        run_regime(g, stats, test_idx, calib_idx, qo, run, 1);
        runs.push_back(std::move(run));
        if (on_done) on_done(runs.back(), 1);
      } else {
        for (Run& run : runs)
          if (run.model == name && run.regime.name == rg.name && !run.loaded) {
            run_regime(g, stats, test_idx, calib_idx, qo, run, 2);
            if (on_done) on_done(run, 2);
          }
      }
    }
  }

  void run_regime(const LayerGraph& g, const ActivationStats& stats, const std::vector<int64_t>& test_idx,
                  const std::vector<int64_t>& calib_idx, const QuantOptions& qo, Run& run, int phase) {
    const Regime& rg = run.regime;
    const double t_regime = now_s();
    json& j = run.j;
    j["model"] = run.model;
    j["regime"] = rg.name;
    j["bundled"] = run.bundled;
    AllocateOptions ao;
    ao.high_bits = 8;
    ao.low_bits = rg.low;
    ao.abits = rg.abits;
    const auto compute = g.compute_layers();
    std::vector<char> scored(compute.size());
    for (std::size_t i = 0; i < compute.size(); ++i) scored[i] = layer_weights(g, compute[i]).has_value();
    const AllocationProblem prob(g, scored, ao);
    const std::vector<std::size_t> free = prob.free_groups();
    int64_t free_layers = 0;
    for (std::size_t gi : free) free_layers += static_cast<int64_t>(prob.groups()[gi].layers.size());
    const int64_t forced_layers = prob.high_layers(prob.initial());
    j["groups"] = prob.groups().size();
    j["free_groups"] = free.size();
    j["free_layers"] = free_layers;

    // The truth: the test split, every allocation as qsim quantize runs it.
    AllocationEvaluator test_ev(g, *test_, test_idx, stats,
                                AllocEvalOptions{.threads = o_.threads, .batch = 16, .cache_bytes = int64_t{3} << 30});
    j["float_top1"] = test_ev.batches().float_score().top1();
    std::vector<int> all_high = prob.initial();
    for (std::size_t gi : free) all_high[gi] = 8;
    const double high_top1 = test_ev.set_base(prob.precision(all_high)).top1();
    j["high_top1"] = high_top1;
    std::vector<double>& truth = run.truth;
    if (phase == 1) {
      truth.assign(prob.groups().size(), NAN);
      std::vector<std::vector<LayerPrecision>> ps;
      for (std::size_t gi : free) {
        std::vector<int> b = all_high;
        b[gi] = rg.low;
        ps.push_back(prob.precision(b));
      }
      const auto sc = test_ev.evaluate_many(ps);
      for (std::size_t k = 0; k < free.size(); ++k) truth[free[k]] = 100.0 * (high_top1 - sc[k].top1());
    }
    j["truth_drop"] = truth;
    fmt::print(stderr, "  {} {}: all-high {:.2f} %, single-group drops ({} kept cuts, {:.1f} s)\n", run.model, rg.name,
               100 * high_top1, test_ev.kept_cuts(), now_s() - t_regime);
    const auto top1_of = [&](const std::vector<int>& gb) { return 100.0 * test_ev.evaluate(prob.precision(gb)).top1(); };

    // Counts.
    std::vector<int64_t> counts;
    for (double f : kFractions) counts.push_back(forced_layers + std::llround(f * static_cast<double>(free_layers)));
    j["counts"] = counts;

    // Methods: their tables on the calibration images.
    std::map<std::string, SensitivityResult>& tables = run.tables;
    json methods = json::object();
    for (SensitivityMethod m : kMethods) {
      if (phase != 1) break;
      SensitivityOptions so;
      so.method = m;
      so.bits = {rg.low};
      so.abits = rg.abits;
      so.quant = qo;
      const double t = now_s();
      SensitivityResult s = measure_sensitivity(g, *train_, so);
      const std::string mn(sensitivity_method_name(m));
      json mj;
      mj["seconds"] = now_s() - t;
      mj["runs"] = s.cost.runs;
      mj["pass_equivalents"] = s.cost.pass_equivalents;
      // The group ranking the allocators use: the group's score (its most sensitive
      // member's), against the truth, over the free groups.
      std::vector<double> gs, gt, gm;
      for (std::size_t gi : free) {
        double sc = -INFINITY, me = 0, est = 0;
        for (std::size_t l : prob.groups()[gi].layers) {
          const auto it = std::find(s.layers.begin(), s.layers.end(), g.node(compute[l]).name);
          if (it == s.layers.end()) continue;
          const LayerSensitivity& row = s.at(0, static_cast<std::size_t>(it - s.layers.begin()));
          sc = std::max(sc, row.score);
          me = std::max(me, row.metric);
          est = std::max(est, row.est_drop);
        }
        gs.push_back(sc);
        gt.push_back(truth[gi]);
        gm.push_back(me);
        run.pairs[mn].push_back({me, truth[gi]});
        (void)est;
      }
      mj["spearman"] = spearman(gs, gt);
      mj["group_score"] = gs;
      mj["group_metric"] = gm;
      if (m == SensitivityMethod::kMeasured) {
        // The alternative ranking by the measured top-1 drop itself.
        std::vector<double> gd;
        for (std::size_t gi : free) {
          double d = -INFINITY;
          for (std::size_t l : prob.groups()[gi].layers) {
            const auto it = std::find(s.layers.begin(), s.layers.end(), g.node(compute[l]).name);
            if (it != s.layers.end()) d = std::max(d, s.at(0, static_cast<std::size_t>(it - s.layers.begin())).top1_drop);
          }
          gd.push_back(d);
        }
        mj["spearman_top1_drop"] = spearman(gd, gt);
      }
      methods[mn] = mj;
      if (m == SensitivityMethod::kQuantuneV2) {
        run.q2 = s;
        run.truth_by_layer.assign(s.layers.size(), NAN);
        for (std::size_t l = 0; l < s.layers.size(); ++l)
          for (std::size_t i = 0; i < compute.size(); ++i)
            if (g.node(compute[i]).name == s.layers[l]) run.truth_by_layer[l] = truth[prob.group_of(i)];
      }
      tables.emplace(mn, std::move(s));
      fmt::print(stderr, "  {} {}: {} Spearman {:.3f} ({:.1f} s)\n", run.model, rg.name, mn, mj["spearman"].get<double>(),
                 mj["seconds"].get<double>());
    }
    if (phase == 1) {
      j["methods"] = methods;
      return;
    }

    // Allocations (phase 2): label-free est_drop mapped with the leave-one-model-out fit.
    std::map<std::string, SensitivityResult> mapped = tables;
    for (auto& [mn, t] : mapped)
      if (run.mapping.count(mn)) map_est_drop(t, run.mapping.at(mn));
    SensitivityResult q2_lomo = tables.at("quantunev2");
    score_sensitivity(q2_lomo, run.lomo_weights);
    AllocationEvaluator calib_ev(g, *train_, calib_idx, stats, AllocEvalOptions{.threads = o_.threads});
    json allocs = json::object();
    const auto record = [&](const std::string& key, std::size_t ci, const AllocateResult& r, double extra_seconds) {
      json& a = allocs[key];
      if (a.is_null()) a = {{"top1", json::array()}, {"high_layers", json::array()}, {"seconds", json::array()}};
      a["top1"].push_back(top1_of(r.group_bits));
      a["high_layers"].push_back(r.high_layers);
      a["seconds"].push_back(extra_seconds);
      if (!std::isnan(r.est_drop)) a["predicted_top1"].push_back(100.0 * high_top1 - r.est_drop);
      double sum = 0;
      for (std::size_t gi : free)
        if (r.group_bits[gi] != 8) sum += truth[gi];
      a["truth_additive_top1"].push_back(100.0 * high_top1 - sum);
      if (r.evaluations) a["evaluations"].push_back(r.evaluations);
      (void)ci;
    };
    for (std::size_t ci = 0; ci < counts.size(); ++ci) {
      AllocateOptions o = ao;
      o.high_count = counts[ci];
      for (SensitivityMethod m : kMethods) {
        const std::string mn(sensitivity_method_name(m));
        record(mn + "+rank", ci, allocate_precision(g, tables.at(mn), o), 0);
        record(mn + "+knapsack", ci, allocate_knapsack(g, mapped.at(mn), o), 0);
      }
      record("quantunev2(LOMO weights)+rank", ci, allocate_precision(g, q2_lomo, o), 0);
      for (bool labels : {true, false}) {
        const double t = now_s();
        const AllocateResult r = allocate_greedy_measured(g, calib_ev, o, GreedyOptions{.use_labels = labels});
        record(labels ? "measured+greedy-measured" : "output-kl+greedy-measured", ci, r, now_s() - t);
        for (const auto& [d, l] : r.direction_loss) allocs[labels ? "measured+greedy-measured" : "output-kl+greedy-measured"]["direction_loss"][d].push_back(l);
      }
      {
        // The single pass of greedy-measured before it ran both directions (the
        // direction of fewer steps), for comparison.
        const double t = now_s();
        const AllocateResult r =
            allocate_greedy_measured(g, calib_ev, o, GreedyOptions{.direction = GreedyDirection::kAuto});
        record("measured+greedy-measured(one pass)", ci, r, now_s() - t);
      }
      // Random baselines.
      for (int seed = 1; seed <= o_.randoms; ++seed) {
        AllocateOptions rnd = o;
        rnd.random_order = true;
        rnd.seed = static_cast<uint64_t>(seed);
        record("random", ci, allocate_precision(g, tables.at("quantunev2"), rnd), 0);
      }
      // Greedy by the true single-group drop.
      {
        std::vector<std::size_t> order = free;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return truth[a] > truth[b]; });
        std::vector<int> gb = prob.initial();
        for (std::size_t gi : order) {
          if (prob.high_layers(gb) >= counts[ci]) break;
          std::vector<int> t = gb;
          t[gi] = 8;
          if (prob.fits(t) && prob.high_layers(t) <= counts[ci]) gb = t;
        }
        AllocateResult r = prob.result(gb, {});
        record("greedy-truth", ci, r, 0);
      }
      fmt::print(stderr, "  {} {}: count {} done ({:.1f} s)\n", run.model, rg.name, counts[ci], now_s() - t_regime);
    }
    // Exhaustive optimum on the test split (every subset of the free groups with the
    // count: the most layers <= the count that any subset reaches).
    if (free.size() <= o_.exhaustive_max) {
      json ex = json::array();
      const std::size_t nf = free.size();
      for (std::size_t ci = 0; ci < counts.size(); ++ci) {
        std::vector<uint32_t> masks;
        int64_t best_layers = -1;
        for (uint32_t mask = 0; mask < (1u << nf); ++mask) {
          int64_t layers = forced_layers;
          for (std::size_t k = 0; k < nf; ++k)
            if (mask >> k & 1) layers += static_cast<int64_t>(prob.groups()[free[k]].layers.size());
          if (layers > counts[ci]) continue;
          if (layers > best_layers) {
            best_layers = layers;
            masks.clear();
          }
          if (layers == best_layers) masks.push_back(mask);
        }
        // Earliest group as the most significant bit: neighbours share long prefixes.
        const auto key = [&](uint32_t m) {
          uint32_t r = 0;
          for (std::size_t k = 0; k < nf; ++k) r |= (m >> k & 1) << (nf - 1 - k);
          return r;
        };
        std::sort(masks.begin(), masks.end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
        double best = -1;
        for (uint32_t mask : masks) {
          std::vector<int> gb = prob.initial();
          for (std::size_t k = 0; k < nf; ++k)
            if (mask >> k & 1) gb[free[k]] = 8;
          best = std::max(best, 100.0 * test_ev.move_base(prob.precision(gb)).top1());
        }
        ex.push_back({{"top1", best}, {"subsets", masks.size()}, {"high_layers", best_layers}});
      }
      j["exhaustive"] = ex;
    }
    j["allocations"] = allocs;
    j["test_eval_cost"] = {{"evaluations", test_ev.cost().evaluations}, {"pass_equivalents", test_ev.cost().pass_equivalents},
                           {"seconds", test_ev.cost().seconds}};
    j["seconds"] = now_s() - t_regime;
    fmt::print(stderr, "  {} {}: done in {:.1f} s ({} test evaluations, {:.1f} passes)\n", run.model, rg.name,
               now_s() - t_regime, test_ev.cost().evaluations, test_ev.cost().pass_equivalents);

  }

  // Leave-one-model-out: est_drop mappings fitted on the other bundled models, and
  // quantunev2's score weights chosen on them.
  void lomo(std::vector<Run>& runs) {
    for (Run& r : runs) {
      if (r.loaded) continue;
      json fits = json::object();
      for (SensitivityMethod m : {SensitivityMethod::kOutputKl, SensitivityMethod::kIsolated, SensitivityMethod::kQuantuneV2}) {
        const std::string mn(sensitivity_method_name(m));
        std::vector<std::pair<double, double>> train, all;
        for (const Run& o : runs) {
          if (!o.bundled) continue;
          for (const auto& p : o.pairs.at(mn)) all.push_back(p);
          if (o.model != r.model)
            for (const auto& p : o.pairs.at(mn)) train.push_back(p);
        }
        const EstDropModel out = fit_power(r.bundled ? train : all);
        const EstDropModel in = fit_power(all);
        // The mapping's error on this model: mean absolute error in points.
        double e_out = 0, e_in = 0;
        int n = 0;
        for (const auto& [metric, drop] : r.pairs.at(mn)) {
          e_out += std::abs(out(metric) - drop);
          e_in += std::abs(in(metric) - drop);
          ++n;
        }
        r.mapping[mn] = out;
        fits[mn] = {{"scale", out.scale}, {"power", out.power}, {"mae_out", n ? e_out / n : NAN},
                    {"scale_all", in.scale}, {"power_all", in.power}, {"mae_in", n ? e_in / n : NAN}};
      }
      json fit_models = json::array();
      for (const Run& o : runs)
        if (o.bundled && o.model != r.model && o.regime.name == r.regime.name)
          fit_models.push_back(o.loaded ? o.model + " (earlier run)" : o.model);
      r.j["lomo_fit_models"] = fit_models;
      r.j["est_drop_fit"] = fits;
      // quantunev2's weights: every 0/1/2 combination, the best worst-case Spearman on
      // the other models (same regime), applied here.
      std::vector<ScoreWeights> grid;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          for (int c = 0; c < 3; ++c)
            for (int d = 0; d < 3; ++d)
              for (int e = 0; e < 3; ++e)
                if (a + b + c + d + e > 0) grid.push_back({double(a), double(b), double(c), double(d), double(e)});
      const auto rho = [](const Run& x, const ScoreWeights& w) {
        SensitivityResult s = x.q2;
        score_sensitivity(s, w);
        std::vector<double> sc, tr;
        for (std::size_t l = 0; l < s.layers.size(); ++l)
          if (!std::isnan(x.truth_by_layer[l])) {
            sc.push_back(s.at(0, l).score);
            tr.push_back(x.truth_by_layer[l]);
          }
        return spearman(sc, tr);
      };
      ScoreWeights best;
      double best_worst = -2;
      for (const ScoreWeights& w : grid) {
        double worst = 2;
        for (const Run& o : runs)
          if (o.bundled && o.model != r.model && o.regime.name == r.regime.name) worst = std::min(worst, rho(o, w));
        if (worst > best_worst) {
          best_worst = worst;
          best = w;
        }
      }
      r.lomo_weights = best;
      r.j["quantunev2_lomo"] = {{"weights", best.str()}, {"train_worst_spearman", best_worst},
                                {"spearman_out", rho(r, best)}, {"spearman_default", rho(r, ScoreWeights{})}};
    }
  }

  void cost(const std::string& path) {
    const LayerGraph g = import_model(path);
    const Value& in = g.value(g.inputs()[0]);
    Shape sample(in.shape.begin() + 1, in.shape.end());
    const Value& out = g.value(g.outputs()[0]);
    const RandomData data(sample, o_.cost_samples, shape_numel(out.shape) / std::max<int64_t>(out.shape[0], 1));
    json j;
    j["model"] = path;
    j["samples"] = o_.cost_samples;
    for (SensitivityMethod m : kMethods) {
      SensitivityOptions so;
      so.method = m;
      so.bits = {2};
      so.abits = 8;
      so.quant.calib_samples = o_.cost_samples;
      so.quant.threads = o_.threads;
      const double t = now_s();
      const SensitivityResult s = measure_sensitivity(g, data, so);
      j[std::string(sensitivity_method_name(m))] = {{"seconds", now_s() - t}, {"runs", s.cost.runs},
                                                    {"pass_equivalents", s.cost.pass_equivalents}};
      fmt::print(stderr, "{}: {} {:.1f} s, {} runs, {:.1f} passes\n", path, sensitivity_method_name(m), now_s() - t,
                 s.cost.runs, s.cost.pass_equivalents);
    }
    fmt::print("{}\n", j.dump());
  }

  const Options& options() const { return o_; }

 private:
  Options o_;
  std::unique_ptr<Dataset> train_, test_;
};

// ------------------------------------------------------------------ tables

std::string pct(double x) { return std::isnan(x) ? "-" : fmt::format("{:.2f}", x); }

std::string markdown(const std::vector<Run>& runs) {
  std::string md;
  std::set<std::string> regimes;
  for (const Run& r : runs) regimes.insert(r.regime.name);
  for (const std::string& rg : regimes) {
    md += fmt::format("\n#### Regime {}\n\n", rg);
    // Spearman per method.
    md += "| model | free groups | all-high top-1 | quantunev2 | (LOMO weights) | isolated | output-kl | measured |\n"
          "|---|---|---|---|---|---|---|---|\n";
    for (const Run& r : runs) {
      if (r.regime.name != rg || r.loaded || !r.j.contains("quantunev2_lomo")) continue;
      const json& m = r.j["methods"];
      md += fmt::format("| {}{} | {} | {:.2f} % | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", r.model,
                        r.bundled ? "" : " (not bundled)", r.j["free_groups"].get<int>(), 100 * r.j["high_top1"].get<double>(),
                        m["quantunev2"]["spearman"].get<double>(), r.j["quantunev2_lomo"]["spearman_out"].get<double>(),
                        m["isolated"]["spearman"].get<double>(), m["output-kl"]["spearman"].get<double>(),
                        m["measured"]["spearman"].get<double>());
    }
    md += "\nTrue top-1 (%, test split) at 25 / 50 / 75 % of the free layers high; avg = mean of the three:\n\n";
    for (const Run& r : runs) {
      if (r.regime.name != rg || r.loaded || !r.j.contains("allocations")) continue;
      md += "\n| model | allocation | 25 % | 50 % | 75 % | avg | avg - greedy-truth |\n|---|---|---|---|---|---|---|\n";
      const json& a = r.j["allocations"];
      const auto avg = [](const json& v) {
        double s = 0;
        for (const auto& x : v) s += x.get<double>();
        return s / static_cast<double>(v.size());
      };
      const double ref = avg(a["greedy-truth"]["top1"]);
      std::vector<std::string> keys;
      for (auto it = a.begin(); it != a.end(); ++it)
        if (it.key() != "random") keys.push_back(it.key());
      for (const std::string& k : keys) {
        const json& t = a[k]["top1"];
        const std::string label = k == kDefault ? "**default**: " + k : k;
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {:+.2f} |\n", r.model, label, pct(t[0].get<double>()),
                          pct(t[1].get<double>()), pct(t[2].get<double>()), pct(avg(t)), avg(t) - ref);
      }
      // Random: per count, median (min .. max).
      const json& rt = a["random"]["top1"];
      const std::size_t per = rt.size() / 3;
      std::string cells;
      std::vector<double> medians;
      for (std::size_t c = 0; c < 3; ++c) {
        std::vector<double> v;
        for (std::size_t k = 0; k < per; ++k) v.push_back(rt[c * per + k].get<double>());
        medians.push_back(median(v));
        cells += fmt::format(" {} ({}..{}) |", pct(median(v)), pct(*std::min_element(v.begin(), v.end())),
                             pct(*std::max_element(v.begin(), v.end())));
      }
      md += fmt::format("| {} | random: median (min..max) |{} | |\n", r.model, cells);
      if (r.j.contains("exhaustive")) {
        const json& e = r.j["exhaustive"];
        md += fmt::format("| {} | exhaustive optimum (oracle) | {} | {} | {} | {} | {:+.2f} |\n", r.model,
                          pct(e[0]["top1"].get<double>()), pct(e[1]["top1"].get<double>()), pct(e[2]["top1"].get<double>()),
                          pct((e[0]["top1"].get<double>() + e[1]["top1"].get<double>() + e[2]["top1"].get<double>()) / 3),
                          (e[0]["top1"].get<double>() + e[1]["top1"].get<double>() + e[2]["top1"].get<double>()) / 3 - ref);
      }
      // Issue 20's acceptance for the default allocation.
      const json& d = a[kDefault]["top1"];
      std::string vs_median, gap;
      for (std::size_t c = 0; c < 3; ++c) {
        vs_median += fmt::format("{}{:+.2f}", c ? " / " : "", d[c].get<double>() - medians[c]);
        if (r.j.contains("exhaustive"))
          gap += fmt::format("{}{:.2f}", c ? " / " : "", r.j["exhaustive"][c]["top1"].get<double>() - d[c].get<double>());
      }
      const double dv = avg(d) - ref;
      md += fmt::format("\n{} {}: default - random median {} ({}); avg - greedy-truth {:+.2f} ({}); gap to the "
                        "exhaustive optimum {}; est_drop fits and quantunev2 LOMO weights on: {}.\n\n",
                        r.model, rg, vs_median,
                        d[0].get<double>() >= medians[0] && d[1].get<double>() >= medians[1] &&
                                d[2].get<double>() >= medians[2]
                            ? "meets"
                            : "misses",
                        dv, dv >= -3.0 ? "meets" : "misses", gap.empty() ? "not computed (more free groups than the limit)" : gap,
                        r.j.value("lomo_fit_models", json::array()).dump());
    }
  }
  return md;
}

int run_main(int argc, char** argv) {
  Options o;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("{}: needs a value", a);
      return argv[++i];
    };
    if (a == "--quick") {
      quick = true;
    } else if (a == "--models") {
      std::string v = next();
      o.models.clear();
      for (std::size_t p = 0; p <= v.size();) {
        const std::size_t c = std::min(v.find(',', p), v.size());
        o.models.push_back(v.substr(p, c - p));
        p = c + 1;
      }
    } else if (a == "--extra") {
      o.extra.push_back(next());
    } else if (a == "--regimes") {
      const std::string v = next();
      std::vector<Regime> rs;
      if (v.find("w2a8") != std::string::npos) rs.push_back({"w2a8", 2, 8});
      if (v.find("w3a3") != std::string::npos) rs.push_back({"w3a3", 3, 0});
      o.regimes = rs;
    } else if (a == "--test-limit") {
      o.test_limit = std::stoll(next());
    } else if (a == "--threads") {
      o.threads = std::stoi(next());
    } else if (a == "--out") {
      o.out = next();
    } else if (a == "--md") {
      o.md = next();
    } else if (a == "--results") {
      o.results = next();
    } else if (a == "--measure-only") {
      o.measure_only = true;
    } else if (a == "--cost") {
      o.cost_model = next();
    } else if (a == "--cost-samples") {
      o.cost_samples = std::stoll(next());
    } else {
      fail("unknown option {} (see the header of bench/quantune_validate.cpp)", a);
    }
  }
  if (quick) {
    if (!o.test_limit) o.test_limit = 2000;
    o.exhaustive_max = 8;
  }
  Validator v(o);
  if (!o.cost_model.empty()) {
    v.cost(o.cost_model);
    return 0;
  }
  if (o.models.empty() && o.extra.empty()) o.models.assign(std::begin(kBundled), std::end(kBundled));
  std::vector<Run> runs;
  const std::string root = QSIM_SOURCE_DIR;
  const double t0 = now_s();
  if (!o.results.empty()) std::filesystem::create_directories(o.results);
  const auto result_path = [&](const Run& r, const char* suffix) {
    return (std::filesystem::path(o.results) / (r.model + "-" + r.regime.name + suffix)).string();
  };
  // Everything finished so far: --out and --md rewritten after every regime.
  const auto write_all = [&](bool print) {
    json all = json::array();
    for (const Run& r : runs)
      if (!r.loaded) all.push_back(r.j);
    const json report = {{"runs", all}, {"test_limit", o.test_limit}, {"calib_samples", o.calib_samples},
                         {"threads", o.threads}, {"seconds", now_s() - t0}};
    if (!o.out.empty()) std::ofstream(o.out) << report.dump(1) << "\n";
    const std::string md = markdown(runs);
    if (!o.md.empty()) std::ofstream(o.md) << md;
    if (print) fmt::print("{}\n(total {:.0f} s)\n", md, now_s() - t0);
  };
  v.on_done = [&](const Run& r, int phase) {
    if (!o.results.empty()) {
      if (phase == 1)
        std::ofstream(result_path(r, ".measure.json")) << measure_record(r, o.test_limit).dump(1) << "\n";
      else
        std::ofstream(result_path(r, ".json")) << r.j.dump(1) << "\n";
    }
    if (phase == 2) write_all(false);
  };
  for (int phase : {1, 2}) {
    if (phase == 2 && o.measure_only) break;
    for (const std::string& m : o.models)
      if (!m.empty()) v.run_model(root + "/models/" + m + ".onnx", m, true, runs, phase);
    for (const std::string& p : o.extra) v.run_model(p, std::filesystem::path(p).stem().string(), false, runs, phase);
    if (phase == 1) {
      // Bundled models not measured in this run: their measurements from an earlier one.
      std::vector<Run> earlier;
      for (const Regime& rg : o.regimes)
        for (const char* b : kBundled) {
          const bool here = std::any_of(runs.begin(), runs.end(),
                                        [&](const Run& r) { return r.model == b && r.regime.name == rg.name; });
          Run probe;
          probe.model = b;
          probe.regime = rg;
          const std::string path = o.results.empty() ? "" : result_path(probe, ".measure.json");
          if (here || path.empty() || !std::filesystem::exists(path)) continue;
          const json f = json::parse(std::ifstream(path));
          if (f.value("test_limit", int64_t{-1}) != o.test_limit) {
            fmt::print(stderr, "{}: measured with --test-limit {}, not {}: not used for the fits\n", path,
                       f.value("test_limit", int64_t{-1}), o.test_limit);
            continue;
          }
          earlier.push_back(run_from_measure_record(f, path));
          fmt::print(stderr, "{}: measurements from an earlier run, used for the leave-one-model-out fits\n", path);
        }
      for (Run& r : earlier) runs.push_back(std::move(r));
      v.lomo(runs);
    }
  }
  write_all(true);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const qsim::Error& e) {
    fmt::print(stderr, "quantune_validate: {}\n", e.what());
    return 2;
  }
}
