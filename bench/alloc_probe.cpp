// The path of greedy-measured on one model, regime and count (docs/quantune.md section
// 5.2, "Notes on the misses"): on 512 calibration train images (the allocation
// evaluator, as `qsim allocate --data` measures) and on the first --test-limit test
// images, prints
//  - every free group's single-group drop (test top-1, calibration cross-entropy);
//  - the allocations of greedy-measured up, down and both (the default), measured +
//    knapsack, measured + rank and the greedy by true single-group test drop, each with
//    its calibration cross-entropy, KL and top-1 and its test cross-entropy and top-1
//    (does the criterion rank them as the test split does?);
//  - every candidate of every step of the upward pass (--no-steps: not);
//  - the upward pass again on 2048 calibration images and on three other 512-image
//    draws (--no-samples: not): is it sample noise?
//
//   alloc_probe MODEL.onnx [--low 2] [--abits 8] [--fraction 0.25] [--test-limit 2000]
//               [--threads 2] [--no-steps] [--no-samples]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/dataset.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "quant/alloc_eval.h"
#include "quant/calibrate.h"
#include "search/allocate.h"
#include "search/quantune.h"
#include "search/sensitivity.h"

using namespace qsim;

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || argv[1][0] == '-') {
    fmt::print(stderr, "usage: alloc_probe MODEL.onnx [--low B] [--abits B] [--fraction F] [--test-limit N] "
                       "[--threads N] [--no-steps] [--no-samples]\n");
    return 2;
  }
  std::string model = argv[1];
  int low = 2, abits = 8, threads = 2;
  double fraction = 0.25;
  int64_t test_limit = 2000;
  bool steps = true, samples = true;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("{}: needs a value", a);
      return argv[++i];
    };
    if (a == "--low") low = std::stoi(value());
    else if (a == "--abits") abits = std::stoi(value());
    else if (a == "--fraction") fraction = std::stod(value());
    else if (a == "--test-limit") test_limit = std::stoll(value());
    else if (a == "--threads") threads = std::stoi(value());
    else if (a == "--no-steps") steps = false;
    else if (a == "--no-samples") samples = false;
    else fail("{}: unknown option", a);
  }
  const LayerGraph g = import_model(model);
  auto train = load_fashion_mnist("", Split::kTrain);
  auto test = load_fashion_mnist("", Split::kTest, test_limit);
  QuantOptions qo;
  qo.calib_samples = 512;
  qo.threads = threads;
  const ActivationStats stats = ActivationStats::collect(g, *train, qo);
  AllocateOptions ao;
  ao.high_bits = 8;
  ao.low_bits = low;
  ao.abits = abits;
  const auto compute = g.compute_layers();
  std::vector<char> scored(compute.size());
  for (std::size_t i = 0; i < compute.size(); ++i) scored[i] = layer_weights(g, compute[i]).has_value();
  const AllocationProblem prob(g, scored, ao);
  const auto free = prob.free_groups();
  int64_t free_layers = 0;
  for (std::size_t gi : free) free_layers += static_cast<int64_t>(prob.groups()[gi].layers.size());
  const int64_t count = prob.high_layers(prob.initial()) + std::llround(fraction * static_cast<double>(free_layers));
  ao.high_count = count;
  fmt::print("{}: {} compute layers, {} groups, {} free groups ({} free layers); count {}\n", g.name, compute.size(),
             prob.groups().size(), free.size(), free_layers, count);
  const auto desc = [&](std::size_t gi) {
    std::string s;
    for (std::size_t l : prob.groups()[gi].layers) {
      const Node& n = g.node(compute[l]);
      const auto* c = std::get_if<ConvAttrs>(&n.attrs);
      s += fmt::format("{}{}{}", s.empty() ? "" : "+", n.name, c && c->group > 1 ? "(dw)" : "");
    }
    return s;
  };
  for (std::size_t gi = 0; gi < prob.groups().size(); ++gi)
    fmt::print("  group {:2d}{} {}\n", gi, prob.forced(gi) ? " forced" : "", desc(gi));

  std::vector<int64_t> test_idx(static_cast<std::size_t>(test->size()));
  std::iota(test_idx.begin(), test_idx.end(), 0);
  const auto calib_idx = calibration_indices(train->size(), 512);
  AllocationEvaluator test_ev(g, *test, test_idx, stats, AllocEvalOptions{.threads = threads, .batch = 16});
  AllocationEvaluator calib_ev(g, *train, calib_idx, stats, AllocEvalOptions{.threads = threads});

  std::vector<int> all_high = prob.initial();
  for (std::size_t gi : free) all_high[gi] = 8;
  const double high_top1 = test_ev.set_base(prob.precision(all_high)).top1();
  // Truth: single-group test drops.
  std::vector<double> truth(prob.groups().size(), NAN), cdrop(prob.groups().size(), NAN);
  {
    std::vector<std::vector<LayerPrecision>> ps;
    for (std::size_t gi : free) {
      auto b = all_high;
      b[gi] = low;
      ps.push_back(prob.precision(b));
    }
    const auto sc = test_ev.evaluate_many(ps);
    const double ch = calib_ev.set_base(prob.precision(all_high)).mean_ce();
    const auto cc = calib_ev.evaluate_many(ps);
    for (std::size_t k = 0; k < free.size(); ++k) {
      truth[free[k]] = 100.0 * (high_top1 - sc[k].top1());
      cdrop[free[k]] = cc[k].mean_ce() - ch;
    }
  }
  fmt::print("all-high test top1 {:.2f}\n", 100 * high_top1);
  for (std::size_t gi : free)
    fmt::print("  single-low group {:2d}: test drop {:6.2f} pts, calib dCE {:.4f}  {}\n", gi, truth[gi], cdrop[gi], desc(gi));

  const auto show = [&](const std::string& name, const std::vector<int>& gb) {
    const auto p = prob.precision(gb);
    const OutputScore c = calib_ev.evaluate(p);
    const OutputScore t = test_ev.evaluate(p);
    std::string hi;
    for (std::size_t gi : free)
      if (gb[gi] == 8) hi += fmt::format(" {}", gi);
    fmt::print("{:28s} calib CE {:.4f} KL {:.4f} top1 {:6.2f} | test CE {:.4f} top1 {:6.2f} | high{}\n", name,
               c.mean_ce(), c.mean_kl(), 100 * c.top1(), t.mean_ce(), 100 * t.top1(), hi);
  };

  // The allocations.
  SensitivityOptions so;
  so.method = SensitivityMethod::kMeasured;
  so.bits = {low};
  so.abits = abits;
  so.quant = qo;
  const SensitivityResult meas = measure_sensitivity(g, *train, so);
  const AllocateResult K = allocate_knapsack(g, meas, ao);
  const AllocateResult R = allocate_precision(g, meas, ao);
  double t = now_s();
  const AllocateResult G = allocate_greedy_measured(g, calib_ev, ao);
  fmt::print("greedy-measured (both passes, the default): kept {}, {} evaluations, {:.1f} s\n", G.direction,
             G.evaluations, now_s() - t);
  const AllocateResult G1 = allocate_greedy_measured(g, calib_ev, ao, GreedyOptions{.direction = GreedyDirection::kUp});
  const AllocateResult D =
      allocate_greedy_measured(g, calib_ev, ao, GreedyOptions{.direction = GreedyDirection::kDown});
  std::vector<int> T = prob.initial();
  {
    auto order = free;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return truth[a] > truth[b]; });
    for (std::size_t gi : order) {
      if (prob.high_layers(T) >= count) break;
      auto x = T;
      x[gi] = 8;
      if (prob.fits(x)) T = x;
    }
  }
  show("greedy-measured (default)", G.group_bits);
  show("greedy-measured (up)", G1.group_bits);
  show("greedy-measured (down)", D.group_bits);
  show("measured+knapsack", K.group_bits);
  show("measured+rank", R.group_bits);
  show("greedy-truth", T);
  fmt::print("greedy up step losses:");
  for (double v : G1.step_loss) fmt::print(" {:.4f}", v);
  fmt::print("\ngreedy up raised:");
  for (std::size_t gi : G1.raised) fmt::print(" {}", gi);
  fmt::print("\n");

  if (steps) {
    // The greedy's path: every candidate at each step, calib CE and top1, test top1.
    std::vector<int> gb = prob.initial();
    for (int step = 0; prob.high_layers(gb) < count; ++step) {
      const double cur = calib_ev.evaluate(prob.precision(gb)).mean_ce();
      std::vector<std::size_t> cands;
      std::vector<std::vector<LayerPrecision>> ps;
      for (std::size_t gi : free) {
        if (gb[gi] != low) continue;
        auto x = gb;
        x[gi] = 8;
        if (!prob.fits(x)) continue;
        cands.push_back(gi);
        ps.push_back(prob.precision(x));
      }
      if (cands.empty()) break;
      const auto cs = calib_ev.evaluate_many(ps);
      const auto ts = test_ev.evaluate_many(ps);
      std::vector<std::size_t> ord(cands.size());
      std::iota(ord.begin(), ord.end(), 0);
      const auto per = [&](std::size_t k) {
        return (cs[k].mean_ce() - cur) / static_cast<double>(prob.groups()[cands[k]].layers.size());
      };
      std::sort(ord.begin(), ord.end(), [&](auto a, auto b) { return per(a) < per(b); });
      fmt::print("step {} (calib CE now {:.4f}):\n", step, cur);
      for (std::size_t k : ord)
        fmt::print("   raise {:2d} dCE/layer {:+.4f} calib CE {:.4f} top1 {:6.2f} | test CE {:.4f} top1 {:6.2f}  {}\n",
                   cands[k], per(k), cs[k].mean_ce(), 100 * cs[k].top1(), ts[k].mean_ce(), 100 * ts[k].top1(),
                   desc(cands[k]));
      gb[cands[ord[0]]] = 8;
    }
  }

  if (samples) {
    const auto run = [&](const std::string& name, const std::vector<int64_t>& idx) {
      AllocationEvaluator ev(g, *train, idx, stats, AllocEvalOptions{.threads = threads});
      const AllocateResult r = allocate_greedy_measured(g, ev, ao, GreedyOptions{.direction = GreedyDirection::kUp});
      const auto p = prob.precision(r.group_bits);
      std::string hi;
      for (std::size_t gi : r.raised) hi += fmt::format(" {}", gi);
      fmt::print("{:34s} greedy up -> test top1 {:6.2f} (own CE {:.4f}; knapsack's set on it {:.4f}) raised{}\n", name,
                 100 * test_ev.evaluate(p).top1(), ev.evaluate(p).mean_ce(),
                 ev.evaluate(prob.precision(K.group_bits)).mean_ce(), hi);
    };
    run("2048 evenly spaced", calibration_indices(train->size(), 2048));
    {
      auto idx = calibration_indices(train->size(), 512);
      for (auto& i : idx) i += train->size() / 1024;  // half a stride further
      run("512 evenly spaced, offset", idx);
    }
    for (uint32_t seed : {1u, 2u}) {
      std::vector<int64_t> idx(static_cast<std::size_t>(train->size()));
      std::iota(idx.begin(), idx.end(), 0);
      std::mt19937 rng(seed);
      std::shuffle(idx.begin(), idx.end(), rng);
      idx.resize(512);
      std::sort(idx.begin(), idx.end());
      run(fmt::format("512 random draw seed {}", seed), idx);
    }
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "alloc_probe: {}\n", e.what());
  return 2;
}
