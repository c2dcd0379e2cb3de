// The Markov-chain co-design search (search/, docs/search.md): the knapsack DP against
// brute force, the exact optimum of the estimate against every allocation of a bundled
// model, Metropolis-Hastings' stationary distribution for each proposal, the space
// file's validation, and `qsim search` end to end (outputs, reproducibility at any
// thread count, bad input).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "graph/error.h"
#include "graph/model_import.h"
#include "search/knapsack.h"
#include "search/mcmc.h"
#include "search/optimum.h"
#include "search/search_problem.h"
#include "search/space.h"
#include "sim/analytical/analytical_evaluator.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

std::string src(const std::string& f) { return std::string(QSIM_SOURCE_DIR) + "/" + f; }

// ---------------------------------------------------------------- knapsack

TEST(Knapsack, MatchesBruteForceWithFactorsAndLimits) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int groups = 2 + static_cast<int>(rng() % 5);
    std::vector<std::vector<KnapsackOption>> opts(static_cast<std::size_t>(groups));
    for (auto& g : opts) {
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int o = 0; o < n; ++o)
        g.push_back({static_cast<int64_t>(rng() % 50), static_cast<double>(rng() % 1000) / 10.0, rng() % 9 != 0});
    }
    std::vector<KnapsackFactor> factors;
    const int nf = static_cast<int>(rng() % 4);
    for (int f = 0; f < nf; ++f) {
      const uint32_t a = static_cast<uint32_t>(rng() % static_cast<uint64_t>(groups));
      const uint32_t b = static_cast<uint32_t>(rng() % static_cast<uint64_t>(groups));
      KnapsackFactor k;
      k.scope = a == b ? std::vector<uint32_t>{a} : std::vector<uint32_t>{std::min(a, b), std::max(a, b)};
      const uint64_t salt = rng();
      k.cost = [salt](std::span<const uint8_t> o) {
        uint64_t h = salt;
        for (uint8_t x : o) h = h * 1315423911u + x + 1;
        return KnapsackOption{static_cast<int64_t>(h % 17), static_cast<double>(h % 97) / 7.0, true};
      };
      factors.push_back(std::move(k));
    }
    const std::optional<int64_t> limit =
        trial % 2 ? std::optional<int64_t>(static_cast<int64_t>(rng() % 150)) : std::nullopt;
    // Brute force.
    double best = INFINITY;
    std::vector<uint8_t> choice(static_cast<std::size_t>(groups), 0);
    for (;;) {
      int64_t w = 0;
      double v = 0;
      bool ok = true;
      for (int g = 0; g < groups; ++g) {
        const KnapsackOption& o = opts[static_cast<std::size_t>(g)][choice[static_cast<std::size_t>(g)]];
        ok = ok && o.allowed;
        w += o.weight;
        v += o.value;
      }
      for (const KnapsackFactor& f : factors) {
        std::vector<uint8_t> sub;
        for (uint32_t g : f.scope) sub.push_back(choice[g]);
        const KnapsackOption o = f.cost(sub);
        w += o.weight;
        v += o.value;
      }
      if (ok && (!limit || w <= *limit)) best = std::min(best, v);
      int g = 0;
      while (g < groups && ++choice[static_cast<std::size_t>(g)] == opts[static_cast<std::size_t>(g)].size())
        choice[static_cast<std::size_t>(g++)] = 0;
      if (g == groups) break;
    }
    const KnapsackResult r = multiple_choice_knapsack(opts, factors, limit);
    if (!std::isfinite(best)) {
      EXPECT_TRUE(r.points.empty()) << "trial " << trial;
      continue;
    }
    ASSERT_FALSE(r.points.empty()) << "trial " << trial;
    double found = INFINITY;
    for (const KnapsackPoint& p : r.points)
      if (!limit || p.weight <= *limit) found = std::min(found, p.value);
    EXPECT_NEAR(found, best, 1e-9) << "trial " << trial;
    EXPECT_TRUE(r.exact);
  }
}

// ---------------------------------------------------------------- exact optimum on a model

// Every allocation of the free groups of fmnist_vgg (6 free groups x 4 options = 4096)
// timed by the evaluator: the DP's minimum is the true minimum of est + lambda * cycles / cycles8.
TEST(EstimateOptimum, EqualsExhaustiveSearchOnABundledModel) {
  const LayerGraph g = import_model(src("models/fmnist_vgg.onnx"));
  for (const char* cfg : {"configs/eyeriss.yaml", "configs/edge-lowmem.yaml"}) {
    const HwSpec hw = load_hw_spec(src(cfg));
    const SearchProblem p(g, hw, {});
    ASSERT_EQ(p.free_groups().size(), 6u);
    std::vector<std::vector<double>> est(p.groups());
    std::mt19937_64 rng(3);
    for (std::size_t gi = 0; gi < p.groups(); ++gi)
      for (std::size_t o = 0; o < p.options(gi).size(); ++o)
        est[gi].push_back(o + 1 == p.options(gi).size() ? 0.0 : static_cast<double>(rng() % 400) / 100.0);
    AnalyticalEvaluator ev;
    ev.prepare(g, hw);
    const int64_t c8 = ev.evaluate(p.uniform(8)).totals.total_cycles;
    const double lambda = 4.0;
    for (const std::optional<int64_t> limit : {std::optional<int64_t>(), std::optional<int64_t>(c8 * 45 / 100)}) {
      const EstimateOptimum opt = estimate_optimum(p, hw, ev, est, lambda, c8, limit);
      double best = INFINITY;
      std::vector<uint8_t> s = p.reference();
      const auto& fr = p.free_groups();
      std::vector<std::size_t> ctr(fr.size(), 0);
      for (;;) {
        for (std::size_t i = 0; i < fr.size(); ++i) s[fr[i]] = static_cast<uint8_t>(ctr[i]);
        const Evaluation e = ev.evaluate(p.precision(s));
        if (e.ok() && (!limit || e.totals.total_cycles <= *limit)) {
          double f = lambda * static_cast<double>(e.totals.total_cycles) / static_cast<double>(c8);
          for (std::size_t gi = 0; gi < p.groups(); ++gi) f += est[gi][s[gi]];
          best = std::min(best, f);
        }
        std::size_t i = 0;
        while (i < fr.size() && ++ctr[i] == p.options(fr[i]).size()) ctr[i++] = 0;
        if (i == fr.size()) break;
      }
      ASSERT_FALSE(opt.option.empty()) << cfg;
      EXPECT_TRUE(opt.exact);
      EXPECT_NEAR(opt.value, best, 1e-9) << cfg << (limit ? " with a cycle limit" : "");
    }
  }
}

// ---------------------------------------------------------------- Metropolis-Hastings

// The chain at a fixed temperature samples pi(s) ~ exp(-f(s)/T): checked on a small
// space (3 groups of 3 options and a 4-value ordered axis, 108 states) for each proposal.
void check_stationary(ProposalKind kind) {
  SpaceShape shape;
  shape.free_groups = {0, 1, 2};
  shape.options = {3, 3, 3};
  shape.axis_size = {4};
  shape.axis_ordered = {1};
  shape.hw_move_prob = 0.3;
  const double t = 1.0;
  const auto f = [](const SearchState& s) {
    return 0.7 * s.option[0] + 0.4 * (s.option[1] == 1) - 0.5 * s.option[2] * s.option[0] / 2.0 + 0.35 * s.hw[0] +
           0.2 * (s.hw[0] == 2 && s.option[1] == 0);
  };
  // Scores for the independence table: anything (the ratio corrects for it).
  std::vector<std::vector<double>> scores = {{0.0, 0.5, -0.3}, {0.2, 0.0, 0.1}, {-0.4, 0.3, 0.0}};
  IndependenceTable table;
  table.build(scores, 1.0);
  MetropolisHastings mh(shape, kind, TemperatureSchedule{t, t, 1, 1});
  Rng rng(11);
  SearchState s{{0, 0, 0}, {0}};
  mh.start(f(s));
  std::map<SearchState, double> count;
  const int64_t n = 600'000;
  for (int64_t k = 0; k < n; ++k) {
    const Move& m = mh.next(s, &table, rng);
    SearchState x = s;
    apply_move(x, m);
    if (mh.report(true, f(x), rng)) s = x;
    count[s] += 1;
  }
  double z = 0;
  std::map<SearchState, double> pi;
  for (uint8_t a = 0; a < 3; ++a)
    for (uint8_t b = 0; b < 3; ++b)
      for (uint8_t c = 0; c < 3; ++c)
        for (uint16_t h = 0; h < 4; ++h) {
          const SearchState x{{a, b, c}, {h}};
          pi[x] = std::exp(-f(x) / t);
          z += pi[x];
        }
  double tv = 0;
  for (auto& [x, p] : pi) tv += std::abs(p / z - count[x] / static_cast<double>(n));
  EXPECT_LT(tv / 2, 0.02) << proposal_name(kind);
}

TEST(MetropolisHastings, WalkSamplesTheTarget) { check_stationary(ProposalKind::kWalk); }
TEST(MetropolisHastings, AmedIndependenceSamplesTheTarget) { check_stationary(ProposalKind::kAmed); }

// The schedule is geometric from t_start to t_end, by stages; with second_anneal it runs
// over the first part, then again from t_start over the rest.
TEST(TemperatureSchedule, AnnealsOnceOrTwice) {
  const TemperatureSchedule once{1.0, 0.01, 1000, 10};
  EXPECT_DOUBLE_EQ(once.at(0), 1.0);
  EXPECT_DOUBLE_EQ(once.at(9), 1.0);  // one stage
  EXPECT_NEAR(once.at(500), 0.1, 1e-12);
  EXPECT_NEAR(once.at(1000), 0.01, 1e-12);
  const TemperatureSchedule twice{1.0, 0.01, 1000, 10, 400};
  EXPECT_DOUBLE_EQ(twice.at(0), 1.0);
  EXPECT_NEAR(twice.at(200), 0.1, 1e-12);
  EXPECT_NEAR(twice.at(399), std::pow(0.01, 390.0 / 400.0), 1e-12);  // stage 390 of the first 400 steps
  EXPECT_DOUBLE_EQ(twice.at(400), 1.0);
  EXPECT_NEAR(twice.at(700), 0.1, 1e-12);
  EXPECT_NEAR(twice.at(1000), 0.01, 1e-12);
  const TemperatureSchedule not_inside{1.0, 0.01, 1000, 10, 1000};  // no second part: one anneal
  EXPECT_NEAR(not_inside.at(500), 0.1, 1e-12);
}

TEST(Rng, StreamsAreReproducible) {
  Rng a = Rng::stream(5, 2), b = Rng::stream(5, 2), c = Rng::stream(5, 3);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(Rng::stream(5, 2).next(), c.next());
}

// ---------------------------------------------------------------- space file

TEST(SearchSpace, ReadsAxesAndBudgetsAndRefusesDefects) {
  const SearchSpaceSpec s = SearchSpaceSpec::from_yaml_text(
      "space:\n  array.rows: [16, 8, 12]\n  memory.ifmap_kib: {min: 8, max: 64, factor: 2}\n  array.dataflow: [os, ws]\n"
      "budgets:\n  total_sram_kib: 200\n",
      "s.yaml");
  ASSERT_EQ(s.axes.size(), 3u);
  EXPECT_EQ(s.axes[0].texts, (std::vector<std::string>{"8", "12", "16"}));
  EXPECT_EQ(s.axes[1].values.size(), 4u);
  EXPECT_FALSE(s.axes[2].ordered);
  EXPECT_EQ(s.points(), 24u);
  const auto bad = [](const std::string& text, const std::string& what) {
    try {
      (void)SearchSpaceSpec::from_yaml_text(text, "s.yaml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("s.yaml:"), std::string::npos) << e.what();
    }
  };
  bad("space:\n  array.rowz: [8]\n", "array.rowz");
  bad("space:\n  array.rows: {min: 16, max: 8, step: 4}\n", "empty range");
  bad("space:\n  array.rows: []\n", "empty range");
  bad("space:\n  pe.widths: [2]\n", "cannot be searched");
  bad("space:\n  array.rows: [8]\nbudgets:\n  total_sram: 10\n", "unknown budget");
  const HwConfig base = read_hw_config(src("configs/eyeriss.yaml"));
  const SearchSpaceSpec tight =
      SearchSpaceSpec::from_yaml_text("space:\n  array.rows: [8, 12]\nbudgets:\n  pes: 10\n", "t.yaml");
  EXPECT_THROW(check_space(base, tight), Error);
}

// ---------------------------------------------------------------- the CLI

int run(const std::string& args, std::string* out = nullptr) {
  const fs::path log = fs::temp_directory_path() / ("qsim_search_test_" + std::to_string(::getpid()) + ".log");
  const int rc = std::system((std::string(QSIM_BINARY) + " " + args + " > " + log.string() + " 2>&1").c_str());
  if (out) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
  }
  fs::remove(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SearchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qsim_search_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string base_args() const {
    return "search --hw " + src("configs/eyeriss.yaml") + " --model " + src("models/fmnist_vgg.onnx") +
           " --data npy:" + src("models/fmnist_test100.npy") + " --labels " + src("models/fmnist_test100_labels.npy") +
           " --calib-samples 32 --check-samples 32 --steps 600 --check-every 200 --chains 3 --seed 9";
  }
  fs::path dir_;
};

TEST_F(SearchCli, WritesOutputsReproduciblyAtAnyThreadCount) {
  std::string out;
  ASSERT_EQ(run(base_args() + " --threads 1 --out " + (dir_ / "a").string(), &out), 0) << out;
  ASSERT_EQ(run(base_args() + " --threads 2 --out " + (dir_ / "b").string(), &out), 0) << out;
  for (const char* f : {"alloc.json", "front.csv", "summary.json"}) EXPECT_TRUE(fs::exists(dir_ / "a" / f)) << f;
  EXPECT_FALSE(fs::exists(dir_ / "a" / "hw.yaml"));  // no space: the hardware did not move
  const auto a = nlohmann::json::parse(read(dir_ / "a" / "summary.json"));
  const auto b = nlohmann::json::parse(read(dir_ / "b" / "summary.json"));
  for (const auto* j : {&a, &b})
    for (const char* k : {"name", "latency_ms", "energy_uj", "est_top1", "true_top1", "evaluations", "optimum_gap"})
      EXPECT_TRUE(j->at("best").contains(k)) << k;
  EXPECT_EQ(a["best"], b["best"]);
  EXPECT_EQ(a["baselines"], b["baselines"]);
  EXPECT_EQ(a["evaluations"], b["evaluations"]);  // the passes too: summed in one order at any thread count
  // The check and test evaluators' work: the float32 reference, the reference allocation from
  // the input, then at most one pass per further allocation.
  const auto& ea = a["evaluations"];
  EXPECT_GT(ea["check_passes"].get<double>(), 2.0);
  EXPECT_LE(ea["check_passes"].get<double>(), ea["check_evaluations"].get<double>() + 1.0);
  EXPECT_GT(ea["test_passes"].get<double>(), 2.0);
  EXPECT_LE(ea["test_passes"].get<double>(), ea["test_evaluations"].get<double>() + 1.0);
  EXPECT_EQ(read(dir_ / "a" / "alloc.json"), read(dir_ / "b" / "alloc.json"));
  EXPECT_EQ(read(dir_ / "a" / "front.csv"), read(dir_ / "b" / "front.csv"));
  std::vector<std::string> names;
  for (const auto& x : a["baselines"]) names.push_back(x["name"]);
  for (const char* n : {"optimum", "uniform_w8a8", "uniform_w4a4", "uniform_w2a2", "random"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  // The chain's gap to the exact optimum of its own estimate is never negative.
  EXPECT_GE(a["best"]["optimum_gap"].get<double>(), -1e-9);
  // chain_best is the best state the chains stood on, by the final estimate: no chain
  // ends on a better one, even one it reached while another state dominated it under an
  // earlier estimate (the archives are rebuilt from those states at each correction).
  ASSERT_EQ(a["chains"].size(), 3u);
  for (const auto& ch : a["chains"])
    EXPECT_LE(a["chain_best"]["objective"].get<double>(), ch["final_objective"].get<double>() + 1e-9);
  // The result is the best allocation measured on the check samples in the run: no
  // baseline in the search space (one with an estimate) measured a lower objective,
  // lambda * cycles / all-8 cycles - check top-1 (no constraints here). When a
  // baseline's allocation won, the chains' own choice is reported beside it.
  const double lambda = a["objective"]["lambda"].get<double>();
  const auto measured = [&](const nlohmann::json& x) {
    return lambda / x["speedup_vs_w8"].get<double>() - x["check_top1"].get<double>();
  };
  for (const auto& x : a["baselines"]) {
    if (x["est_top1"].is_number() && x["check_top1"].is_number() && x["feasible"].get<bool>()) {
      EXPECT_LE(measured(a["best"]), measured(x) + 1e-9) << x["name"];
    }
  }
  ASSERT_TRUE(a["best"].contains("source"));
  EXPECT_EQ(a["best"]["source"] != "chain", std::find(names.begin(), names.end(), "chain_choice") != names.end());
  EXPECT_TRUE(read(dir_ / "a" / "front.csv").starts_with("front,latency_ms,energy_uj,est_top1,check_top1,true_top1"));
  // alloc.json is read by the timing model.
  EXPECT_EQ(run("--hw " + src("configs/eyeriss.yaml") + " --model " + src("models/fmnist_vgg.onnx") + " --precision " +
                    (dir_ / "a" / "alloc.json").string(),
                &out),
            0)
      << out;
}

TEST_F(SearchCli, CoDesignWritesTheChosenHardware) {
  const fs::path space = dir_ / "space.yaml";
  std::ofstream(space) << "space:\n  array.rows: [8, 12, 16]\n  array.cols: [8, 14, 16]\n"
                          "  memory.ifmap_kib: [8, 16, 32]\nbudgets:\n  total_sram_kib: 120\n  pes: 200\n";
  std::string out;
  ASSERT_EQ(run(base_args() + " --space " + space.string() + " --threads 2 --out " + (dir_ / "c").string(), &out), 0)
      << out;
  const auto j = nlohmann::json::parse(read(dir_ / "c" / "summary.json"));
  EXPECT_TRUE(j["best"].contains("hw"));
  bool grid = false;
  for (const auto& x : j["baselines"]) grid = grid || x["name"] == "grid";
  EXPECT_TRUE(grid);
  EXPECT_EQ(fs::exists(dir_ / "c" / "hw.yaml"), j["hw_moved"].get<bool>());
  // Evaluations (docs/search.md section 5): the chains' total is its parts; a revisit
  // and a point over the budgets cost none, so the states evaluated are fewer than the
  // proposals; the run reached its own best within its evaluations, and the grid's
  // count is its parts too.
  const auto& ev = j["evaluations"];
  const int64_t steps = ev["chain_steps"].get<int64_t>();
  EXPECT_EQ(ev["total"].get<int64_t>(), ev["states"].get<int64_t>() + ev["references"].get<int64_t>() +
                                            ev["group_timings"].get<int64_t>());
  EXPECT_EQ(ev["group_timings"].get<int64_t>(), 0);  // walk: no per-point option table
  EXPECT_GT(ev["revisits"].get<int64_t>(), 0);
  EXPECT_GT(ev["over_budget"].get<int64_t>(), 0);   // 16 x 14 and 16 x 16 exceed 200 PEs
  EXPECT_LE(ev["states"].get<int64_t>() + ev["revisits"].get<int64_t>() + ev["over_budget"].get<int64_t>(),
            steps + 3);
  // The result's evaluations are the chains', plus the baseline's when its allocation won.
  int64_t won = 0;
  for (const auto& x : j["baselines"])
    if (x["name"] == j["best"]["source"]) won = x["evaluations"].get<int64_t>();
  EXPECT_EQ(j["best"]["source"] == "chain", won == 0);
  EXPECT_EQ(j["best"]["evaluations"].get<int64_t>(), ev["total"].get<int64_t>() + won);
  const auto& to_best = ev["to_best"];
  ASSERT_GE(to_best["evaluations"].get<int64_t>(), 1);
  EXPECT_LE(to_best["evaluations"].get<int64_t>(), ev["total"].get<int64_t>());
  EXPECT_EQ(to_best["chain_steps"].size(), 3u);
  ASSERT_TRUE(ev.contains("to_grid"));
  const auto& parts = ev["grid_parts"];
  EXPECT_EQ(ev["grid"].get<int64_t>(), parts["references"].get<int64_t>() + parts["compute_timings"].get<int64_t>() +
                                           parts["factor_timings"].get<int64_t>());
  EXPECT_LT(parts["references"].get<int64_t>(), 27);  // the points over the budgets cost nothing
  // The same counts, reach and result on one thread (the memo and the reach are per chain).
  ASSERT_EQ(run(base_args() + " --space " + space.string() + " --threads 1 --out " + (dir_ / "d").string(), &out), 0)
      << out;
  const auto k = nlohmann::json::parse(read(dir_ / "d" / "summary.json"));
  EXPECT_EQ(k["evaluations"], j["evaluations"]);
  EXPECT_EQ(k["best"], j["best"]);
  EXPECT_EQ(k["baselines"], j["baselines"]);
  for (const auto& x : j["baselines"])
    if (x["name"] == "grid") {
      EXPECT_EQ(x["evaluations"], ev["grid"]);
      // The chains' best is at least as good as the grid's whenever they reached it.
      if (ev["to_grid"]["step"].get<int64_t>() >= 0) {
        EXPECT_LE(j["chain_best"]["objective"].get<double>(), x["objective"].get<double>() + 1e-9);
      }
    }
  if (fs::exists(dir_ / "c" / "hw.yaml")) {
    EXPECT_EQ(run("--hw " + (dir_ / "c" / "hw.yaml").string() + " --model " + src("models/fmnist_vgg.onnx") +
                      " --precision " + (dir_ / "c" / "alloc.json").string(),
                  &out),
              0)
        << out;
  }
}

TEST_F(SearchCli, BadInputIsOneLineExit2AndNoFiles) {
  const auto refuse = [&](const std::string& extra, const std::string& what) {
    std::string out;
    const fs::path o = dir_ / "bad";
    EXPECT_EQ(run(base_args() + " " + extra + " --out " + o.string(), &out), 2) << extra << "\n" << out;
    EXPECT_NE(out.find(what), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_FALSE(fs::exists(o)) << extra;
  };
  std::ofstream(dir_ / "s1.yaml") << "space:\n  array.rowz: [8, 16]\n";
  std::ofstream(dir_ / "s2.yaml") << "space:\n  array.rows: {min: 16, max: 8, step: 2}\n";
  std::ofstream(dir_ / "s3.yaml") << "space:\n  array.rows: [8, 16]\nbudgets:\n  pes: 4\n";
  refuse("--space " + (dir_ / "s1.yaml").string(), "array.rowz");
  refuse("--space " + (dir_ / "s2.yaml").string(), "empty range");
  refuse("--space " + (dir_ / "s3.yaml").string(), "budgets");
  refuse("--proposal gibbs", "--proposal");
  refuse("--chains 0", "--chains");
  refuse("--lambda -1.5", "--lambda");
  // A latency target no allocation meets: the refusal gives the narrowest allocation's latency.
  refuse("--latency-target 0.0001", "every free group at its narrowest width takes");
}

}  // namespace
}  // namespace qsim
