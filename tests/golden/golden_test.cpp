// Golden numbers: totals and a few per-layer rows of torchvision's resnet18,
// resnet50 and mobilenet_v2 on every shipped config (configs/*.yaml), pinned in
// committed files tests/golden/<model>.<config>.json so any change of a number
// is a visible diff to review.
//
// Regenerate after an intended model change (then review `git diff tests/golden`):
//   QSIM_UPDATE_GOLDEN=1 build/tests/golden_tests
// The models come from scripts/export_torchvision.sh (.cache/models/, not
// committed); a test whose model is absent is skipped with a message.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/report.h"
#include "graph/model_import.h"
#include "graph/precision_alloc.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(QSIM_SOURCE_DIR) / "tests/golden";
const fs::path kConfigDir = fs::path(QSIM_SOURCE_DIR) / "configs";
const fs::path kModelDir = fs::path(QSIM_MODEL_CACHE);
constexpr const char* kModels[] = {"resnet18", "resnet50", "mobilenet_v2"};

struct Case {
  std::string model;
  std::string config;  // file stem of configs/<config>.yaml
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " on " << c.config; }

std::vector<Case> cases() {
  std::vector<std::string> configs;
  if (fs::exists(kConfigDir))
    for (const auto& e : fs::directory_iterator(kConfigDir))
      if (e.path().extension() == ".yaml") configs.push_back(e.path().stem().string());
  std::sort(configs.begin(), configs.end());
  std::vector<Case> v;
  for (const char* m : kModels)
    for (const auto& c : configs) v.push_back({m, c});
  return v;
}

bool update_mode() {
  const char* e = std::getenv("QSIM_UPDATE_GOLDEN");
  return e != nullptr && std::string(e) == "1";
}

// Each model is imported once for all configs (resnet50 is 100 MB).
const LayerGraph& model(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<LayerGraph>> cache;
  std::lock_guard lock(mu);
  auto& g = cache[name];
  if (!g) {
    OnnxImportOptions io;
    io.keep_weights = false;
    g = std::make_unique<LayerGraph>(import_model((kModelDir / (name + ".onnx")).string(), io));
  }
  return *g;
}

nlohmann::json totals(const TimingReport& r) {
  return {{"total_cycles", r.total_cycles()}, {"compute_cycles", r.compute_cycles()},
          {"stall_cycles", r.stall_cycles()}, {"vector_cycles", r.vector_cycles()},
          {"sram_bytes", r.sram_bytes()},     {"dram_bytes", r.dram_bytes()},
          {"energy_pj", r.energy_pj()},       {"latency_ms", r.latency_ms()},
          {"layers", r.layers.size()}};
}

// The first, a third, two thirds and the last row, with the columns users read.
nlohmann::json sample_rows(const TimingReport& r) {
  const nlohmann::json all = app::to_json(r)["layers"];
  const std::size_t n = all.size();
  std::vector<std::size_t> picks = {0, n / 3, 2 * n / 3, n - 1};
  picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
  auto rows = nlohmann::json::array();
  for (std::size_t i : picks) {
    const auto& l = all[i];
    nlohmann::json o;
    o["index"] = i;
    for (const char* k : {"name", "op", "M", "N", "K", "repeats", "wbits", "abits", "folds", "compute_cycles",
                          "stall_cycles", "vector_cycles", "total_cycles", "sram_bytes", "dram_bytes", "energy_pj",
                          "bound"})
      o[k] = l[k];
    rows.push_back(std::move(o));
  }
  return rows;
}

nlohmann::json evaluate(const Case& c) {
  const LayerGraph& g = model(c.model);
  const HwSpec hw = load_hw_spec((kConfigDir / (c.config + ".yaml")).string());
  const AnalyticalBackend backend;
  nlohmann::json j;
  j["model"] = c.model;
  j["config"] = c.config;
  j["regenerate"] = "QSIM_UPDATE_GOLDEN=1 build/tests/golden_tests";
  auto runs = nlohmann::json::object();
  for (int bits : {8, 4}) {
    if (effective_width(hw.pe, bits) != bits) continue;  // only widths the PE runs natively
    const TimingReport r = backend.run(g, PrecisionAlloc::uniform(g, bits, bits), hw);
    runs[fmt::format("w{}a{}", bits, bits)] = {{"totals", totals(r)}, {"rows", sample_rows(r)}};
  }
  j["runs"] = std::move(runs);
  return j;
}

// Integers and strings exactly; floating-point values to 1e-9 relative.
void expect_same(const nlohmann::json& want, const nlohmann::json& got, const std::string& path) {
  if (want.is_number_float() || got.is_number_float()) {
    ASSERT_TRUE(want.is_number() && got.is_number()) << path;
    const double a = want.get<double>(), b = got.get<double>();
    EXPECT_LE(std::abs(a - b), 1e-9 * std::max({1.0, std::abs(a), std::abs(b)})) << path << ": " << a << " vs " << b;
    return;
  }
  if (want.is_object()) {
    ASSERT_TRUE(got.is_object()) << path;
    for (const auto& [k, v] : want.items()) {
      ASSERT_TRUE(got.contains(k)) << path << "." << k << " missing";
      expect_same(v, got[k], path + "." + k);
    }
    for (const auto& [k, v] : got.items()) EXPECT_TRUE(want.contains(k)) << path << "." << k << " not in golden file";
    return;
  }
  if (want.is_array()) {
    ASSERT_TRUE(got.is_array()) << path;
    ASSERT_EQ(want.size(), got.size()) << path;
    for (std::size_t i = 0; i < want.size(); ++i) expect_same(want[i], got[i], path + "[" + std::to_string(i) + "]");
    return;
  }
  EXPECT_EQ(want, got) << path;
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, MatchesPinnedNumbers) {
  const Case& c = GetParam();
  const fs::path onnx = kModelDir / (c.model + ".onnx");
  if (!fs::exists(onnx)) GTEST_SKIP() << onnx << " is absent: run scripts/export_torchvision.sh";
  const fs::path file = kGoldenDir / (c.model + "." + c.config + ".json");
  const nlohmann::json got = evaluate(c);
  if (update_mode()) {
    std::ofstream(file) << got.dump(2) << "\n";
    GTEST_SKIP() << "wrote " << file;
  }
  ASSERT_TRUE(fs::exists(file)) << file << " is missing: regenerate with QSIM_UPDATE_GOLDEN=1 build/tests/golden_tests";
  std::ifstream in(file);
  const nlohmann::json want = nlohmann::json::parse(in);
  expect_same(want, got, c.model + "." + c.config);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Golden, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n = i.param.model + "_" + i.param.config;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Golden);

// Every golden file belongs to a current (model, config) pair: a renamed or
// removed config must not leave stale pins behind.
TEST(GoldenFiles, NoStaleFiles) {
  std::vector<std::string> expected;
  for (const Case& c : cases()) expected.push_back(c.model + "." + c.config + ".json");
  for (const auto& e : fs::directory_iterator(kGoldenDir)) {
    if (e.path().extension() != ".json") continue;
    EXPECT_NE(std::find(expected.begin(), expected.end(), e.path().filename().string()), expected.end())
        << e.path() << " has no matching model and config";
  }
}

}  // namespace
}  // namespace qsim
