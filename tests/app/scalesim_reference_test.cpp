// qsim against SCALE-Sim v2 itself: for every CALC-mode reference run (no DRAM
// stalls), `qsim --topology T --scalesim-cfg C --scalesim-out DIR` must write a
// COMPUTE_REPORT.csv whose Total Cycles equal SCALE-Sim's on every layer. The
// runs are the recorded outputs of the unmodified SCALE-Sim v2 code
// (tests/data/scalesim/README.md): an outside reference, not our past output. The
// runs are part of the checkout: when they are missing the tests fail, never skip.
#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

struct ReferenceRun {
  std::string name;      // test name
  fs::path dir;          // the run's folder (holds COMPUTE_REPORT.csv)
  fs::path topology;
  fs::path config;
};

std::string trim_file(const fs::path& p) {
  std::string s = slurp(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The CALC-mode runs in the folder: runs/<name>/ with files `topology`, `config`,
// `mode`; and the per-cycle trace runs traces/out_{conv,gemm}/arr4x4_<df>_CALC/ of
// the tiny cases.
std::vector<ReferenceRun> calc_runs() {
  std::vector<ReferenceRun> runs;
  const fs::path ref = reference_dir();
  if (!fs::exists(ref / "runs")) return runs;
  for (const auto& e : fs::directory_iterator(ref / "runs")) {
    const fs::path d = e.path();
    if (!fs::exists(d / "mode") || trim_file(d / "mode") != "CALC") continue;
    runs.push_back({d.filename().string(), d, ref / "topologies" / trim_file(d / "topology"),
                    ref / "configs" / trim_file(d / "config")});
  }
  for (const auto& [sub, topo] : {std::pair{"out_conv", "tiny_conv.csv"}, std::pair{"out_gemm", "tiny_gemm_mnk.csv"}}) {
    if (!fs::exists(ref / "traces" / sub)) continue;
    for (const auto& e : fs::directory_iterator(ref / "traces" / sub)) {
      const std::string cfg = e.path().filename().string();
      if (!cfg.ends_with("_CALC") || !fs::exists(e.path() / "COMPUTE_REPORT.csv")) continue;
      runs.push_back({std::string(sub) + "_" + cfg, e.path(), ref / "topologies" / topo, ref / "configs" / (cfg + ".cfg")});
    }
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return runs;
}

// The CALC-mode runs tests/data/scalesim/README.md describes: 9 network runs and the 6
// tiny trace runs. Listed here rather than taken from the folder, so a run that goes
// missing fails its own test instead of dropping out of the list (FolderIsPresent
// checks that the folder holds exactly these).
const std::vector<std::string>& listed_runs() {
  static const std::vector<std::string> names = {
      "out_conv_arr4x4_is_CALC", "out_conv_arr4x4_os_CALC", "out_conv_arr4x4_ws_CALC", "out_gemm_arr4x4_is_CALC",
      "out_gemm_arr4x4_os_CALC", "out_gemm_arr4x4_ws_CALC", "resnet18_eyeriss_os",     "resnet18_eyeriss_ws",
      "resnet18_google_is",      "resnet18_google_os",      "resnet18_google_ws",      "resnet50_google_os",
      "resnet50_google_ws",      "resnet50sub_eyeriss_os",  "resnet50sub_eyeriss_ws"};
  return names;
}

class ScaleSimCalcRun : public ::testing::TestWithParam<std::string> {};

TEST_P(ScaleSimCalcRun, TotalCyclesEqualOnEveryLayer) {
  const std::string& name = GetParam();
  const std::vector<ReferenceRun> runs = calc_runs();
  const auto found = std::find_if(runs.begin(), runs.end(), [&](const ReferenceRun& r) { return r.name == name; });
  ASSERT_NE(found, runs.end()) << "reference run " << name << " is missing from " << reference_dir();
  const ReferenceRun& run = *found;
  SCOPED_TRACE(run.topology.string() + " on " + run.config.string());
  TempDir tmp;
  const fs::path out = tmp / "scalesim";
  const RunResult r = run_qsim({"--topology", run.topology.string(), "--scalesim-cfg", run.config.string(),
                                "--scalesim-out", out.string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto ours = read_rows(out / "COMPUTE_REPORT.csv");
  const auto theirs = read_rows(run.dir / "COMPUTE_REPORT.csv");
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(ours.front(), theirs.front());  // the header
  ASSERT_EQ(ours.size(), theirs.size()) << "layer count";
  for (std::size_t i = 1; i < theirs.size(); ++i) {
    SCOPED_TRACE("layer " + theirs[i][0]);
    ASSERT_GE(ours[i].size(), 3u);
    EXPECT_EQ(ours[i][0], theirs[i][0]);              // LayerID
    EXPECT_EQ(ours[i][1], theirs[i][1]);              // Total Cycles
    EXPECT_EQ(ours[i][2], "0");                       // no stalls in CALC mode
    EXPECT_EQ(theirs[i][2], "0");
    // Mapping Efficiency % and Compute Util % are defined identically: equal up to
    // summation order. Overall Util % divides by SCALE-Sim's last-cycle index, ours
    // by the cycle count, so it is larger by count / (count - 1).
    ASSERT_GE(ours[i].size(), 6u);
    const auto near = [](double x, double y) { return std::abs(x - y) <= 1e-9 * std::max(1.0, std::abs(y)); };
    const double count = std::stod(theirs[i][1]) + 1;
    EXPECT_TRUE(near(std::stod(ours[i][3]), std::stod(theirs[i][3]) * (count - 1) / count))
        << ours[i][3] << " vs " << theirs[i][3];
    EXPECT_TRUE(near(std::stod(ours[i][4]), std::stod(theirs[i][4]))) << ours[i][4] << " vs " << theirs[i][4];
    EXPECT_TRUE(near(std::stod(ours[i][5]), std::stod(theirs[i][5]))) << ours[i][5] << " vs " << theirs[i][5];
  }
  // The bandwidth report has SCALE-Sim's header and one row per layer too.
  const auto bw_ours = read_rows(out / "BANDWIDTH_REPORT.csv");
  const auto bw_theirs = read_rows(run.dir / "BANDWIDTH_REPORT.csv");
  EXPECT_EQ(bw_ours.front(), bw_theirs.front());
  EXPECT_EQ(bw_ours.size(), bw_theirs.size());
}

INSTANTIATE_TEST_SUITE_P(Reference, ScaleSimCalcRun, ::testing::ValuesIn(listed_runs()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(ScaleSimReference, FolderIsPresent) {
  ASSERT_TRUE(fs::is_directory(reference_dir())) << reference_dir() << " is missing (tests/data/scalesim)";
  std::vector<std::string> found;
  for (const ReferenceRun& r : calc_runs()) found.push_back(r.name);
  EXPECT_EQ(found, listed_runs());  // both sorted by name
}

}  // namespace
}  // namespace qsim::test
