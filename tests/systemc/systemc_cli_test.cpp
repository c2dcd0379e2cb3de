// qsim --backend systemc through the real binary: the same table and the same
// --csv/--json/--scalesim-out files as the analytical backend (on a configuration
// where both agree to the cycle), --layers, --vcd, --trace, --verify, and exit 2 with
// one line and no output file on bad input.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kSrc = QSIM_SOURCE_DIR;
const std::string kModel = kSrc + "/models/fmnist_resnet.onnx";
const std::string kEyeriss = kSrc + "/configs/eyeriss.yaml";
const std::string kData = "npy:" + kSrc + "/models/fmnist_test100.npy";  // 100 Fashion-MNIST test images

std::vector<std::string> args(std::vector<std::string> extra) {
  std::vector<std::string> a{"--hw", kEyeriss, "--model", kModel};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// eyeriss.yaml has no DRAM latency: the double-buffered fold walk takes the analytical
// model's cycles on this model, so every export is the same file.
TEST(SystemcCli, SameTableAndFilesAsTheAnalyticalBackend) {
  TempDir tmp;
  auto outs = [&](const std::string& tag) {
    return std::vector<std::string>{"--csv", (tmp / (tag + ".csv")).string(), "--json", (tmp / (tag + ".json")).string(),
                                    "--scalesim-out", (tmp / (tag + "_ss")).string()};
  };
  std::vector<std::string> a = args(outs("a")), s = args(outs("s"));
  s.insert(s.end(), {"--backend", "systemc"});
  const RunResult ra = run_qsim(a, tmp), rs = run_qsim(s, tmp);
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rs.exit_code, 0) << rs.err;
  std::string table = ra.out;
  table.replace(table.find("analytical backend"), 18, "systemc backend");
  EXPECT_EQ(rs.out, table);
  EXPECT_EQ(slurp(tmp / "s.csv"), slurp(tmp / "a.csv"));
  nlohmann::json ja = nlohmann::json::parse(slurp(tmp / "a.json")), js = nlohmann::json::parse(slurp(tmp / "s.json"));
  EXPECT_EQ(js["backend"], "systemc");
  js["backend"] = ja["backend"];
  // The provenance records each run's own command line; the rest of it is the same.
  EXPECT_NE(js["provenance"]["command_line"], ja["provenance"]["command_line"]);
  js["provenance"].erase("command_line");
  ja["provenance"].erase("command_line");
  EXPECT_EQ(js, ja);
  for (const char* f : {"COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv"})
    EXPECT_EQ(slurp(tmp / "s_ss" / f), slurp(tmp / "a_ss" / f)) << f;
}

TEST(SystemcCli, LayersRestrictTheRowsAndTheTotalsSaySo) {
  TempDir tmp;
  const std::string a = "/stem/stem.0/Conv", b = "/fc/Gemm";
  const RunResult r = run_qsim(args({"--backend", "systemc", "--layers", a + "," + b, "--json",
                                     (tmp / "r.json").string()}),
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(slurp(tmp / "r.json"));
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["name"], a);
  EXPECT_EQ(j["layers"][1]["name"], b);
  EXPECT_EQ(j["rows_omitted"], 12);
  EXPECT_EQ(j["total_cycles"].get<int64_t>(),
            j["layers"][0]["total_cycles"].get<int64_t>() + j["layers"][1]["total_cycles"].get<int64_t>());
  EXPECT_NE(r.out.find("12 rows of the network not run (--layers)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("/pool/MaxPool"), std::string::npos);
  // The analytical backend restricts the same way.
  const RunResult ra = run_qsim(args({"--layers", b}), tmp);
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  EXPECT_NE(ra.out.find("13 rows of the network not run"), std::string::npos) << ra.out;
}

TEST(SystemcCli, VcdOfOneLayerAndTraces) {
  TempDir tmp;
  const RunResult r = run_qsim(args({"--backend", "systemc", "--layers", "/fc/Gemm", "--vcd",
                                     (tmp / "fc.vcd").string(), "--trace", (tmp / "tr").string()}),
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string vcd = slurp(tmp / "fc.vcd");
  EXPECT_NE(vcd.find("$enddefinitions"), std::string::npos);
  EXPECT_NE(vcd.find("ifmap_lane0"), std::string::npos);
  EXPECT_NE(vcd.find("#237"), std::string::npos) << "the waveform covers the layer's 237 cycles";
  // The trace folder: layer11 (the 12th compute layer), SCALE-Sim's six files.
  for (const char* f : {"IFMAP_SRAM_TRACE.csv", "FILTER_SRAM_TRACE.csv", "OFMAP_SRAM_TRACE.csv", "IFMAP_DRAM_TRACE.csv",
                        "FILTER_DRAM_TRACE.csv", "OFMAP_DRAM_TRACE.csv"})
    EXPECT_TRUE(fs::exists(tmp / "tr" / "layer11" / f)) << f;
  EXPECT_EQ(slurp(tmp / "tr" / "layers.csv"), "layer,name\nlayer11,/fc/Gemm\n");
  // Nothing else: no temporary waveform left beside the target.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename().string()[0] != '.') files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"fc.vcd", "tr"}));
}

TEST(SystemcCli, VerifyOnTheIntegerExecutorsOperands) {
  TempDir tmp;
  const RunResult r = run_qsim(args({"--backend", "systemc", "--verify", "--data", kData, "--bits", "4"}), tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("verify: 12 layers"), std::string::npos) << r.err;
  // A calibrated alloc.json (qsim quantize --out) is enough without data.
  const RunResult q = run_qsim({"quantize", "--model", kModel, "--data", kData, "--labels",
                                kSrc + "/models/fmnist_test100_labels.npy", "--bits", "8", "--limit", "5", "--out",
                                (tmp / "m.q.onnx").string()},
                               tmp);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const RunResult v =
      run_qsim(args({"--backend", "systemc", "--verify", "--precision", (tmp / "m.q.alloc.json").string()}), tmp);
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.err.find("verify: 12 layers"), std::string::npos) << v.err;
}

// The static qsim hands --backend systemc to qsim-cycle beside it (same argv), and
// qsim-cycle run directly is the same command line: the same output either way.
TEST(SystemcCli, QsimHandsCycleRunsToQsimCycle) {
  TempDir tmp;
  const std::vector<std::string> a = args({"--backend", "systemc", "--layers", "/fc/Gemm"});
  const RunResult via_qsim = run_qsim(a, tmp), direct = run_binary(QSIM_CYCLE_BINARY, a, tmp);
  ASSERT_EQ(via_qsim.exit_code, 0) << via_qsim.err;
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(direct.out, via_qsim.out);
  EXPECT_NE(via_qsim.out.find("systemc backend"), std::string::npos) << via_qsim.out;

  // A qsim without qsim-cycle beside it: analytical runs work, a cycle-level run is
  // one line naming the missing binary, exit 2, no output file.
  fs::create_directories(tmp / "alone");
  const fs::path alone = tmp / "alone" / "qsim";
  fs::copy_file(QSIM_BINARY, alone);
  const RunResult analytical = run_binary(alone.string(), args({"--layers", "/fc/Gemm"}), tmp);
  ASSERT_EQ(analytical.exit_code, 0) << analytical.err;
  const RunResult missing =
      run_binary(alone.string(), args({"--backend", "systemc", "--csv", (tmp / "r.csv").string()}), tmp);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find((tmp / "alone" / "qsim-cycle").string() + " is missing"), std::string::npos)
      << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_FALSE(fs::exists(tmp / "r.csv"));
}

TEST(SystemcCli, BadInputExitsTwoWithOneLineAndNoFile) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--backend", "verilog"}, "--backend 'verilog': expected analytical, systemc or rtl"},
      {{"--backend", "systemc", "--vcd", "V"}, "exactly one layer"},
      {{"--backend", "systemc", "--vcd", "V", "--layers", "/fc/Gemm,/stem/stem.0/Conv"}, "exactly one layer"},
      {{"--backend", "systemc", "--layers", "/no/such/Conv"}, "has no layer '/no/such/Conv'"},
      {{"--backend", "systemc", "--vcd", "V", "--layers", "/pool/MaxPool"}, "runs on the vector unit"},
      {{"--backend", "systemc", "--bits", "16"}, "do not fit the bitfusion PE"},
      {{"--vcd", "V", "--layers", "/fc/Gemm"}, "--vcd needs --backend systemc"},
      {{"--backend", "systemc", "--verify"}, "--verify needs --data"},
      {{"--backend", "systemc", "--verify", "--data", "npy:/no/such.npy"}, "/no/such.npy"},
  };
  for (const auto& [extra, message] : cases) {
    TempDir tmp;
    std::vector<std::string> a = args(extra);
    for (std::string& s : a)
      if (s == "V") s = (tmp / "w.vcd").string();
    a.insert(a.end(), {"--csv", (tmp / "r.csv").string(), "--trace", (tmp / "tr").string()});
    if (std::find(a.begin(), a.end(), "systemc") == a.end())  // --trace alone is its own error
      a.resize(a.size() - 2);
    const RunResult r = run_qsim(a, tmp);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_EQ(r.out, "") << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(tmp.path()))
      if (e.path().filename().string()[0] != '.') left.push_back(e.path().string());
    EXPECT_TRUE(left.empty()) << message << ": " << left.front();
  }
}

}  // namespace
}  // namespace qsim::test
