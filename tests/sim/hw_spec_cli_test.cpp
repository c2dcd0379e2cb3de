// `qsim hw` and the main job's --hw/--set handling, end to end through the binary:
// the printed spec and derived figures, and bad configs giving exit code 2 with
// one line on stderr that names the file (or the override).
#include <string>

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

}  // namespace
}  // namespace qsim
