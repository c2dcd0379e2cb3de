// The per-group sensitivity methods (isolated, output-kl, measured), est_drop, the
// knapsack and greedy-measured allocators, and their CLI (docs/quantune.md), on the
// 100 committed test images.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "quant/alloc_eval.h"
#include "search/allocate.h"
#include "search/quantune.h"
#include "search/sensitivity.h"
#include "tests/bundled_models.h"
#include "tests/search/alloc_regime.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

const Dataset& unlabelled100() {
  static const auto d = load_npy_dataset(bundled_file("fmnist_test100.npy"), "");
  return *d;
}

SensitivityOptions options(SensitivityMethod m, std::vector<int> bits, int abits = 8) {
  SensitivityOptions o;
  o.method = m;
  o.bits = std::move(bits);
  o.abits = abits;
  o.quant.calib_samples = 100;
  o.quant.threads = 2;
  return o;
}

const SensitivityResult& table(const std::string& name, SensitivityMethod m) {
  static std::map<std::pair<std::string, int>, SensitivityResult> cache;
  const auto key = std::make_pair(name, static_cast<int>(m));
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, measure_sensitivity(bundled_model(name), fmnist_test100(), options(m, {2, 8}))).first;
  return it->second;
}

TEST(SensitivityMethods, IsolatedMeasuresTheLayersOwnError) {
  const auto& iso = table("fmnist_vgg", SensitivityMethod::kIsolated);
  const auto& q2 = table("fmnist_vgg", SensitivityMethod::kQuantuneV2);
  ASSERT_EQ(iso.layers, q2.layers);
  EXPECT_EQ(iso.method, SensitivityMethod::kIsolated);
  for (std::size_t l = 0; l < iso.layers.size(); ++l) {
    // The same weight metrics; the activation error without what accumulated upstream.
    EXPECT_DOUBLE_EQ(iso.at(0, l).w_noise, q2.at(0, l).w_noise);
    if (l > 0) {
      EXPECT_GT(iso.at(0, l).a_sqnr_db(), q2.at(0, l).a_sqnr_db()) << l;
    }
    // Its input quantized at 8 bits from float32: about 40 dB or more.
    EXPECT_GT(iso.at(0, l).a_in_sqnr_db(), 35.0) << l;
    EXPECT_GT(iso.at(1, l).a_sqnr_db(), iso.at(0, l).a_sqnr_db()) << l;
    EXPECT_TRUE(std::isnan(iso.at(0, l).kl));  // local only: the output is not run
    EXPECT_GE(iso.at(0, l).est_drop, 0.0);
  }
  EXPECT_GT(iso.at(0, 0).a_in_sqnr_db(), 100.0);  // pixels k/255 at 8 bits: exact
}

TEST(SensitivityMethods, OutputKlAndMeasured) {
  for (const char* name : {"fmnist_resnet", "fmnist_squeezenet"}) {
    const auto& kl = table(name, SensitivityMethod::kOutputKl);
    const auto& ms = table(name, SensitivityMethod::kMeasured);
    EXPECT_NEAR(ms.float_top1, 0.92, 0.05);
    ASSERT_FALSE(kl.groups.empty());
    for (std::size_t l = 0; l < kl.layers.size(); ++l) {
      const LayerSensitivity &k2 = kl.at(0, l), &k8 = kl.at(1, l), &m2 = ms.at(0, l);
      EXPECT_GE(k2.kl, 0.0);
      EXPECT_GE(k2.kl, k8.kl) << l;
      EXPECT_LT(k8.kl, 0.01) << l;  // one group at 8 bits: almost float32
      EXPECT_DOUBLE_EQ(k2.metric, k2.kl);
      EXPECT_DOUBLE_EQ(k2.est_drop, est_drop_model(SensitivityMethod::kOutputKl)(k2.kl));
      EXPECT_GE(k2.flip_rate, 0.0);
      EXPECT_LE(k2.flip_rate, 1.0);
      // The same probe: measured and output-kl see the same output.
      EXPECT_DOUBLE_EQ(m2.kl, k2.kl);
      EXPECT_DOUBLE_EQ(m2.est_drop, m2.top1_drop);
      EXPECT_DOUBLE_EQ(m2.metric, m2.ce_increase);
      // 100 images: the drop is a multiple of one point.
      EXPECT_NEAR(m2.top1_drop, std::round(m2.top1_drop), 1e-9);
      EXPECT_EQ(k2.group, m2.group);
    }
    // Layers of one group share its probe.
    for (std::size_t l = 0; l < ms.layers.size(); ++l)
      for (std::size_t k = 0; k < ms.layers.size(); ++k)
        if (ms.at(0, l).group == ms.at(0, k).group) {
          EXPECT_DOUBLE_EQ(ms.at(0, l).kl, ms.at(0, k).kl);
        }
    // Cost: every run counted; the cached float prefix keeps the work below one whole
    // pass per group and width.
    EXPECT_GT(ms.cost.runs, ms.cost.calibration_runs);
    EXPECT_LT(ms.cost.pass_equivalents, 2.0 + 2.0 * static_cast<double>(ms.groups.size()));
  }
  // resnet: 12 layers in 10 groups (two projection shortcuts share their block's Add).
  EXPECT_EQ(table("fmnist_resnet", SensitivityMethod::kMeasured).groups.size(), 10u);
}

TEST(SensitivityMethods, MeasuredNeedsLabelsAndJsonRoundTrip) {
  try {
    measure_sensitivity(bundled_model("fmnist_vgg"), unlabelled100(), options(SensitivityMethod::kMeasured, {2}));
    FAIL() << "measured on unlabelled data";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label-free methods are output-kl, isolated and quantunev2"), std::string::npos);
  }
  const auto& ms = table("fmnist_resnet", SensitivityMethod::kMeasured);
  const nlohmann::json j = ms.to_json();
  EXPECT_EQ(j["method"], "measured");
  ASSERT_EQ(j["groups"].size(), 10u);
  EXPECT_TRUE(j["groups"][0]["widths"][0].contains("est_drop"));
  EXPECT_TRUE(j["cost"].contains("seconds"));
  const auto back = SensitivityResult::from_json(nlohmann::json::parse(j.dump()), "s.json");
  EXPECT_EQ(back.method, SensitivityMethod::kMeasured);
  ASSERT_EQ(back.rows.size(), ms.rows.size());
  for (std::size_t i = 0; i < ms.rows.size(); ++i) {
    EXPECT_EQ(back.rows[i].est_drop, ms.rows[i].est_drop);
    EXPECT_EQ(back.rows[i].group, ms.rows[i].group);
  }
  EXPECT_EQ(parse_sensitivity_method("output-kl"), SensitivityMethod::kOutputKl);
  try {
    sensitivity_method_or_fail("mesured", "--method");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean measured?"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------ knapsack

TEST(Allocators, KnapsackIsOptimalOverTheEstimates) {
  const LayerGraph& g = bundled_model("fmnist_resnet");  // two-layer groups: costs differ
  SensitivityResult s = table("fmnist_resnet", SensitivityMethod::kMeasured);
  // Synthetic estimates: a hand-made table of distinct values per group.
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    s.rows[l].est_drop = 1.0 + static_cast<double>((s.rows[l].group * 7) % 10);
    s.rows[s.layers.size() + l].est_drop = 0.0;  // at 8 bits
  }
  AllocateOptions o = w8_low2_a8();
  std::vector<char> scored(g.compute_layers().size(), 1);
  const AllocationProblem prob(g, scored, o);
  const auto free = prob.free_groups();
  const auto group_est = [&](std::size_t gi) {
    double e = 0;
    std::set<int> seen;
    for (std::size_t l : prob.groups()[gi].layers) {
      const auto it = std::find(s.layers.begin(), s.layers.end(), g.node(g.compute_layers()[l]).name);
      const LayerSensitivity& row = s.at(0, static_cast<std::size_t>(it - s.layers.begin()));
      if (seen.insert(row.group).second) e += row.est_drop;
    }
    return e;
  };
  for (int budget = 0; budget < 2; ++budget) {
    AllocateOptions b = o;
    if (budget == 0) b.high_count = 7;
    if (budget == 1) b.size_budget_kib = 40.0;
    const AllocateResult r = allocate_knapsack(g, s, b);
    EXPECT_EQ(r.allocator, "knapsack");
    const AllocationProblem pb(g, scored, b);
    ASSERT_TRUE(pb.fits(r.group_bits));
    double saved = 0;
    for (std::size_t gi : free)
      if (r.group_bits[gi] == 8) saved += group_est(gi);
    // Brute force over every subset of the free groups.
    double best = 0;
    for (uint32_t mask = 0; mask < (1u << free.size()); ++mask) {
      std::vector<int> gb = pb.initial();
      double v = 0;
      for (std::size_t k = 0; k < free.size(); ++k)
        if (mask >> k & 1) {
          gb[free[k]] = 8;
          v += group_est(free[k]);
        }
      if (pb.fits(gb)) best = std::max(best, v);
    }
    EXPECT_NEAR(saved, best, 1e-6) << budget << " high " << r.high_layers << " kib " << r.weight_kib;
    double total = 0;
    for (std::size_t gi = 0; gi < prob.groups().size(); ++gi)
      if (!prob.forced(gi)) total += group_est(gi);
    EXPECT_NEAR(r.est_drop, total - saved, 1e-6);  // the additive prediction
  }
  // A table without est_drop (an old file) is refused.
  SensitivityResult old = s;
  for (auto& row : old.rows) row.est_drop = std::numeric_limits<double>::quiet_NaN();
  AllocateOptions c = o;
  c.high_count = 7;
  EXPECT_THROW(allocate_knapsack(g, old, c), Error);
}

// ------------------------------------------------------------------ greedy-measured

// fmnist_vgg's allocation evaluator on the 100 bundled test images, calibrated on them.
QuantOptions calib_on_100() {
  QuantOptions qo;
  qo.calib_samples = 100;
  qo.threads = 2;
  return qo;
}
std::vector<int64_t> first_100() {
  std::vector<int64_t> idx(100);
  std::iota(idx.begin(), idx.end(), 0);
  return idx;
}
struct VggEvaluator {
  const LayerGraph& g = bundled_model("fmnist_vgg");
  const ActivationStats stats = ActivationStats::collect(g, fmnist_test100(), calib_on_100());
  AllocationEvaluator ev{g, fmnist_test100(), first_100(), stats, AllocEvalOptions{.threads = 2}};
};

TEST(Allocators, GreedyMeasuredStepsAndDirection) {
  VggEvaluator vgg;
  const LayerGraph& g = vgg.g;
  AllocationEvaluator& ev = vgg.ev;
  AllocateOptions o = w8_low2_a8();
  o.high_count = 4;  // first, last + 2 of 6 free: up
  const GreedyOptions one_pass{.direction = GreedyDirection::kAuto};
  const AllocateResult up = allocate_greedy_measured(g, ev, o, one_pass);
  EXPECT_EQ(up.direction, "up");
  EXPECT_EQ(up.high_layers, 4);
  ASSERT_EQ(up.step_loss.size(), 3u);
  EXPECT_LT(up.step_loss[1], up.step_loss[0]);
  EXPECT_LT(up.step_loss[2], up.step_loss[1]);
  EXPECT_EQ(up.evaluations, 1 + 6 + 1 + 5 + 1);  // base, 6 candidates, move, 5 candidates, move
  // Each step took the candidate of least loss: checked against fresh evaluations.
  std::vector<int> first(8, 2);
  first[0] = first[7] = 8;
  first[up.raised[0]] = 8;
  std::vector<char> scored(8, 1);
  const AllocationProblem prob(g, scored, o);
  EXPECT_NEAR(ev.evaluate(prob.precision(first)).mean_ce(), up.step_loss[1], 1e-9);
  for (std::size_t gi : prob.free_groups()) {
    if (gi == up.raised[0]) continue;
    std::vector<int> other(8, 2);
    other[0] = other[7] = 8;
    other[gi] = 8;
    EXPECT_GE(ev.evaluate(prob.precision(other)).mean_ce(), up.step_loss[1] - 1e-12) << gi;
  }
  o.high_count = 7;  // 5 of 6 free: down is one step
  const AllocateResult down = allocate_greedy_measured(g, ev, o, one_pass);
  EXPECT_EQ(down.direction, "down");
  EXPECT_EQ(down.high_layers, 7);
  EXPECT_EQ(down.evaluations, 1 + 6 + 1);
  // Label-free: output KL.
  const AllocateResult kl =
      allocate_greedy_measured(g, ev, o, GreedyOptions{.use_labels = false, .direction = GreedyDirection::kAuto});
  EXPECT_EQ(kl.high_layers, 7);
  EXPECT_LT(kl.step_loss.back(), 1.0);
}

// The default runs both passes and keeps the allocation of lower loss: the result is
// exactly the better single pass, and the report gives both final losses.
TEST(Allocators, GreedyMeasuredBothDirectionsKeepsTheLowerLoss) {
  VggEvaluator vgg;
  const LayerGraph& g = vgg.g;
  AllocationEvaluator& ev = vgg.ev;
  AllocateOptions o = w8_low2_a8();
  std::vector<char> scored(8, 1);
  for (int64_t count : {4, 5, 6}) {
    o.high_count = count;
    const AllocateResult up = allocate_greedy_measured(g, ev, o, GreedyOptions{.direction = GreedyDirection::kUp});
    const AllocateResult down = allocate_greedy_measured(g, ev, o, GreedyOptions{.direction = GreedyDirection::kDown});
    const AllocateResult both = allocate_greedy_measured(g, ev, o);
    EXPECT_EQ(up.direction, "up");
    EXPECT_EQ(down.direction, "down");
    EXPECT_EQ(up.high_layers, count);
    EXPECT_EQ(down.high_layers, count);
    EXPECT_EQ(both.high_layers, count);
    ASSERT_EQ(both.direction_loss.size(), 2u);
    // The pass of fewer steps runs first.
    EXPECT_EQ(both.direction_loss[0].first, count <= 5 ? "up" : "down") << count;
    for (const auto& [d, l] : both.direction_loss)
      EXPECT_NEAR(l, (d == "up" ? up : down).step_loss.back(), 1e-9) << count << d;
    EXPECT_EQ(both.evaluations, up.evaluations + down.evaluations);
    const double lu = up.step_loss.back(), ld = down.step_loss.back();
    EXPECT_NEAR(both.step_loss.back(), std::min(lu, ld), 1e-9) << count;
    const AllocationProblem prob(g, scored, o);
    EXPECT_NEAR(ev.evaluate(prob.precision(both.group_bits)).mean_ce(), std::min(lu, ld), 1e-9) << count;
    if (std::abs(lu - ld) > 1e-9) {
      EXPECT_EQ(both.group_bits, lu < ld ? up.group_bits : down.group_bits) << count;
      EXPECT_EQ(both.direction, lu < ld ? "up" : "down") << count;
    }
  }
}

// ------------------------------------------------------------------ CLI

int run_qsim(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  const fs::path log = fs::temp_directory_path() / ("methods_cli_" + std::to_string(::getpid()) + ".out");
  const fs::path elog = fs::temp_directory_path() / ("methods_cli_" + std::to_string(::getpid()) + ".err");
  const int rc = std::system((std::string(QSIM_BINARY) + " " + args + " > " + log.string() + " 2> " + elog.string()).c_str());
  const auto slurp = [](const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  if (out) *out = slurp(log);
  if (err) *err = slurp(elog);
  fs::remove(log);
  fs::remove(elog);
  return WEXITSTATUS(rc);
}

TEST(MethodsCli, DefaultsCostAndBadInput) {
  const fs::path dir = fs::temp_directory_path() / ("methods_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string m = bundled_file("fmnist_vgg.onnx");
  const std::string data = "npy:" + bundled_file("fmnist_test100.npy");
  const std::string labels = " --labels " + bundled_file("fmnist_test100_labels.npy");
  const std::string common = " --model " + m + " --data " + data + " --calib-samples 64 --threads 2 --low 2 --abits 8";
  const std::string a = (dir / "a.json").string(), rep = (dir / "r.json").string();
  std::string out, err;
  // Defaults with labels: measured + greedy-measured; the report names them and the cost.
  ASSERT_EQ(run_qsim("allocate" + common + labels + " --high-count 4 --out " + a + " --json " + rep, &out, &err), 0) << err;
  nlohmann::json j;
  std::ifstream(rep) >> j;
  EXPECT_EQ(j["method"], "measured");
  EXPECT_EQ(j["allocator"], "greedy-measured");
  EXPECT_GT(j["cost"]["runs"].get<int64_t>(), 0);
  EXPECT_GT(j["cost"]["seconds"].get<double>(), 0.0);
  EXPECT_GT(j["cost"]["evaluations"].get<int64_t>(), 0);
  // Both passes of greedy-measured ran; the one kept has the lower final loss.
  ASSERT_TRUE(j["direction_loss"].contains("up") && j["direction_loss"].contains("down")) << j.dump();
  EXPECT_NEAR(j["step_loss"].back().get<double>(),
              std::min(j["direction_loss"]["up"].get<double>(), j["direction_loss"]["down"].get<double>()), 1e-12);
  const PrecisionAlloc alloc = PrecisionAlloc::load(a);
  EXPECT_EQ(alloc.find_section("allocation")->at("method"), "measured");
  EXPECT_TRUE(alloc.find_section("allocation")->at("cost").contains("runs"));
  EXPECT_NE(err.find("executor runs"), std::string::npos) << err;
  // Without labels: output-kl; sensitivity's JSON carries est_drop per group and width.
  const std::string s = (dir / "s.json").string();
  ASSERT_EQ(run_qsim("sensitivity --model " + m + " --data " + data + " --calib-samples 64 --bits 2 --abits 8 --json " + s,
                     &out, &err),
            0)
      << err;
  std::ifstream(s) >> j;
  EXPECT_EQ(j["method"], "output-kl");
  EXPECT_TRUE(j["groups"][0]["widths"][0]["est_drop"].is_number());
  EXPECT_NE(err.find("output-kl on 64 samples"), std::string::npos) << err;
  // A knapsack over that file (the default with --sensitivity).
  ASSERT_EQ(run_qsim("allocate --model " + m + " --sensitivity " + s + " --low 2 --abits 8 --high-count 4 --json " + rep,
                     &out, &err),
            0)
      << err;
  std::ifstream(rep) >> j;
  EXPECT_EQ(j["allocator"], "knapsack");
  EXPECT_TRUE(j.contains("est_drop"));

  // Bad input: one line on stderr, exit 2, nothing on stdout, no file.
  const std::string bad = (dir / "bad.json").string();
  const auto expect_bad = [&](const std::string& args, const std::string& needle) {
    EXPECT_EQ(run_qsim(args, &out, &err), 2) << args;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    EXPECT_TRUE(out.empty()) << out;
    EXPECT_FALSE(fs::exists(bad)) << args;
  };
  expect_bad("sensitivity" + common.substr(0, common.find(" --low")) + " --method mesured --json " + bad,
             "--method 'mesured': unknown method (did you mean measured?)");
  expect_bad("allocate" + common + " --method output_kl --high-count 4 --out " + bad, "did you mean output-kl?");
  expect_bad("allocate" + common + " --method measured --high-count 4 --out " + bad, "needs labelled data");
  expect_bad("sensitivity --model " + m + " --data " + data + " --method measured --json " + bad, "needs labelled data");
  expect_bad("sensitivity --model " + m + " --data " + data + " --method isolated --bits 1 --json " + bad,
             "the isolated method runs widths 2..16");
  expect_bad("allocate --model " + m + " --data " + data + labels + " --low 2 --abits 17 --high-count 4 --out " + bad,
             "--abits 17");
  expect_bad("allocate" + common + " --allocator greedy --high-count 4 --out " + bad, "did you mean greedy-measured?");
  expect_bad("allocate --model " + m + " --sensitivity " + s + " --low 2 --abits 8 --high-count 4 --allocator "
             "greedy-measured --out " + bad,
             "give --data");
  expect_bad("allocate" + common + " --allocator knapsack --order random --high-count 4 --out " + bad,
             "--order random is a baseline of --allocator rank");
  expect_bad("allocate" + common + " --method isolated --allocator greedy-measured --high-count 4 --out " + bad,
             "not isolated");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qsim
