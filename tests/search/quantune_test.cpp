// QuantuneV2 (search/): the two-pass sensitivity (executor runs counted), its
// metrics against independent figures, fused groups as the timing model charges
// them, the allocation rules, and the CLI end to end. The rule of widths, boundaries
// and groups itself is tested in tests/graph/precision_plan_test.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "graph/error.h"
#include "graph/model_import.h"
#include "data/dataset.h"
#include "quant/quant_eval.h"
#include "graph/precision_plan.h"
#include "search/quantune.h"
#include "search/sensitivity.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/bundled_models.h"
#include "tests/search/alloc_regime.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

SensitivityOptions options(std::vector<int> bits, int64_t samples, int abits = 0) {
  SensitivityOptions o;
  o.bits = std::move(bits);
  o.abits = abits;
  o.quant.calib_samples = samples;
  o.quant.threads = 2;
  o.batch = 16;
  return o;
}

// ------------------------------------------------------------------ pass count

TEST(Sensitivity, TwoPassesPerBatchLinearInBatchesIndependentOfLayers) {
  // 1 float32 run per batch, shared by the widths, plus 1 quantized run per batch
  // and width: the executor runs seen by the observer hooks.
  for (const char* name : {"fmnist_vgg", "fmnist_mobilenetv2"}) {  // 8 and 23 compute layers
    for (int64_t samples : {16, 48}) {
      const auto r = measure_sensitivity(bundled_model(name), fmnist_test100(), options({2, 4, 8}, samples));
      const int64_t batches = (samples + 15) / 16;
      EXPECT_EQ(r.batches, batches) << name;
      EXPECT_EQ(r.float_runs, batches) << name << " " << samples;
      EXPECT_EQ(r.quant_runs, 3 * batches) << name << " " << samples;
      EXPECT_EQ(r.samples, samples);
    }
  }
  const auto one = measure_sensitivity(bundled_model("fmnist_resnet"), fmnist_test100(), options({4}, 48));
  EXPECT_EQ(one.float_runs, 3);
  EXPECT_EQ(one.quant_runs, 3);  // one width: exactly two passes per batch
}

// ------------------------------------------------------------------ metrics

TEST(Sensitivity, MetricsBehaveAndMatchIndependentFigures) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  const auto r = measure_sensitivity(g, fmnist_test100(), options({2, 4, 8}, 100));
  ASSERT_EQ(r.layers.size(), 12u);
  ASSERT_EQ(r.rows.size(), 36u);
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    const auto &s2 = r.at(0, l), &s4 = r.at(1, l), &s8 = r.at(2, l);
    // Uniform quantization: about 6 dB of weight SQNR per bit.
    EXPECT_LT(s2.w_sqnr_db(), s4.w_sqnr_db()) << r.layers[l];
    EXPECT_NEAR(s8.w_sqnr_db() - s4.w_sqnr_db(), 24.0, 5.0) << r.layers[l];
    EXPECT_GT(s2.w_mse(), s8.w_mse());
    EXPECT_GT(s8.a_sqnr_db(), s2.a_sqnr_db()) << r.layers[l];
    EXPECT_GT(s8.a_sqnr_db(), 20.0) << r.layers[l];
    EXPECT_EQ(s8.act_count, shape_numel(g.value(g.node(g.compute_layers()[l]).outputs[0]).shape) * 100);
    for (const auto* s : {&s2, &s4, &s8}) {
      EXPECT_GE(s->score, 0.0);
      EXPECT_LE(s->score, 1.0);
    }
  }
  // The last layer's output is the logits: its a_sqnr is the output SQNR that
  // evaluate_quantized measures independently over the same 100 samples.
  for (std::size_t w = 0; w < 3; ++w) {
    const int b = r.bits[w];
    const QuantSpec spec = calibrate(g, PrecisionAlloc::uniform(g, b, b, true), "t", fmnist_test100(), options({b}, 100).quant);
    QuantEvalOptions eo;
    eo.threads = 1;
    const auto e = evaluate_quantized(g, spec, fmnist_test100(), eo);
    EXPECT_NEAR(r.at(w, 11).a_sqnr_db(), e.modes[0].sqnr_db(), 1e-3) << b;
  }
  // The graph input is read at 8 bits: Fashion-MNIST pixels (k/255) are exact up to
  // the float rounding of the scale.
  EXPECT_GT(r.at(2, 0).a_in_sqnr_db(), 100.0);
}

TEST(Sensitivity, ScoreIsNormalisedPerWidth) {
  auto r = measure_sensitivity(bundled_model("fmnist_vgg"), fmnist_test100(), options({2, 8}, 32, 8));
  score_sensitivity(r, ScoreWeights{1, 0, 0, 0, 0});
  for (std::size_t w = 0; w < 2; ++w) {
    std::size_t lo = 0, hi = 0;
    for (std::size_t l = 0; l < r.layers.size(); ++l) {
      if (r.at(w, l).w_sqnr_db() < r.at(w, lo).w_sqnr_db()) lo = l;
      if (r.at(w, l).w_sqnr_db() > r.at(w, hi).w_sqnr_db()) hi = l;
    }
    EXPECT_DOUBLE_EQ(r.at(w, lo).score, 1.0);  // lowest SQNR: most sensitive
    EXPECT_DOUBLE_EQ(r.at(w, hi).score, 0.0);
  }
  EXPECT_THROW(ScoreWeights::parse("1,2,3", "--weights"), Error);
  EXPECT_THROW(ScoreWeights::parse("0,0,0,0", "--weights"), Error);
  EXPECT_THROW(ScoreWeights::parse("1,-1,0,0", "--weights"), Error);
  const ScoreWeights w = ScoreWeights::parse("1,0.5,0,0,2", "--weights");
  EXPECT_EQ(w.a_sqnr, 0.5);
  EXPECT_EQ(w.a_delta, 2.0);
}

TEST(Sensitivity, JsonRoundTripAndCsv) {
  const auto r = measure_sensitivity(bundled_model("fmnist_vgg"), fmnist_test100(), options({2, 4}, 16));
  const auto back = SensitivityResult::from_json(nlohmann::json::parse(r.to_json().dump()), "s.json");
  ASSERT_EQ(back.rows.size(), r.rows.size());
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    EXPECT_EQ(back.rows[i].layer, r.rows[i].layer);
    EXPECT_EQ(back.rows[i].w_noise, r.rows[i].w_noise);
    EXPECT_EQ(back.rows[i].a_noise, r.rows[i].a_noise);
    EXPECT_EQ(back.rows[i].score, r.rows[i].score);
  }
  const std::string csv = r.to_csv();
  EXPECT_EQ(csv.substr(0, csv.find('\n')).rfind("layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 16);
  EXPECT_THROW(SensitivityResult::from_json(nlohmann::json::parse(R"({"format":"x"})"), "s.json"), Error);
  EXPECT_THROW(measure_sensitivity(bundled_model("fmnist_vgg"), fmnist_test100(), options({2, 2}, 16)), Error);
  EXPECT_THROW(measure_sensitivity(bundled_model("fmnist_vgg"), fmnist_test100(), options({1}, 16)), Error);
}

TEST(Sensitivity, Spearman) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 0.8207826816681233, 1e-12);  // scipy.stats.spearmanr
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

// ------------------------------------------------------------------ groups and boundaries

HwSpec eyeriss(bool fuse = true) {
  return load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml",
                      std::vector<std::string>{fuse ? "vector.fuse_elementwise=true" : "vector.fuse_elementwise=false"});
}

TEST(Quantune, FusedGroupsFollowTheTimingModel) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  const auto groups = fused_groups(g, true);
  ASSERT_EQ(groups.size(), 10u);  // the two projection shortcuts share their block's Add
  std::set<std::string> fused;
  for (const auto& gr : groups) {
    if (gr.layers.size() == 2) {
      EXPECT_NE(gr.names[1].find("shortcut"), std::string::npos) << gr.names[0];
    }
    fused.insert(gr.fused.begin(), gr.fused.end());
  }
  EXPECT_EQ(fused.size(), 4u);  // the four Adds
  EXPECT_EQ(fused_groups(g, false).size(), 12u);
  // A fused op has no row in the backend's report; without fusion it has one.
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, true});
  for (bool fuse : {true, false}) {
    const TimingReport rep = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), eyeriss(fuse));
    for (const std::string& f : fused) {
      const bool has_row = std::any_of(rep.layers.begin(), rep.layers.end(), [&](const auto& row) { return row.name == f; });
      EXPECT_EQ(has_row, !fuse) << f;
    }
  }
}

// ------------------------------------------------------------------ allocation

const SensitivityResult& resnet_w2() {
  static const SensitivityResult r = measure_sensitivity(bundled_model("fmnist_resnet"), fmnist_test100(), options({2}, 64, 8));
  return r;
}

TEST(Quantune, CountOrderAndKeptLayers) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  const auto& s = resnet_w2();
  AllocateOptions o = w8_low2_a8();
  o.high_count = 6;
  const auto r = allocate_precision(g, s, o);
  EXPECT_EQ(r.high_layers, 6);
  const auto p = r.alloc.resolve(g, "alloc");
  EXPECT_EQ(p.front().wbits, 8);  // first and last kept
  EXPECT_EQ(p.back().wbits, 8);
  for (const auto& x : p) EXPECT_EQ(x.abits, 8);
  for (std::size_t k = 1; k < r.raised.size(); ++k)
    EXPECT_GE(r.groups[r.raised[k - 1]].score, r.groups[r.raised[k]].score);
  // Every free group left low scores no higher than the last one raised, unless it
  // did not fit the count (a two-layer group with one slot left).
  for (std::size_t gi = 0; gi < r.groups.size(); ++gi)
    if (!r.forced[gi] && r.group_bits[gi] == 2 && r.groups[gi].layers.size() == 1) {
      EXPECT_LE(r.groups[gi].score, r.groups[r.raised.back()].score);
    }
  EXPECT_EQ(r.boundaries, 0);  // activations all at 8 bits

  o.keep = {{g.node(g.compute_layers()[3]).name, 4}};
  o.keep_first_last = false;
  const auto k = allocate_precision(g, s, o);
  EXPECT_EQ(k.alloc.resolve(g, "a")[3].wbits, 4);
  EXPECT_EQ(k.high_layers, 6);
  o.keep = {{"nope", 4}};
  EXPECT_THROW(allocate_precision(g, s, o), Error);
  o.keep.clear();
  o.low_bits = 4;  // no sensitivity rows at 4 bits
  EXPECT_THROW(allocate_precision(g, s, o), Error);
  o.low_bits = 2;
  o.abits = 0;  // measured with 8-bit activations
  EXPECT_THROW(allocate_precision(g, s, o), Error);
}

TEST(Quantune, RandomOrderIsSeededAndKeepsTheCount) {
  const LayerGraph& g = bundled_model("fmnist_resnet");
  AllocateOptions o = w8_low2_a8();
  o.high_count = 6;
  o.random_order = true;
  std::set<std::vector<int>> distinct;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    o.seed = seed;
    const auto a = allocate_precision(g, resnet_w2(), o);
    const auto b = allocate_precision(g, resnet_w2(), o);
    EXPECT_EQ(a.group_bits, b.group_bits);
    EXPECT_EQ(a.high_layers, 6);
    distinct.insert(a.group_bits);
  }
  EXPECT_GT(distinct.size(), 5u);
}

TEST(Quantune, LatencyAndSizeBudgetsAreMaximalFirstFit) {
  const LayerGraph& g = bundled_model("fmnist_vgg");
  const HwSpec hw = eyeriss();
  const auto s = measure_sensitivity(g, fmnist_test100(), options({2}, 32));  // w2a2 low, w8a8 high
  AllocateOptions o = w8_low2_a8();
  o.abits = 0;
  o.hw = &hw;
  const AnalyticalBackend be;
  const double all_low = be.run(g, PrecisionAlloc::uniform(g, 2, 2, true), hw).latency_ms();
  const double all_high = be.run(g, PrecisionAlloc::uniform(g, 8, 8, true), hw).latency_ms();
  o.latency_budget_ms = (all_low + all_high) / 2;
  const auto r = allocate_precision(g, s, o);
  ASSERT_TRUE(r.latency_ms);
  EXPECT_LE(*r.latency_ms, *o.latency_budget_ms);
  EXPECT_EQ(*r.latency_ms, be.run(g, r.alloc, hw).latency_ms());
  EXPECT_GT(r.boundaries, 0);
  EXPECT_EQ(r.boundaries, be.run(g, r.alloc, hw).requant_boundaries());
  for (std::size_t gi = 0; gi < r.groups.size(); ++gi) {
    if (r.forced[gi] || r.group_bits[gi] == 8) continue;
    std::vector<LayerPrecision> p = r.alloc.resolve(g, "a");
    for (std::size_t l : r.groups[gi].layers) p[l] = {8, 8, true};
    EXPECT_GT(be.run(g, std::span<const LayerPrecision>(p), hw).latency_ms(), *o.latency_budget_ms) << gi;
  }
  o.latency_budget_ms = all_low / 2;
  EXPECT_THROW(allocate_precision(g, s, o), Error);
  o.latency_budget_ms.reset();
  o.size_budget_kib = 60;
  const auto z = allocate_precision(g, s, o);
  EXPECT_LE(z.weight_kib, 60.0);
  EXPECT_EQ(z.weight_kib * 1024, weight_bytes(g, z.alloc.resolve(g, "a")));
}

TEST(Quantune, PreferFewerBoundariesAmongTies) {
  // Every layer equally sensitive: the tie-break alone decides. Low w2a2, high w8a8.
  const LayerGraph& g = bundled_model("fmnist_vgg");
  // Layers 3 and 4 score a hair higher: the plain order raises them, in the middle.
  SensitivityResult s = measure_sensitivity(g, fmnist_test100(), options({2}, 16));
  for (std::size_t l = 0; l < s.rows.size(); ++l) s.rows[l].score = l == 3 || l == 4 ? 0.5 + 1e-9 : 0.5;
  AllocateOptions o = w8_low2_a8();
  o.abits = 0;
  o.high_count = 4;  // first, last + 2
  const auto plain = allocate_precision(g, s, o);
  o.prefer_fewer_boundaries = true;
  const auto exact = allocate_precision(g, s, o);  // tolerance 0: no tie, the same allocation
  EXPECT_EQ(exact.group_bits, plain.group_bits);
  o.tie_tolerance = 1e-6;
  const auto fewer = allocate_precision(g, s, o);
  EXPECT_EQ(plain.high_layers, fewer.high_layers);
  EXPECT_NEAR(plain.total_score, fewer.total_score, 1e-8);
  EXPECT_EQ(plain.boundaries, 4);
  EXPECT_EQ(fewer.boundaries, 2);
  // The 8-bit layers then sit next to the kept first/last ones.
  const auto p = fewer.alloc.resolve(g, "a");
  EXPECT_EQ(fewer.boundaries, static_cast<int>(plan_precision(g, p).requants.size()));
}

// ------------------------------------------------------------------ validation subset

// The issue's claim (b) on the 100 committed test images (which here also calibrate
// and measure): QuantuneV2's allocation with half the layers at w8 (w2 elsewhere,
// 8-bit activations) beats the mean of 10 seeded random allocations of the same
// count on every bundled model. The full-test-set figures: bench/quantune_validate.sh (docs/quantune.md).
TEST(QuantuneValidation, BeatsRandomOnTheCommittedImages) {
  for (const char* name : {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"}) {
    const LayerGraph& g = bundled_model(name);
    const auto s = measure_sensitivity(g, fmnist_test100(), options({2}, 100, 8));
    AllocateOptions o = w8_low2_a8();
    o.high_count = static_cast<int64_t>(std::llround(0.5 * static_cast<double>(g.compute_layers().size())));
    QuantOptions qo = options({2}, 100).quant;
    QuantEvalOptions eo;
    eo.threads = 2;
    auto top1 = [&](const AllocateResult& r) {
      const QuantSpec spec = calibrate(g, r.alloc, "alloc", fmnist_test100(), qo);
      const auto e = evaluate_quantized(g, spec, fmnist_test100(), eo);
      return static_cast<double>(e.modes[0].top1_correct) / static_cast<double>(e.samples);
    };
    const auto q = allocate_precision(g, s, o);
    const double q_top1 = top1(q);
    double sum = 0;
    o.random_order = true;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      o.seed = seed;
      const auto r = allocate_precision(g, s, o);
      ASSERT_EQ(r.high_layers, q.high_layers) << name;
      sum += top1(r);
    }
    EXPECT_GT(q_top1, sum / 10) << name;
    std::printf("%s: QuantuneV2 %.2f %% vs random mean %.2f %% (100 images)\n", name, 100 * q_top1, 10 * sum);
  }
}

// ------------------------------------------------------------------ CLI

int run_qsim(const std::string& args, std::string* out = nullptr) {
  const fs::path log = fs::temp_directory_path() / ("quantune_cli_" + std::to_string(::getpid()) + ".log");
  const int rc = std::system((std::string(QSIM_BINARY) + " " + args + " > " + log.string() + " 2>&1").c_str());
  if (out) {
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
  }
  fs::remove(log);
  return WEXITSTATUS(rc);
}

TEST(QuantuneCli, SensitivityAllocateSimulateQuantize) {
  const fs::path dir = fs::temp_directory_path() / ("quantune_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string m = bundled_file("fmnist_resnet.onnx");
  const std::string data = "npy:" + bundled_file("fmnist_test100.npy");
  const std::string s = (dir / "s.json").string(), csv = (dir / "s.csv").string(), a = (dir / "a.json").string();
  std::string out;
  ASSERT_EQ(run_qsim("sensitivity --method quantunev2 --model " + m + " --data " + data + " --bits 2,8 --abits 8 --calib-samples 32 --csv " +
                         csv + " --json " + s + " --threads 2",
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("executor runs: 2 float32 + 4 quantized"), std::string::npos) << out;
  std::ifstream c(csv);
  std::string header;
  std::getline(c, header);
  EXPECT_EQ(header.rfind("layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score", 0), 0u);
  ASSERT_EQ(run_qsim("allocate --model " + m + " --sensitivity " + s + " --low 2 --abits 8 --high-count 6 --out " + a, &out), 0)
      << out;
  const PrecisionAlloc alloc = PrecisionAlloc::load(a);
  EXPECT_EQ(alloc.size(), 12u);
  ASSERT_NE(alloc.find_section("allocation"), nullptr);
  EXPECT_EQ(alloc.find_section("allocation")->at("high_layers"), 6);
  EXPECT_EQ(run_qsim("--hw " + std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml --model " + m + " --precision " + a, &out), 0)
      << out;
  EXPECT_EQ(run_qsim("quantize --model " + m + " --data " + data + " --labels " + bundled_file("fmnist_test100_labels.npy") +
                         " --precision " + a + " --calib-data " + data + " --limit 20 --threads 2",
                     &out),
            0)
      << out;
  // Bad input: one line, exit 2, no file.
  const std::string bad = (dir / "bad.json").string();
  EXPECT_EQ(run_qsim("allocate --model " + m + " --sensitivity " + s + " --low 4 --abits 8 --high-count 6 --out " + bad, &out), 2);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_FALSE(fs::exists(bad));
  EXPECT_EQ(run_qsim("allocate --model " + m + " --sensitivity " + s + " --low 2 --abits 8 --high-count 6 --keep x --out " + bad, &out), 2);
  EXPECT_FALSE(fs::exists(bad));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qsim
