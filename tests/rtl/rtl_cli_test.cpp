// qsim --backend rtl through the real binary: the analytical backend's table and
// files (the RTL's compute cycles equal the analytical ones on every layer),
// --layers, --verify against the integer executor on a weight- and an
// output-stationary array, and exit 2 with one line and no file on bad input.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kSrc = QSIM_SOURCE_DIR;
const std::string kModel = kSrc + "/models/fmnist_resnet.onnx";
const std::string kEyeriss = kSrc + "/configs/eyeriss.yaml";   // 12 x 14, ws, Bit Fusion
const std::string kEdge = kSrc + "/configs/edge-lowmem.yaml";  // 16 x 16, os, Bit Fusion
const std::string kData = "npy:" + kSrc + "/models/fmnist_test100.npy";

std::vector<std::string> args(const std::string& hw, std::vector<std::string> extra) {
  std::vector<std::string> a{"--hw", hw, "--model", kModel};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(RtlCli, SameTableAndFilesAsTheAnalyticalBackend) {
  TempDir tmp;
  const RunResult ra = run_qsim(args(kEyeriss, {"--bits", "4", "--csv", (tmp / "a.csv").string(), "--json",
                                                (tmp / "a.json").string()}),
                                tmp);
  const RunResult rr = run_qsim(args(kEyeriss, {"--bits", "4", "--backend", "rtl", "--csv", (tmp / "r.csv").string(),
                                                "--json", (tmp / "r.json").string()}),
                                tmp);
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rr.exit_code, 0) << rr.err;
  std::string table = ra.out;
  table.replace(table.find("analytical backend"), 18, "rtl backend");
  EXPECT_EQ(rr.out, table);
  EXPECT_EQ(slurp(tmp / "r.csv"), slurp(tmp / "a.csv"));
  nlohmann::json ja = nlohmann::json::parse(slurp(tmp / "a.json")), jr = nlohmann::json::parse(slurp(tmp / "r.json"));
  EXPECT_EQ(jr["backend"], "rtl");
  jr["backend"] = ja["backend"];
  // The provenance records each run's own command line; the rest of it is the same.
  EXPECT_NE(jr["provenance"]["command_line"], ja["provenance"]["command_line"]);
  jr["provenance"].erase("command_line");
  ja["provenance"].erase("command_line");
  EXPECT_EQ(jr, ja);
}

TEST(RtlCli, VerifyOnTheIntegerExecutorsOperands) {
  TempDir tmp;
  // Weight-stationary 12 x 14 (the active part of the 16 x 16 RTL model), 8 bits.
  const RunResult ws = run_qsim(args(kEyeriss, {"--backend", "rtl", "--verify", "--data", kData, "--layers",
                                                "/stem/stem.0/Conv,/fc/Gemm"}),
                                tmp);
  ASSERT_EQ(ws.exit_code, 0) << ws.err;
  EXPECT_NE(ws.err.find("verify: 2 layers"), std::string::npos) << ws.err;
  EXPECT_NE(ws.out.find("12 rows of the network not run (--layers)"), std::string::npos) << ws.out;
  // Output-stationary 16 x 16, 2-bit weights x 4-bit activations (Bit Fusion 2x4 mode).
  const RunResult os = run_qsim(args(kEdge, {"--backend", "rtl", "--verify", "--data", kData, "--wbits", "2",
                                             "--abits", "4", "--layers", "/stem/stem.0/Conv"}),
                                tmp);
  ASSERT_EQ(os.exit_code, 0) << os.err;
  EXPECT_NE(os.err.find("verify: 1 layers"), std::string::npos) << os.err;
}

TEST(RtlCli, BadInputExitsTwoWithOneLineAndNoFile) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--backend", "rtl", "--set", "array.rows=32"}, "no RTL model holds a 32x14 array"},
      {{"--backend", "rtl", "--set", "pe.acc_bits=24"}, "with 24-bit accumulators"},
      {{"--backend", "rtl", "--set", "pe.precision=bitserial"}, "not bitserial"},
      {{"--backend", "rtl", "--trace", "T"}, "--trace needs --backend systemc"},
      {{"--backend", "rtl", "--layers", "/no/such/Conv"}, "has no layer '/no/such/Conv'"},
      {{"--backend", "rtl", "--verify"}, "--verify needs --data"},
      {{"--verify", "--data", "npy:/x.npy"}, "--verify needs --backend systemc or rtl"},
  };
  for (const auto& [extra, message] : cases) {
    TempDir tmp;
    std::vector<std::string> a = args(kEyeriss, extra);
    for (std::string& s : a)
      if (s == "T") s = (tmp / "tr").string();
    a.insert(a.end(), {"--csv", (tmp / "r.csv").string()});
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
