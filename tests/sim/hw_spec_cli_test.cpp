// `qsim hw` and the main job's --hw/--set handling, end to end through the binary:
// the printed spec and derived figures, and bad configs giving exit code 2 with
// one line on stderr that names the file (or the override).
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/config/hw_spec_yaml.h"
#include "tests/app/cli_test_util.h"

namespace qsim {
namespace {

using test::run_qsim;
using test::TempDir;
using ::testing::HasSubstr;

const std::string kEyeriss = std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml";
const std::string kTinyTopology = std::string(QSIM_SOURCE_DIR) + "/tests/app/data/tiny.csv";
const std::string kTinyCfg = std::string(QSIM_SOURCE_DIR) + "/tests/app/data/array8_calc.cfg";
const std::string kResnet = std::string(QSIM_SOURCE_DIR) + "/models/fmnist_resnet.onnx";

// CSV rows (RFC 4180 quoting: "[2,4,8]" is one cell; no newlines inside cells).
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.emplace_back();
      } else {
        cells.back() += c;
      }
    }
    rows.push_back(cells);
  }
  return rows;
}

TEST(HwCommand, PrintsEveryKeyAndDerivedFigures) {
  TempDir tmp;
  const auto r = run_qsim({"hw", "--hw", kEyeriss}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const auto& [key, value] : hw_spec_values(load_hw_spec(kEyeriss))) EXPECT_THAT(r.out, HasSubstr(key)) << key;
  EXPECT_THAT(r.out, HasSubstr("168 (12 x 14)"));
  EXPECT_THAT(r.out, HasSubstr("108 KiB (36 + 36 + 36)"));
  EXPECT_THAT(r.out, HasSubstr("10 bytes/cycle = 2 GB/s at 200 MHz"));
  EXPECT_THAT(r.out, HasSubstr("area (RTL synthesis)"));
  EXPECT_THAT(r.out, HasSubstr(" kGE per PE"));
}

TEST(HwCommand, NoAreaWithoutSynthesizedRtl) {
  // The RTL was synthesized with 32-bit accumulators only (sim/area_model.h).
  TempDir tmp;
  const auto text = run_qsim({"hw", "--hw", kEyeriss, "--set", "pe.acc_bits=24"}, tmp);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("n/a (no synthesized RTL for a bitfusion PE of 8 bits with 24-bit accumulators)"));
  const auto json = run_qsim({"hw", "--hw", kEyeriss, "--set", "pe.acc_bits=24", "--json"}, tmp);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(nlohmann::json::parse(json.out)["derived"]["area_kge"].is_null());
}

TEST(HwCommand, JsonWithOverrides) {
  TempDir tmp;
  const auto r =
      run_qsim({"hw", "--hw", kEyeriss, "--set", "memory.ifmap_kib=32", "--set", "pe.widths=[2,8]", "--json"}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "eyeriss");
  EXPECT_EQ(j["keys"]["array.rows"], 12);
  EXPECT_EQ(j["keys"]["array.dataflow"], "ws");
  EXPECT_EQ(j["keys"]["memory.ifmap_kib"], 32);
  EXPECT_EQ(j["keys"]["pe.widths"], nlohmann::json::array({2, 8}));
  EXPECT_EQ(j["keys"]["memory.double_buffer"], true);
  EXPECT_DOUBLE_EQ(j["keys"]["energy.mac_pj"]["8"].get<double>(), 0.23);
  EXPECT_EQ(j["keys"].size(), hw_spec_keys().size() - 1);  // all but pe.serial (bitserial only)
  const auto& d = j["derived"];
  EXPECT_EQ(d["pes"], 168);
  EXPECT_DOUBLE_EQ(d["total_sram_kib"].get<double>(), 32.0 + 36 + 36);
  EXPECT_DOUBLE_EQ(d["dram_gb_per_s"].get<double>(), 2.0);
  // The area figure (docs/rtl.md): 168 Bit Fusion PEs and 104 KiB of SRAM cells.
  const auto& area = d["area_kge"];
  EXPECT_DOUBLE_EQ(area["sram"].get<double>(), (32.0 + 36 + 36) * 1024 * 8 * 6 / 4000);
  EXPECT_DOUBLE_EQ(area["total"].get<double>(), area["array"].get<double>() + area["sram"].get<double>());
  EXPECT_GT(area["array"].get<double>(), 168 * area["pe"].get<double>());
  ASSERT_EQ(d["peak"].size(), 4u);  // {2,8} x {2,8}
  for (const auto& p : d["peak"]) {
    const int w = p["wbits"], a = p["abits"];
    EXPECT_DOUBLE_EQ(p["macs_per_pe_per_cycle"].get<double>(), (8.0 / w) * (8.0 / a));
    EXPECT_DOUBLE_EQ(p["macs_per_cycle"].get<double>(), 168 * (8.0 / w) * (8.0 / a));
    EXPECT_DOUBLE_EQ(p["gmacs_per_s"].get<double>(), 168 * (8.0 / w) * (8.0 / a) * 0.2);
  }
}

TEST(HwCommand, KeysTable) {
  TempDir tmp;
  const auto r = run_qsim({"hw", "--keys"}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, hw_keys_markdown());
}

TEST(HwCommand, BadInputIsOneLineAndExitTwo) {
  TempDir tmp;
  test::write_text(tmp / "bad.yaml", "array:\n  rows: 12\n  colums: 14\n");
  auto r = run_qsim({"hw", "--hw", (tmp / "bad.yaml").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "qsim: error: " + (tmp / "bad.yaml").string() +
                       ":3: unknown key array.colums (did you mean array.cols?)\n");

  r = run_qsim({"hw", "--hw", kEyeriss, "--set", "array.rows=0"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "qsim: error: --set array.rows=0: array.rows must be positive, got 0\n");

  r = run_qsim({"hw", "--hw", (tmp / "missing.yaml").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, ::testing::StartsWith("qsim: error: " + (tmp / "missing.yaml").string() + ": cannot open"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST(MainJob, LoadsAndValidatesHwWithOverrides) {
  TempDir tmp;
  const std::string topo = test::reference_dir() + "topologies/tiny_conv.csv";
  // A bad override fails the main job before any output is written.
  auto r = run_qsim(
      {"--hw", kEyeriss, "--topology", topo, "--set", "memory.banks=3", "--json", (tmp / "out.json").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "qsim: error: --set memory.banks=3: memory.banks must be a power of two, got 3\n");
  EXPECT_TRUE(tmp.entries().empty());

  test::write_text(tmp / "empty.yaml", "# nothing here\n");
  r = run_qsim({"--hw", (tmp / "empty.yaml").string(), "--topology", topo}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "qsim: error: " + (tmp / "empty.yaml").string() +
                       ": empty file: expected a mapping of hardware keys (array:, pe:, memory:, ...)\n");
}

// issue 16: a file written with dotted top-level keys is the nested file.
TEST(HwCommand, DottedTopLevelKeys) {
  TempDir tmp;
  test::write_text(tmp / "dotted.yaml",
                   "array.rows: 12\narray.cols: 14\narray.dataflow: ws\narray.clock_mhz: 200\n"
                   "pe.precision: bitfusion\nmemory.ifmap_kib: 36\nmemory.filter_kib: 36\n"
                   "memory.ofmap_kib: 36\nmemory.dram_bytes_per_cycle: 10\n");
  test::write_text(tmp / "nested.yaml",
                   "array: {rows: 12, cols: 14, dataflow: ws, clock_mhz: 200}\npe: {precision: bitfusion}\n"
                   "memory: {ifmap_kib: 36, filter_kib: 36, ofmap_kib: 36, dram_bytes_per_cycle: 10}\n");
  const auto dotted = run_qsim({"hw", "--hw", (tmp / "dotted.yaml").string(), "--json"}, tmp);
  const auto nested = run_qsim({"hw", "--hw", (tmp / "nested.yaml").string(), "--json"}, tmp);
  ASSERT_EQ(dotted.exit_code, 0) << dotted.err;
  ASSERT_EQ(nested.exit_code, 0) << nested.err;
  auto a = nlohmann::json::parse(dotted.out), b = nlohmann::json::parse(nested.out);
  EXPECT_EQ(a["keys"]["array.rows"], 12);
  a["keys"].erase("name");
  b["keys"].erase("name");
  EXPECT_EQ(a["keys"], b["keys"]);
  EXPECT_EQ(a["derived"], b["derived"]);

  // Both spellings of one key: a duplicate naming both lines.
  test::write_text(tmp / "both.yaml", "array:\n  rows: 12\narray.rows: 14\n");
  const auto r = run_qsim({"hw", "--hw", (tmp / "both.yaml").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "qsim: error: " + (tmp / "both.yaml").string() +
                       ":3: duplicate key array.rows (first given at line 2)\n");
}

// issue 16: an error caused by an override names the override, not the line of
// the key it conflicts with; errors of a .cfg's own values name the .cfg line.
TEST(HwCommand, OverrideErrorsNameTheOverride) {
  TempDir tmp;
  auto r = run_qsim({"hw", "--hw", kEyeriss, "--set", "pe.precision=fixed"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "qsim: error: --set pe.precision=fixed: pe.widths must be [8] for pe.precision: fixed (one width, "
            "pe.base_bits; narrower operands run at it), got [2, 4, 8]\n");
  r = run_qsim({"hw", "--scalesim-cfg", kTinyCfg, "--set", "pe.acc_bits=8"}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "qsim: error: --set pe.acc_bits=8: pe.acc_bits must be between 2 * pe.base_bits (16) and 64, got 8\n");
  std::string cfg = slurp(kTinyCfg);
  cfg.replace(cfg.find("ArrayHeight:    8"), 17, "ArrayHeight: 5000");
  test::write_text(tmp / "big.cfg", cfg);
  r = run_qsim({"hw", "--scalesim-cfg", (tmp / "big.cfg").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "qsim: error: " + (tmp / "big.cfg").string() + ":6: array.rows must be at most 4096, got 5000\n");
  // A .cfg leaves vector.lanes to its default, so it follows an override of array.cols.
  r = run_qsim({"hw", "--scalesim-cfg", kTinyCfg, "--set", "array.cols=32", "--json"}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["keys"]["vector.lanes"], 32);
}

// issue 16: a value list that does not close is an error (exit 2, one line, no
// output), never a sweep with fewer rows or a value silently dropped.
TEST(SweepLists, UnclosedValuesAreRejected) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pe.widths=[4,8", "--set pe.widths=[4,8: the value '[4,8' opens '[' and never closes it"},
      {"pe.widths=[2,4,8],[4,8", "--set pe.widths=[2,4,8],[4,8: the value '[4,8' opens '[' and never closes it"},
      {"pe.widths=[2,4,8]]", "--set pe.widths=[2,4,8]]: the value '[2,4,8]]' closes ']' that was never opened"},
      {"pe.widths=[4,8}", "--set pe.widths=[4,8}: the value '[4,8}' closes '[' with '}'"},
      {"energy.mac_pj={2: 1, 4: 1, 8: 1", "--set energy.mac_pj={2: 1, 4: 1, 8: 1: the value '{2: 1, 4: 1, 8: 1' "
                                          "opens '{' and never closes it"},
      {"name=\"a,b", "--set name=\"a,b: the value '\"a,b' opens a quote (\") and never closes it"},
      {"array.rows=8,,16", "--set array.rows=8,,16: empty value in the list"},
      {"array.rows=8,", "--set array.rows=8,: empty value in the list"},
      {"array.rows=8,x", "--set array.rows=x: array.rows must be an integer, got 'x'"},
  };
  for (const auto& [set, message] : cases) {
    SCOPED_TRACE(set);
    const auto r = run_qsim({"sweep", "--hw", kEyeriss, "--topology", kTinyTopology, "--set", set, "--out",
                             (tmp / "sweep.csv").string()},
                            tmp);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "qsim: error: " + message + "\n");
    EXPECT_FALSE(std::filesystem::exists(tmp / "sweep.csv"));
  }
  // Closed brackets, braces and quotes keep their commas.
  const auto r = run_qsim({"sweep", "--hw", kEyeriss, "--topology", kTinyTopology, "--set",
                           "pe.widths=[2,4,8],[4,8]", "--set", "name=\"a,b\",c"},
                          tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = csv_rows(r.out);
  ASSERT_EQ(rows.size(), 5u) << r.out;  // header + 2 x 2 points
  EXPECT_EQ(rows[1][0], "[2,4,8]");
  EXPECT_EQ(rows[1][1], "\"a,b\"");
  EXPECT_EQ(rows[4][0], "[4,8]");
  EXPECT_EQ(rows[4][1], "c");
}

// The sweep reads the config once and sets each point's values on a copy; every
// row equals a separate run with the same --set overrides, including keys whose
// defaults follow the swept ones (vector.lanes follows array.cols, the energy
// table follows pe.widths).
TEST(SweepLists, EveryPointEqualsASeparateRun) {
  TempDir tmp;
  const std::vector<std::string> rows_axis = {"8", "16"}, cols_axis = {"8", "32"};
  const std::vector<std::string> widths_axis = {"[4,8]", "[2,4,8]"};
  const std::string no_energy = slurp(kEyeriss).substr(0, slurp(kEyeriss).find("energy:"));
  test::write_text(tmp / "hw.yaml", no_energy + "vector:\n  fuse_elementwise: true\n");
  const auto sweep = run_qsim({"sweep", "--hw", (tmp / "hw.yaml").string(), "--model", kResnet, "--bits", "4",
                               "--set", "array.rows=8,16", "--set", "array.cols=8,32", "--set",
                               "pe.widths=[4,8],[2,4,8]", "--threads", "2"},
                              tmp);
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  const auto rows = csv_rows(sweep.out);
  ASSERT_EQ(rows.size(), 9u) << sweep.out;
  const auto& header = rows[0];
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  std::set<std::string> distinct_vector_cycles;
  std::size_t i = 1;
  for (const auto& r : rows_axis)
    for (const auto& c : cols_axis)
      for (const auto& w : widths_axis) {
        SCOPED_TRACE(r + " " + c + " " + w);
        const auto& row = rows[i++];
        ASSERT_EQ(row.size(), header.size());
        EXPECT_EQ(row[2], w);
        const auto single = run_qsim({"--hw", (tmp / "hw.yaml").string(), "--model", kResnet, "--bits", "4",
                                      "--set", "array.rows=" + r, "--set", "array.cols=" + c, "--set",
                                      "pe.widths=" + w, "--json", (tmp / "one.json").string()},
                                     tmp);
        ASSERT_EQ(single.exit_code, 0) << single.err;
        const auto j = nlohmann::json::parse(slurp(tmp / "one.json"));
        const auto cell = [&](const std::string& name) { return row.at(col(name)); };
        for (const char* k : {"total_cycles", "compute_cycles", "stall_cycles", "vector_cycles", "sram_bytes",
                              "dram_bytes", "requant_boundaries"})
          EXPECT_EQ(std::stoll(cell(k)), j[k].get<int64_t>()) << k;
        EXPECT_EQ(std::stod(cell("energy_uj")), j["energy_uj"].get<double>());
        distinct_vector_cycles.insert(cell("vector_cycles"));
      }
  EXPECT_GE(distinct_vector_cycles.size(), 2u);  // vector.lanes moved with array.cols
}

}  // namespace
}  // namespace qsim
