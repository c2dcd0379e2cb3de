// The allocation evaluator and the group prober (quant/alloc_eval.h, quant/group_probe.h):
// runs that start at a cached cut give exactly what a run from the input gives, and
// what `qsim quantize --precision` (calibrate + evaluate_quantized) gives; the prober's
// cached float32 prefix changes nothing; single-group metrics behave.
#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "data/dataset.h"
#include "graph/model_import.h"
#include "graph/subgraph.h"
#include "quant/alloc_eval.h"
#include "quant/group_probe.h"
#include "quant/quant_eval.h"
#include "tests/bundled_models.h"

namespace qsim {
namespace {

std::vector<int64_t> all100() {
  std::vector<int64_t> idx(100);
  std::iota(idx.begin(), idx.end(), 0);
  return idx;
}

QuantOptions quant_options() {
  QuantOptions o;
  o.calib_samples = 100;
  o.threads = 2;
  return o;
}

PrecisionAlloc to_alloc(const LayerGraph& g, const std::vector<LayerPrecision>& p) {
  PrecisionAlloc a;
  for (std::size_t i = 0; i < p.size(); ++i) a.set(g.node(g.compute_layers()[i]).name, p[i]);
  return a;
}

// What `qsim quantize --precision` computes for the allocation.
QuantEvalResult reference(const LayerGraph& g, const std::vector<LayerPrecision>& p) {
  const QuantSpec spec = calibrate(g, to_alloc(g, p), "alloc", fmnist_test100(), quant_options());
  QuantEvalOptions eo;
  eo.threads = 2;
  return evaluate_quantized(g, spec, fmnist_test100(), eo);
}

// High w8a8; low w2a8, or w3a3 when activations follow the weights.
LayerPrecision flip(const LayerPrecision& x, bool act_follows) {
  if (x.wbits != 8) return {8, 8, true};
  return act_follows ? LayerPrecision{3, 3, true} : LayerPrecision{2, 8, true};
}

std::vector<LayerPrecision> random_alloc(std::size_t n, std::mt19937& rng, bool act_follows) {
  std::vector<LayerPrecision> p(n);
  for (auto& x : p) {
    const int w = rng() % 2 ? 8 : (act_follows ? 3 : 2);
    x = {w, act_follows ? w : 8, true};
  }
  return p;
}

TEST(Subgraph, LiveValuesAndSuffix) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  EXPECT_EQ(live_values(g, 0), std::vector<ValueId>{g.inputs()[0]});
  // Inside a residual block two values cross (the block input and conv1's output).
  bool two = false;
  for (std::size_t p = 1; p < g.topo_order().size(); ++p) two = two || live_values(g, p).size() == 2;
  EXPECT_TRUE(two);
  const auto topo = g.topo_order();
  const std::size_t cut = topo.size() / 2;
  const std::vector<NodeId> nodes(topo.begin() + static_cast<std::ptrdiff_t>(cut), topo.end());
  const LayerGraph s = extract_subgraph(g, nodes, g.outputs());
  EXPECT_EQ(s.nodes().size(), nodes.size());
  ASSERT_EQ(s.inputs().size(), live_values(g, cut).size());
  for (std::size_t i = 0; i < s.inputs().size(); ++i)
    EXPECT_EQ(s.value(s.inputs()[i]).name, g.value(live_values(g, cut)[i]).name);
}

TEST(AllocationEvaluator, CutRunsEqualQuantizeOnEveryBundledModel) {
  std::mt19937 rng(3);
  for (const char* name : {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"}) {
    const LayerGraph& g = bundled_model(name);
    const ActivationStats stats = ActivationStats::collect(g, fmnist_test100(), quant_options());
    AllocationEvaluator ev(g, fmnist_test100(), all100(), stats, AllocEvalOptions{.threads = 2, .batch = 16});
    ASSERT_GT(ev.kept_cuts(), 2) << name;
    const std::size_t n = g.compute_layers().size();
    for (bool act_follows : {false, true}) {
      auto base = random_alloc(n, rng, act_follows);
      const OutputScore b = ev.set_base(base);
      const QuantEvalResult rb = reference(g, base);
      EXPECT_EQ(b.correct, rb.modes[0].top1_correct) << name;
      EXPECT_EQ(b.agree, rb.modes[0].agree_fp32) << name;
      for (int trial = 0; trial < 3; ++trial) {
        // A change late in the network: the run starts at a cut.
        auto p = base;
        const std::size_t k = n / 2 + static_cast<std::size_t>(trial) % (n / 2);
        for (std::size_t i = k + 1; i < n; ++i)
          if (rng() % 2) p[i] = flip(p[i], act_follows);
        p[k] = flip(base[k], act_follows);
        const OutputScore s = ev.evaluate(p);
        const QuantEvalResult r = reference(g, p);
        EXPECT_EQ(s.samples, 100);
        EXPECT_EQ(s.correct, r.modes[0].top1_correct) << name << " k=" << k;
        EXPECT_EQ(s.agree, r.modes[0].agree_fp32) << name << " k=" << k;
        EXPECT_NEAR(s.sqnr_db(), r.modes[0].sqnr_db(), 1e-6) << name << " k=" << k;
      }
    }
    const EvalCost c = ev.cost();
    EXPECT_EQ(c.evaluations, 8);
    EXPECT_LT(c.pass_equivalents, 1.0 + 2.0 + 6.0 * 0.8) << name;  // reference, two bases, six partial runs
  }
}

TEST(AllocationEvaluator, MoveBaseAndManyAgreeWithFreshRuns) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  const ActivationStats stats = ActivationStats::collect(g, fmnist_test100(), quant_options());
  AllocationEvaluator ev(g, fmnist_test100(), all100(), stats, AllocEvalOptions{.threads = 2, .batch = 16});
  AllocationEvaluator fresh(g, fmnist_test100(), all100(), stats, AllocEvalOptions{.threads = 2, .batch = 16, .cache_bytes = 0});
  EXPECT_EQ(fresh.kept_cuts(), 0);
  std::mt19937 rng(11);
  const std::size_t n = g.compute_layers().size();
  auto cur = random_alloc(n, rng, false);
  ev.set_base(cur);
  for (int step = 0; step < 6; ++step) {
    auto next = cur;
    const std::size_t k = 1 + rng() % (n - 1);
    next[k].wbits = next[k].wbits == 8 ? 2 : 8;
    const OutputScore moved = ev.move_base(next);
    const OutputScore full = fresh.evaluate(next);
    EXPECT_EQ(moved.correct, full.correct);
    EXPECT_DOUBLE_EQ(moved.noise, full.noise);
    cur = next;
    std::vector<std::vector<LayerPrecision>> cands;
    for (std::size_t i = 1; i < n; i += 3) {
      auto c = cur;
      c[i].wbits = c[i].wbits == 8 ? 2 : 8;
      cands.push_back(c);
    }
    const auto many = ev.evaluate_many(cands);
    for (std::size_t i = 0; i < cands.size(); ++i) {
      const OutputScore one = fresh.evaluate(cands[i]);
      EXPECT_EQ(many[i].correct, one.correct);
      EXPECT_EQ(many[i].agree, one.agree);
      EXPECT_NEAR(many[i].ce, one.ce, 1e-9 * std::max(1.0, one.ce));
    }
  }
}

TEST(GroupProber, CachedPrefixChangesNothingAndWidthsOrder) {
  const LayerGraph& g = bundled_model("fmnist_squeezenet");
  const ActivationStats stats = ActivationStats::collect(g, fmnist_test100(), quant_options());
  GroupProber cached(g, fmnist_test100(), all100(), stats, AllocEvalOptions{.threads = 2, .batch = 16});
  GroupProber plain(g, fmnist_test100(), all100(), stats, AllocEvalOptions{.threads = 2, .batch = 16, .cache_bytes = 0});
  EXPECT_GT(cached.kept_cuts(), 5);
  EXPECT_EQ(plain.kept_cuts(), 0);
  EXPECT_EQ(cached.batches().float_score().agree, 100);
  std::vector<GroupProbe> probes;
  for (NodeId id : g.compute_layers())
    for (int b : {2, 4, 8}) probes.push_back({{id}, b, 8, true});
  int64_t calls = 0;
  const auto a = cached.run(probes, true, [&](int64_t done, int64_t total) {
    ++calls;
    EXPECT_LE(done, total);
  });
  EXPECT_EQ(calls, static_cast<int64_t>(g.compute_layers().size()));
  const auto b = plain.run(probes, true);
  for (std::size_t i = 0; i < probes.size(); ++i) {
    EXPECT_DOUBLE_EQ(a[i].out_noise, b[i].out_noise) << i;
    EXPECT_EQ(a[i].output.agree, b[i].output.agree) << i;
    EXPECT_NEAR(a[i].output.kl, b[i].output.kl, 1e-9) << i;
  }
  EXPECT_LT(cached.cost().pass_equivalents, plain.cost().pass_equivalents * 0.8);
  for (std::size_t l = 0; l < g.compute_layers().size(); ++l) {
    const ProbeResult &w2 = a[3 * l], &w4 = a[3 * l + 1], &w8 = a[3 * l + 2];
    EXPECT_LT(w2.w_sqnr_db(), w4.w_sqnr_db());
    EXPECT_NEAR(w8.w_sqnr_db() - w4.w_sqnr_db(), 24.0, 5.0);
    EXPECT_GT(w8.out_sqnr_db(), w2.out_sqnr_db()) << l;
    EXPECT_GE(w2.output.mean_kl(), w8.output.mean_kl()) << l;
    EXPECT_GE(w8.output.agree, 97) << l;  // one layer at 8 bits: nearly float32
    EXPECT_EQ(w8.output.samples, 100);
  }
  // The first layer reads the image at 8 bits: pixels k/255 are exact.
  EXPECT_GT(a[2].in_sqnr_db(), 100.0);
  // Local probes stop at the group: cheaper, the same local metrics.
  const auto local = cached.run(probes, false);
  for (std::size_t i = 0; i < probes.size(); ++i) {
    EXPECT_DOUBLE_EQ(local[i].out_noise, a[i].out_noise);
    EXPECT_EQ(local[i].output.samples, 0);
  }
}

}  // namespace
}  // namespace qsim
