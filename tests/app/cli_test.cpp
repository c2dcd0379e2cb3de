// The timing commands end to end through the real binary: exports, precision
// errors, exit code 2 with nothing written on bad input, lut and sweep.
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kTopo = data_dir() + "tiny.csv";
const std::string kCfg = data_dir() + "array8_calc.cfg";
const std::string kEyeriss = std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml";

// Header -> column index of our CSVs (plain fields, no quoting in these fixtures).
std::size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}

TEST(Simulate, PrintsTableAndWritesCsvJsonScaleSim) {
  TempDir tmp;
  const RunResult r = run_qsim({"simulate", "--topology", kTopo, "--scalesim-cfg", kCfg, "--csv",
                                (tmp / "r.csv").string(), "--json", (tmp / "r.json").string(), "--scalesim-out",
                                (tmp / "ss").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* layer : {"Conv1", "Conv2", "Conv3", "FC"}) EXPECT_NE(r.out.find(layer), std::string::npos);
  EXPECT_NE(r.out.find("latency"), std::string::npos);

  const nlohmann::json j = nlohmann::json::parse(slurp(tmp / "r.json"));
  for (const char* k : {"total_cycles", "latency_ms", "energy_uj", "layers"}) EXPECT_TRUE(j.contains(k)) << k;
  ASSERT_EQ(j["layers"].size(), 4u);
  int64_t sum = 0;
  for (const auto& l : j["layers"]) {
    for (const char* k : {"name", "wbits", "abits", "compute_cycles", "stall_cycles", "total_cycles", "sram_bytes",
                          "dram_bytes", "energy_pj", "bound"})
      EXPECT_TRUE(l.contains(k)) << k;
    EXPECT_EQ(l["wbits"], 8);
    EXPECT_EQ(l["abits"], 8);
    EXPECT_EQ(l["stall_cycles"], 0);  // CALC mode
    EXPECT_GT(l["total_cycles"].get<int64_t>(), 0);
    sum += l["total_cycles"].get<int64_t>();
  }
  EXPECT_EQ(j["total_cycles"].get<int64_t>(), sum);
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), static_cast<double>(sum) / 1e6);  // .cfg: 1000 MHz

  // The CSV carries the same numbers as the JSON, row for row.
  const auto rows = read_rows(tmp / "r.csv");
  ASSERT_EQ(rows.size(), 5u);
  const std::size_t name = column(rows[0], "layer"), total = column(rows[0], "total_cycles"),
                    dram = column(rows[0], "dram_bytes");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][name], j["layers"][i - 1]["name"]);
    EXPECT_EQ(std::stoll(rows[i][total]), j["layers"][i - 1]["total_cycles"].get<int64_t>());
    EXPECT_EQ(std::stoll(rows[i][dram]), j["layers"][i - 1]["dram_bytes"].get<int64_t>());
  }

  // SCALE-Sim's Total Cycles is the last cycle's index: one less than our count.
  const auto cr = read_rows(tmp / "ss" / "COMPUTE_REPORT.csv");
  ASSERT_EQ(cr.size(), 5u);
  for (std::size_t i = 1; i < cr.size(); ++i)
    EXPECT_EQ(std::stoll(cr[i][1]) + 1, j["layers"][i - 1]["total_cycles"].get<int64_t>());
  EXPECT_TRUE(fs::exists(tmp / "ss" / "BANDWIDTH_REPORT.csv"));
}

TEST(Simulate, MainJobIsSimulate) {
  TempDir tmp;
  const RunResult a = run_qsim({"--topology", kTopo, "--scalesim-cfg", kCfg}, tmp);
  const RunResult b = run_qsim({"simulate", "--topology", kTopo, "--scalesim-cfg", kCfg}, tmp);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(Simulate, SetOverridesTheConfig) {
  TempDir tmp;
  const RunResult base = run_qsim({"--topology", kTopo, "--scalesim-cfg", kCfg, "--json", (tmp / "a.json").string()},
                                  tmp);
  const RunResult big = run_qsim({"--topology", kTopo, "--scalesim-cfg", kCfg, "--set", "array.rows=16", "--set",
                                  "array.clock_mhz=200", "--json", (tmp / "b.json").string()},
                                 tmp);
  ASSERT_EQ(base.exit_code, 0) << base.err;
  ASSERT_EQ(big.exit_code, 0) << big.err;
  const auto a = nlohmann::json::parse(slurp(tmp / "a.json"));
  const auto b = nlohmann::json::parse(slurp(tmp / "b.json"));
  EXPECT_NE(a["total_cycles"], b["total_cycles"]);
  EXPECT_DOUBLE_EQ(b["clock_mhz"].get<double>(), 200.0);
}

TEST(Simulate, BitsWbitsAbits) {
  TempDir tmp;
  const RunResult r = run_qsim({"--topology", kTopo, "--hw", kEyeriss, "--wbits", "4", "--abits", "2", "--json",
                                (tmp / "r.json").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto parsed = nlohmann::json::parse(slurp(tmp / "r.json"));  // alive for the loop (ASan)
  for (const auto& l : parsed["layers"]) {
    EXPECT_EQ(l["wbits"], 4);
    EXPECT_EQ(l["abits"], 2);
  }
}

TEST(Simulate, PrecisionFileMissingLayerIsNamed) {
  TempDir tmp;
  write_text(tmp / "alloc.json", R"({"format": "qsim-precision", "version": 1, "layers": [
      {"name": "Conv1", "wbits": 8, "abits": 8}, {"name": "Conv2", "wbits": 4, "abits": 8},
      {"name": "FC", "wbits": 8, "abits": 8}]})");
  const RunResult r = run_qsim({"--topology", kTopo, "--hw", kEyeriss, "--precision", (tmp / "alloc.json").string(),
                                "--json", (tmp / "r.json").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Conv3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("alloc.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "r.json"));
}

TEST(Simulate, PrecisionWidthThePeCannotRunIsNamed) {
  TempDir tmp;
  write_text(tmp / "alloc.json", R"({"format": "qsim-precision", "version": 1, "layers": [
      {"name": "Conv1", "wbits": 8, "abits": 8}, {"name": "Conv2", "wbits": 8, "abits": 8},
      {"name": "Conv3", "wbits": 16, "abits": 8}, {"name": "FC", "wbits": 8, "abits": 8}]})");
  const RunResult r = run_qsim({"--topology", kTopo, "--hw", kEyeriss, "--precision", (tmp / "alloc.json").string(),
                                "--csv", (tmp / "r.csv").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Conv3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("16"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "r.csv"));
}

// A 4096x4096 array with 1-byte SRAMs cannot hold one fold: refused with the minimum
// named (docs/timing-model.md section 3.2), nothing on stdout, no output file.
TEST(Simulate, BuffersSmallerThanOneFoldAreRefused) {
  TempDir tmp;
  const RunResult r = run_qsim({"--topology", kTopo, "--hw", kEyeriss, "--set", "array.rows=4096", "--set",
                                "array.cols=4096", "--set", "array.dataflow=os", "--set", "memory.ifmap_kib=0.0009765625",
                                "--set", "memory.filter_kib=0.0009765625", "--set", "memory.ofmap_kib=0.0009765625", "--csv",
                                (tmp / "r.csv").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("memory.ifmap_kib"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("must be at least"), std::string::npos) << r.err;
  // The override that made the buffer too small is the culprit, not the YAML file.
  EXPECT_EQ(r.err.rfind("qsim: error: --set memory.ifmap_kib=0.0009765625: memory.ifmap_kib ", 0), 0u) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "r.csv"));
}

// The buffer floor names where the culprit was stated: the override, else the line
// of the file, and an override of the array that raised the need when the buffer
// itself comes from the file.
TEST(Simulate, BufferFloorNamesWhereTheKeyWasStated) {
  TempDir tmp;
  write_text(tmp / "hw.yaml",
             "array: {rows: 8, cols: 8, dataflow: os, clock_mhz: 200}\npe: {precision: fixed, base_bits: 8}\n"
             "memory:\n  ifmap_kib: 16\n  filter_kib: 16\n  ofmap_kib: 0.0009765625\n  dram_bytes_per_cycle: 8\n");
  const std::string hw = (tmp / "hw.yaml").string();
  RunResult r = run_qsim({"--topology", kTopo, "--hw", hw}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("qsim: error: " + hw + ":6: memory.ofmap_kib ", 0), 0u) << r.err;
  r = run_qsim({"--topology", kTopo, "--hw", hw, "--set", "array.cols=16"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("qsim: error: --set array.cols=16: memory.ofmap_kib ", 0), 0u) << r.err;
  r = run_qsim({"--topology", kTopo, "--hw", hw, "--set", "memory.ofmap_kib=0.001"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("qsim: error: --set memory.ofmap_kib=0.001: memory.ofmap_kib ", 0), 0u) << r.err;
}

TEST(Simulate, PrecisionAndBitsAreExclusive) {
  TempDir tmp;
  write_text(tmp / "alloc.json", R"({"format": "qsim-precision", "version": 1, "layers": []})");
  const RunResult r = run_qsim(
      {"--topology", kTopo, "--hw", kEyeriss, "--precision", (tmp / "alloc.json").string(), "--bits", "4"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
}

// Bad input of every kind: exit 2, one line on stderr, and no output file or directory.
TEST(Simulate, BadInputExits2AndWritesNothing) {
  TempDir tmp;
  write_text(tmp / "bad.csv", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num "
                              "Filter, Strides,\nConv,4,4,x,3,3,8,1,\n");
  write_text(tmp / "bad.yaml", "array: {rows: 0}\n");
  const std::vector<std::vector<std::string>> cases = {
      {"--topology", kTopo, "--scalesim-cfg", data_dir() + "bad_key.cfg"},
      {"--topology", (tmp / "bad.csv").string(), "--scalesim-cfg", kCfg},
      {"--topology", (tmp / "missing.csv").string(), "--scalesim-cfg", kCfg},
      {"--topology", kTopo, "--hw", (tmp / "bad.yaml").string()},
      {"--topology", kTopo, "--scalesim-cfg", kCfg, "--set", "array.rows=-3"},
      {"--topology", kTopo, "--scalesim-cfg", kCfg, "--set", "no.such.key=1"},
      {"--topology", kTopo, "--scalesim-cfg", kCfg, "--hw", kEyeriss},
      {"--topology", kTopo, "--model", kTopo, "--scalesim-cfg", kCfg},
      {"--topology", kTopo, "--scalesim-cfg", kCfg, "--bits", "0"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> full = args;
    for (const std::string& a : {std::string("--csv"), (tmp / "out" / "r.csv").string(), std::string("--json"),
                                 (tmp / "r.json").string(), std::string("--scalesim-out"), (tmp / "ss").string()})
      full.push_back(a);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    const RunResult r = run_qsim(full, tmp);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("qsim: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(tmp / "r.json"));
    EXPECT_FALSE(fs::exists(tmp / "ss"));
    EXPECT_FALSE(fs::exists(tmp / "out"));
  }
  const RunResult bad_cfg = run_qsim({"--topology", kTopo, "--scalesim-cfg", data_dir() + "bad_key.cfg"}, tmp);
  EXPECT_NE(bad_cfg.err.find("bad_key.cfg:16: unknown key 'MemoryBank'"), std::string::npos) << bad_cfg.err;
}

// A valid run whose second output cannot be written leaves the first unwritten too.
TEST(Simulate, UnwritableOutputLeavesNoOtherOutput) {
  TempDir tmp;
  const RunResult r = run_qsim({"--topology", kTopo, "--scalesim-cfg", kCfg, "--json", (tmp / "r.json").string(),
                                "--csv", (tmp / "no_dir" / "r.csv").string(), "--scalesim-out",
                                (tmp / "ss").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no_dir/r.csv"), std::string::npos) << r.err;
  EXPECT_TRUE(tmp.entries().empty());
}

TEST(Lut, JsonTableMatchesSimulateAndMarksUnsupportedWidths) {
  TempDir tmp;
  const RunResult r =
      run_qsim({"lut", "--topology", kTopo, "--hw", kEyeriss, "--bits", "2,4,8,16", "--out", (tmp / "lut.json").string()},
               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(tmp / "lut.json"));
  EXPECT_EQ(j["bits"], nlohmann::json({2, 4, 8, 16}));
  ASSERT_EQ(j["layers"].size(), 4u);
  const auto& lut = j["lut"];
  for (const auto& name : j["layers"]) {
    const auto& l = lut[name.get<std::string>()];
    EXPECT_TRUE(l["16"]["8"].is_null());  // eyeriss' Bit Fusion PE stops at 8 bits
    EXPECT_TRUE(l["8"]["16"].is_null());
    EXPECT_TRUE(l["16"]["16"].is_null());
    EXPECT_LE(l["2"]["2"]["compute_cycles"].get<int64_t>(), l["8"]["8"]["compute_cycles"].get<int64_t>());
    EXPECT_LE(l["2"]["2"]["energy_pj"].get<double>(), l["8"]["8"]["energy_pj"].get<double>());
  }

  // The 4x2 column equals a uniform simulate at --wbits 4 --abits 2, layer by layer.
  const RunResult s = run_qsim({"--topology", kTopo, "--hw", kEyeriss, "--wbits", "4", "--abits", "2", "--json",
                                (tmp / "s.json").string()},
                               tmp);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto parsed = nlohmann::json::parse(slurp(tmp / "s.json"));  // alive for the loop (ASan)
  for (const auto& l : parsed["layers"]) {
    const auto& cell = lut[l["name"].get<std::string>()]["4"]["2"];
    EXPECT_EQ(cell["total_cycles"], l["total_cycles"]);
    EXPECT_DOUBLE_EQ(cell["energy_pj"].get<double>(), l["energy_pj"].get<double>());
  }
}

TEST(Lut, CsvRowsPerLayerAndPair) {
  TempDir tmp;
  const RunResult r =
      run_qsim({"lut", "--topology", kTopo, "--hw", kEyeriss, "--bits", "8,4,16", "--out", (tmp / "lut.csv").string()},
               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = read_rows(tmp / "lut.csv");
  ASSERT_EQ(rows.size(), 1u + 4 * 9);
  const std::size_t w = column(rows[0], "wbits"), a = column(rows[0], "abits"), sup = column(rows[0], "supported"),
                    total = column(rows[0], "total_cycles");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const bool wide = rows[i][w] == "16" || rows[i][a] == "16";
    EXPECT_EQ(rows[i][sup], wide ? "0" : "1");
    if (!wide) {
      EXPECT_GT(std::stoll(rows[i][total]), 0);
    }
  }
  EXPECT_EQ(rows[1][w], "4");  // widths sorted ascending
  EXPECT_EQ(rows[1][a], "4");
}

TEST(Lut, BadOutputNameAndNoSupportedWidth) {
  TempDir tmp;
  RunResult r = run_qsim({"lut", "--topology", kTopo, "--hw", kEyeriss, "--bits", "8", "--out",
                          (tmp / "lut.txt").string()},
                         tmp);
  EXPECT_EQ(r.exit_code, 2);
  r = run_qsim({"lut", "--topology", kTopo, "--scalesim-cfg", kCfg, "--bits", "16", "--out",
                (tmp / "lut.csv").string()},
               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("16"), std::string::npos) << r.err;
  EXPECT_TRUE(tmp.entries().empty());
}

TEST(Sweep, GridRowsAndAgreementWithSimulate) {
  TempDir tmp;
  const RunResult r = run_qsim({"sweep", "--topology", kTopo, "--scalesim-cfg", kCfg, "--set",
                                "memory.ifmap_kib=1,2,64", "--set", "array.rows=4,16", "--out",
                                (tmp / "sweep.csv").string(), "--threads", "2"},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = read_rows(tmp / "sweep.csv");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0][0], "memory.ifmap_kib");
  EXPECT_EQ(rows[0][1], "array.rows");
  for (const char* c : {"total_cycles", "compute_cycles", "stall_cycles", "latency_ms", "energy_uj", "sram_bytes",
                        "dram_bytes"})
    column(rows[0], c);
  // First axis slowest.
  EXPECT_EQ(rows[1][0], "1");
  EXPECT_EQ(rows[1][1], "4");
  EXPECT_EQ(rows[2][0], "1");
  EXPECT_EQ(rows[2][1], "16");
  EXPECT_EQ(rows[6][0], "64");
  EXPECT_EQ(rows[6][1], "16");

  // Point 4 (ifmap 2 KiB, 16 rows) equals a simulate with the same overrides.
  const RunResult s = run_qsim({"--topology", kTopo, "--scalesim-cfg", kCfg, "--set", "memory.ifmap_kib=2", "--set",
                                "array.rows=16", "--json", (tmp / "s.json").string()},
                               tmp);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto j = nlohmann::json::parse(slurp(tmp / "s.json"));
  EXPECT_EQ(std::stoll(rows[4][column(rows[0], "total_cycles")]), j["total_cycles"].get<int64_t>());
  EXPECT_EQ(std::stoll(rows[4][column(rows[0], "dram_bytes")]), j["dram_bytes"].get<int64_t>());
}

TEST(Sweep, InvalidPointFailsBeforeWritingAndNamesIt) {
  TempDir tmp;
  const RunResult r = run_qsim({"sweep", "--topology", kTopo, "--scalesim-cfg", kCfg, "--set", "array.rows=8,0,4",
                                "--set", "array.cols=8,16", "--out", (tmp / "sweep.csv").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sweep point 3 of 6 (array.rows=0, array.cols=8)"), std::string::npos) << r.err;
  EXPECT_TRUE(tmp.entries().empty());
}

TEST(Sweep, AreaColumnAndAreaBudget) {
  TempDir tmp;
  const std::vector<std::string> grid = {"sweep", "--topology", kTopo, "--hw", kEyeriss, "--set", "array.rows=8,12,16",
                                         "--set", "memory.ifmap_kib=16,64"};
  auto args = grid;
  args.insert(args.end(), {"--out", (tmp / "all.csv").string()});
  const RunResult all = run_qsim(args, tmp);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto rows = read_rows(tmp / "all.csv");
  ASSERT_EQ(rows.size(), 7u);
  const std::size_t area = column(rows[0], "area_kge");
  // The area grows with the rows and the SRAM; it is qsim hw's figure (sim/area_model.h).
  std::vector<double> kge;
  for (std::size_t i = 1; i < rows.size(); ++i) kge.push_back(std::stod(rows[i][area]));
  EXPECT_LT(kge[0], kge[1]);
  EXPECT_LT(kge[0], kge[2]);
  EXPECT_LT(kge[2], kge[4]);
  const RunResult hw = run_qsim({"hw", "--hw", kEyeriss, "--set", "array.rows=8", "--set", "memory.ifmap_kib=16",
                                 "--json"},
                                tmp);
  ASSERT_EQ(hw.exit_code, 0) << hw.err;
  EXPECT_DOUBLE_EQ(kge[0], nlohmann::json::parse(hw.out)["derived"]["area_kge"]["total"].get<double>());

  // A budget between the points keeps exactly those within it, rows otherwise unchanged.
  const double budget = (kge[2] + kge[3]) / 2;
  args = grid;
  args.insert(args.end(), {"--area-budget-kge", std::to_string(budget), "--out", (tmp / "budget.csv").string()});
  const RunResult within = run_qsim(args, tmp);
  ASSERT_EQ(within.exit_code, 0) << within.err;
  const auto kept = read_rows(tmp / "budget.csv");
  std::vector<std::vector<std::string>> want = {rows[0]};
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (kge[i - 1] <= budget) want.push_back(rows[i]);
  EXPECT_EQ(kept, want);
  EXPECT_LT(want.size(), rows.size());
  EXPECT_GT(want.size(), 1u);
  EXPECT_NE(within.err.find(std::to_string(rows.size() - want.size()) + " of 6 points above the area budget"),
            std::string::npos)
      << within.err;
}

TEST(Sweep, AreaBudgetBadInput) {
  TempDir tmp;
  const auto fails = [&](std::vector<std::string> extra, const std::string& message) {
    std::vector<std::string> args = {"sweep", "--topology", kTopo, "--hw", kEyeriss, "--out",
                                     (tmp / "sweep.csv").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_qsim(args, tmp);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(tmp.entries().empty());
  };
  fails({"--set", "array.rows=8,12", "--area-budget-kge", "10"}, "--area-budget-kge 10: every one of the 2 points");
  fails({"--set", "pe.acc_bits=32,24", "--area-budget-kge", "1e6"},
        "sweep point 2 of 2 (pe.acc_bits=24) has no area figure");
  fails({"--area-budget-kge", "0"}, "--area-budget-kge 0: must be a positive area");
}

TEST(Sweep, BracketedListIsOneValue) {
  TempDir tmp;
  const RunResult r = run_qsim({"sweep", "--topology", kTopo, "--hw", kEyeriss, "--bits", "4", "--set",
                                "pe.widths=[2,4,8]", "--set",
                                "energy.mac_pj={2: 0.02, 4: 0.06, 8: 0.23},{2: 0.01, 4: 0.05, 8: 0.2}"},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[1].rfind("\"[2,4,8]\",\"{2: 0.02, 4: 0.06, 8: 0.23}\",", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("\"[2,4,8]\",\"{2: 0.01, 4: 0.05, 8: 0.2}\",", 0), 0u) << lines[2];
}

}  // namespace
}  // namespace qsim::test
