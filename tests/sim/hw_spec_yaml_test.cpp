// The YAML hardware config: shipped configs, defaults, overrides, every
// validation case (with its file:line message), the YAML writer and the key table.
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/file_util.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/sim/hw_yaml_test_util.h"

namespace qsim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string config_path(const std::string& name) { return std::string(QSIM_SOURCE_DIR) + "/configs/" + name; }

// A valid config as (dotted key, YAML value) pairs, rendered nested in this order,
// so each test can drop or change one key and know its line number.
using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs minimal() {
  return {
      {"array.rows", "12"},                   // line 2
      {"array.cols", "14"},                   // line 3
      {"array.dataflow", "ws"},               // line 4
      {"array.clock_mhz", "200"},             // line 5
      {"pe.precision", "bitfusion"},          // line 7
      {"memory.ifmap_kib", "36"},             // line 9
      {"memory.filter_kib", "36"},            // line 10
      {"memory.ofmap_kib", "36"},             // line 11
      {"memory.dram_bytes_per_cycle", "10"},  // line 12
  };
}

std::string render(const Pairs& pairs) {
  std::string out, section;
  for (const auto& [key, value] : pairs) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      out += key + ": " + value + "\n";
      section.clear();
      continue;
    }
    if (key.substr(0, dot) != section) {
      section = key.substr(0, dot);
      out += section + ":\n";
    }
    out += "  " + key.substr(dot + 1) + ": " + value + "\n";
  }
  return out;
}

Pairs with(Pairs p, const std::string& key, const std::string& value) {
  for (auto& [k, v] : p)
    if (k == key) {
      v = value;
      return p;
    }
  // Insert after the last key of the same section so the sections stay contiguous.
  const std::string section = key.substr(0, key.find('.'));
  auto pos = p.end();
  for (auto it = p.begin(); it != p.end(); ++it)
    if (it->first.substr(0, it->first.find('.')) == section) pos = it + 1;
  p.insert(pos, {key, value});
  return p;
}

Pairs without(Pairs p, const std::string& key) {
  std::erase_if(p, [&](const auto& kv) { return kv.first == key; });
  return p;
}

HwSpec load_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return hw_spec_from_yaml_text(text, "hw.yaml", overrides);
}

// The message of the qsim::Error loading `text` throws, or "" if it loads.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return hw_yaml_error(text, overrides);
}

std::string error_of(const Pairs& pairs, const std::vector<std::string>& overrides = {}) {
  return error_of(render(pairs), overrides);
}

// ---------------------------------------------------------------- shipped configs

TEST(ShippedConfigs, Eyeriss) {
  const HwSpec hw = load_hw_spec(config_path("eyeriss.yaml"));
  EXPECT_EQ(hw.name, "eyeriss");
  EXPECT_EQ(hw.array.rows, 12);
  EXPECT_EQ(hw.array.cols, 14);
  EXPECT_EQ(hw.array.dataflow, Dataflow::kWS);
  EXPECT_DOUBLE_EQ(hw.array.clock_mhz, 200.0);
  EXPECT_EQ(hw.pe.precision, PeModel::kBitFusion);
  EXPECT_EQ(hw.pe.base_bits, 8);
  EXPECT_EQ(hw.pe.widths, (std::vector<int>{2, 4, 8}));
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib + hw.memory.filter_kib + hw.memory.ofmap_kib, 108.0);
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib, 36.0);
  EXPECT_DOUBLE_EQ(hw.memory.filter_kib, 36.0);
  EXPECT_DOUBLE_EQ(hw.memory.ofmap_kib, 36.0);
  EXPECT_FALSE(hw.memory.dram_unlimited);
  EXPECT_DOUBLE_EQ(hw.memory.dram_bytes_per_cycle, 10.0);
  EXPECT_EQ(hw.memory.word_bits, 8);
  EXPECT_DOUBLE_EQ(hw.energy.mac_pj.at(8), 0.23);
  EXPECT_DOUBLE_EQ(hw.energy.mac_pj.at(2), 0.23 / 16);
  // AMED-style mixed precision shows: 2x2 bits run 16 MACs per PE per cycle.
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 2, 2), 16.0);
}

TEST(ShippedConfigs, ScaleSimDefault) {
  const HwSpec hw = load_hw_spec(config_path("scalesim-default.yaml"));
  EXPECT_EQ(hw.array.rows, 32);
  EXPECT_EQ(hw.array.cols, 32);
  EXPECT_EQ(hw.array.dataflow, Dataflow::kOS);
  EXPECT_EQ(hw.pe.precision, PeModel::kFixed);
  EXPECT_EQ(hw.pe.base_bits, 8);
  EXPECT_EQ(hw.pe.widths, std::vector<int>{8});
  EXPECT_EQ(hw.memory.word_bits, 8);
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib, 64.0);
  EXPECT_DOUBLE_EQ(hw.memory.filter_kib, 64.0);
  EXPECT_DOUBLE_EQ(hw.memory.ofmap_kib, 64.0);
  EXPECT_TRUE(hw.memory.dram_unlimited);  // scale.cfg runs CALC mode
}

TEST(ShippedConfigs, TpuLike) {
  const HwSpec hw = load_hw_spec(config_path("tpu-like.yaml"));
  EXPECT_EQ(hw.array.rows, 256);
  EXPECT_EQ(hw.array.cols, 256);
  EXPECT_EQ(hw.array.dataflow, Dataflow::kWS);
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib, 6144.0);
  EXPECT_DOUBLE_EQ(hw.memory.filter_kib, 6144.0);
  EXPECT_DOUBLE_EQ(hw.memory.ofmap_kib, 2048.0);
  EXPECT_EQ(hw.pe.precision, PeModel::kFixed);
}

TEST(ShippedConfigs, EdgeLowMem) {
  const HwSpec hw = load_hw_spec(config_path("edge-lowmem.yaml"));
  EXPECT_EQ(hw.array.rows, 16);
  EXPECT_EQ(hw.array.cols, 16);
  EXPECT_LE(hw.memory.ifmap_kib, 16.0);
  EXPECT_LE(hw.memory.filter_kib, 16.0);
  EXPECT_LE(hw.memory.ofmap_kib, 16.0);
  EXPECT_FALSE(hw.memory.dram_unlimited);
  EXPECT_LT(hw.memory.dram_bytes_per_cycle, load_hw_spec(config_path("eyeriss.yaml")).memory.dram_bytes_per_cycle);
}

TEST(ShippedConfigs, EveryConfigLoadsAndRoundTrips) {
  int count = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::string(QSIM_SOURCE_DIR) + "/configs")) {
    if (f.path().extension() != ".yaml") continue;
    SCOPED_TRACE(f.path().string());
    ++count;
    const HwSpec hw = load_hw_spec(f.path().string());
    EXPECT_EQ(hw.name, f.path().stem().string());  // name: matches the file
    HwSpec back = hw_spec_from_yaml_text(hw_spec_to_yaml(hw), "roundtrip.yaml");
    back.source = hw.source;
    EXPECT_EQ(back, hw);
  }
  EXPECT_GE(count, 4);
}

// ---------------------------------------------------------------- defaults

TEST(HwSpecDefaults, OptionalKeys) {
  const HwSpec hw = load_text(render(minimal()));
  EXPECT_EQ(hw.name, "hw");  // file stem
  EXPECT_EQ(hw.source, "hw.yaml");
  EXPECT_EQ(hw.pe.base_bits, 8);
  EXPECT_EQ(hw.pe.widths, (std::vector<int>{2, 4, 8}));
  EXPECT_EQ(hw.pe.acc_bits, 32);
  EXPECT_EQ(hw.pe.serial, SerialOperand::kActivation);
  EXPECT_EQ(hw.memory.banks, 1);
  EXPECT_TRUE(hw.memory.double_buffer);
  EXPECT_EQ(hw.memory.dram_latency_cycles, 0);
  EXPECT_EQ(hw.memory.word_bits, 8);
  EXPECT_TRUE(hw.memory.pack_narrow);
  EXPECT_EQ(hw.energy, default_energy_spec(hw.pe));
  EXPECT_DOUBLE_EQ(hw.energy.mac_pj.at(4), 0.0575);
  EXPECT_DOUBLE_EQ(hw.energy.sram_read_pj_per_byte, 2.5);
  EXPECT_DOUBLE_EQ(hw.energy.dram_pj_per_byte, 160.0);
  EXPECT_EQ(hw.vector.lanes, 14);  // array.cols
  EXPECT_TRUE(hw.vector.fuse_elementwise);
}

TEST(HwSpecDefaults, WidthsFollowThePeModel) {
  EXPECT_EQ(load_text(render(with(minimal(), "pe.precision", "fixed"))).pe.widths, std::vector<int>{8});
  EXPECT_EQ(load_text(render(with(minimal(), "pe.precision", "bitserial"))).pe.widths,
            (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  const HwSpec bf16 = load_text(render(with(with(minimal(), "pe.base_bits", "16"), "pe.acc_bits", "48")));
  EXPECT_EQ(bf16.pe.widths, (std::vector<int>{2, 4, 8, 16}));
  EXPECT_DOUBLE_EQ(bf16.energy.mac_pj.at(16), 0.92);
}

TEST(HwSpecParse, ValuesAndSpellings) {
  Pairs p = minimal();
  p.insert(p.begin(), {"name", "\"my chip: v2\""});
  p = with(p, "pe.precision", "bitserial");
  p = with(p, "pe.serial", "both");
  p = with(p, "pe.widths", "[8, 2, 4]");  // sorted on load
  p = with(p, "memory.dram_bytes_per_cycle", "unlimited");
  p = with(p, "memory.double_buffer", "false");
  p = with(p, "memory.ifmap_kib", "0.5");
  p = with(p, "memory.banks", "4");
  p = with(p, "energy.mac_pj", "{2: 0.02, 4: 0.06, 8: 0.25, 2x8: 0.05}");
  p = with(p, "vector.lanes", "+7");  // YAML's explicit sign
  p = with(p, "array.clock_mhz", "2.5e2");
  const HwSpec hw = load_text(render(p));
  EXPECT_EQ(hw.name, "my chip: v2");
  EXPECT_EQ(hw.pe.precision, PeModel::kBitSerial);
  EXPECT_EQ(hw.pe.serial, SerialOperand::kBoth);
  EXPECT_EQ(hw.pe.widths, (std::vector<int>{2, 4, 8}));
  EXPECT_TRUE(hw.memory.dram_unlimited);
  EXPECT_FALSE(hw.memory.double_buffer);
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib, 0.5);
  EXPECT_EQ(hw.memory.banks, 4);
  EXPECT_DOUBLE_EQ(hw.energy.mac_pj.at(8), 0.25);
  EXPECT_DOUBLE_EQ(hw.energy.mac_pj_pair.at({2, 8}), 0.05);
  EXPECT_EQ(hw.vector.lanes, 7);
  EXPECT_DOUBLE_EQ(hw.array.clock_mhz, 250.0);

  // And back: every value, including the name that needs quoting, survives.
  HwSpec back = hw_spec_from_yaml_text(hw_spec_to_yaml(hw), "again.yaml");
  back.source = hw.source;
  EXPECT_EQ(back, hw);
}

// ---------------------------------------------------------------- validation

TEST(HwSpecValidation, UnknownKeySuggestsTheClosest) {
  Pairs p = minimal();
  p[0].first = "array.rws";
  EXPECT_EQ(error_of(p), "hw.yaml:2: unknown key array.rws (did you mean array.rows?)");
  EXPECT_EQ(error_of(with(minimal(), "memory.ifmap_kb", "3")),
            "hw.yaml:13: unknown key memory.ifmap_kb (did you mean memory.ifmap_kib?)");
  EXPECT_EQ(error_of("rows: 12\n"), "hw.yaml:1: unknown key rows (did you mean array.rows?)");
  EXPECT_EQ(error_of("memroy:\n  banks: 1\n"), "hw.yaml:1: unknown key memroy (did you mean memory?)");
  EXPECT_EQ(error_of(with(minimal(), "vector.lane", "3")),
            "hw.yaml:14: unknown key vector.lane (did you mean vector.lanes?)");
}

TEST(HwSpecValidation, WrongType) {
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "twelve")),
            "hw.yaml:2: array.rows must be an integer, got 'twelve'");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "[12, 14]")),
            "hw.yaml:2: array.rows must be an integer, got a list");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "{a: 1}")),
            "hw.yaml:2: array.rows must be an integer, got a mapping");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "\"12\"")),
            "hw.yaml:2: array.rows must be an integer, got the quoted string \"12\"");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "12.5")), "hw.yaml:2: array.rows must be an integer, got 12.5");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "+-3")), "hw.yaml:2: array.rows must be an integer, got '+-3'");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "")), "hw.yaml:2: array.rows must be an integer, got no value");
  EXPECT_EQ(error_of(with(minimal(), "array.clock_mhz", "fast")),
            "hw.yaml:5: array.clock_mhz must be a number, got 'fast'");
  EXPECT_EQ(error_of(with(minimal(), "array.clock_mhz", ".nan")),
            "hw.yaml:5: array.clock_mhz must be a number, got '.nan'");
  EXPECT_EQ(error_of(with(minimal(), "array.dataflow", "rs")),
            "hw.yaml:4: array.dataflow must be one of os, ws, is, got 'rs'");
  EXPECT_EQ(error_of(with(minimal(), "pe.precision", "float")),
            "hw.yaml:7: pe.precision must be one of fixed, bitfusion, bitserial, got 'float'");
  EXPECT_EQ(error_of(with(minimal(), "memory.double_buffer", "maybe")),
            "hw.yaml:13: memory.double_buffer must be true or false, got 'maybe'");
  EXPECT_EQ(error_of(with(minimal(), "memory.dram_bytes_per_cycle", "lots")),
            "hw.yaml:12: memory.dram_bytes_per_cycle must be a number or unlimited, got 'lots'");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "8")),
            "hw.yaml:8: pe.widths must be a list of integers, e.g. [2, 4, 8], got '8'");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[2, four, 8]")),
            "hw.yaml:8: pe.widths must be a list of integers, got an element 'four'");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[]")), "hw.yaml:8: pe.widths must not be empty");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[2, 8, 2]")), "hw.yaml:8: pe.widths lists 2 twice");
  EXPECT_EQ(error_of(with(minimal(), "pe.serial", "weights")),
            "hw.yaml:8: pe.serial must be one of activation, both, got 'weights'");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "0.2")),
            "hw.yaml:14: energy.mac_pj must be a mapping from width to pJ (e.g. {8: 0.23}), got '0.2'");
  EXPECT_EQ(error_of(with(minimal(), "energy.dram_pj_per_byte", "[1]")),
            "hw.yaml:14: energy.dram_pj_per_byte must be a number, got a list");
  EXPECT_EQ(error_of("array: 12\n"), "hw.yaml:1: array must be a mapping of array.* keys, got '12'");
  EXPECT_EQ(error_of("array:\n"), "hw.yaml:1: array must be a mapping of array.* keys, got no value");
  EXPECT_EQ(error_of("name: [a]\n" + render(minimal())), "hw.yaml:1: name must be a non-empty string, got a list");
  EXPECT_EQ(error_of("? [a, b]\n: 1\n"), "hw.yaml:1: a key must be a plain name, got a list");
}

TEST(HwSpecValidation, MissingRequiredKey) {
  int required = 0;
  for (const HwKey& k : hw_spec_keys()) {
    if (!k.required) continue;
    ++required;
    SCOPED_TRACE(std::string(k.key));
    EXPECT_EQ(error_of(without(minimal(), std::string(k.key))),
              fmt::format("hw.yaml: missing required key {}: {}", k.key, k.meaning));
  }
  EXPECT_EQ(required, 9);  // rows, cols, dataflow, clock, precision, 3 SRAMs, DRAM bandwidth
}

TEST(HwSpecValidation, ZeroAndNegative) {
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "0")), "hw.yaml:2: array.rows must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "array.cols", "-3")), "hw.yaml:3: array.cols must be positive, got -3");
  EXPECT_EQ(error_of(with(minimal(), "array.clock_mhz", "0")), "hw.yaml:5: array.clock_mhz must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "memory.ifmap_kib", "0")), "hw.yaml:9: memory.ifmap_kib must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "memory.ofmap_kib", "-1")),
            "hw.yaml:11: memory.ofmap_kib must be positive, got -1");
  EXPECT_EQ(error_of(with(minimal(), "memory.dram_bytes_per_cycle", "0")),
            "hw.yaml:12: memory.dram_bytes_per_cycle must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "memory.banks", "0")), "hw.yaml:13: memory.banks must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "memory.dram_latency_cycles", "-1")),
            "hw.yaml:13: memory.dram_latency_cycles must be between 0 and 1000000, got -1");
  EXPECT_EQ(error_of(with(minimal(), "pe.base_bits", "0")), "hw.yaml:8: pe.base_bits must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[0, 8]")),
            "hw.yaml:8: pe.widths entries must be between 1 and 32, got 0");
  EXPECT_EQ(error_of(with(minimal(), "vector.lanes", "0")), "hw.yaml:14: vector.lanes must be positive, got 0");
  EXPECT_EQ(error_of(with(minimal(), "energy.dram_pj_per_byte", "-5")),
            "hw.yaml:14: energy.dram_pj_per_byte must be zero or positive (pJ/byte), got -5");
  // Zero energy is allowed: it leaves a component out of the total.
  EXPECT_EQ(error_of(with(minimal(), "energy.dram_pj_per_byte", "0")), "");
}

TEST(HwSpecValidation, PowersOfTwo) {
  EXPECT_EQ(error_of(with(minimal(), "memory.banks", "3")), "hw.yaml:13: memory.banks must be a power of two, got 3");
  EXPECT_EQ(error_of(with(minimal(), "memory.word_bits", "12")),
            "hw.yaml:13: memory.word_bits must be a power of two from 8 to 1024, got 12");
  EXPECT_EQ(error_of(with(minimal(), "pe.base_bits", "6")),
            "hw.yaml:8: pe.base_bits must be a power of two >= 2 for pe.precision: bitfusion (2-bit bricks fuse into "
            "it), got 6");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[3, 8]")),
            "hw.yaml:8: pe.widths for bitfusion must be powers of two >= 2 dividing pe.base_bits (8), got 3");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[1, 8]")),
            "hw.yaml:8: pe.widths for bitfusion must be powers of two >= 2 dividing pe.base_bits (8), got 1");
  // Other PE models take any width up to base_bits.
  EXPECT_EQ(error_of(with(with(minimal(), "pe.precision", "bitserial"), "pe.widths", "[3, 5, 8]")), "");
  EXPECT_EQ(error_of(with(with(minimal(), "pe.precision", "fixed"), "pe.base_bits", "12")), "");
}

TEST(HwSpecValidation, OutOfRange) {
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "5000")), "hw.yaml:2: array.rows must be at most 4096, got 5000");
  EXPECT_EQ(error_of(with(minimal(), "array.rows", "99999999999999999999")),
            "hw.yaml:2: array.rows is out of range, got 99999999999999999999");
  EXPECT_EQ(error_of(with(minimal(), "array.clock_mhz", "20000")),
            "hw.yaml:5: array.clock_mhz must be at most 10000 MHz, got 20000");
  EXPECT_EQ(error_of(with(minimal(), "pe.acc_bits", "12")),
            "hw.yaml:8: pe.acc_bits must be between 2 * pe.base_bits (16) and 64, got 12");
  EXPECT_EQ(error_of(with(minimal(), "pe.acc_bits", "128")),
            "hw.yaml:8: pe.acc_bits must be between 2 * pe.base_bits (16) and 64, got 128");
  EXPECT_EQ(error_of(with(minimal(), "pe.base_bits", "64")), "hw.yaml:8: pe.base_bits must be at most 32, got 64");
  EXPECT_EQ(error_of(with(minimal(), "pe.base_bits", "9999999999")),
            "hw.yaml:8: pe.base_bits is out of range, got 9999999999");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[2, 4, 16]")),
            "hw.yaml:8: pe.widths [2, 4, 16] has 16, wider than pe.base_bits (8)");
  EXPECT_EQ(error_of(with(minimal(), "pe.widths", "[2, 4]")),
            "hw.yaml:8: pe.widths [2, 4] must include pe.base_bits (8): a PE always runs its full width");
  EXPECT_EQ(error_of(with(with(minimal(), "pe.precision", "fixed"), "pe.widths", "[4, 8]")),
            "hw.yaml:8: pe.widths must be [8] for pe.precision: fixed (one width, pe.base_bits; narrower operands run "
            "at it), got [4, 8]");
  EXPECT_EQ(error_of(with(minimal(), "pe.serial", "both")),
            "hw.yaml:8: pe.serial applies only to pe.precision: bitserial (this PE is bitfusion)");
  EXPECT_EQ(error_of(with(minimal(), "memory.ifmap_kib", "2000000")),
            "hw.yaml:9: memory.ifmap_kib must be at most 1048576 KiB, got 2000000");
  EXPECT_EQ(error_of(with(minimal(), "memory.ifmap_kib", "0.0001")),
            "hw.yaml:9: memory.ifmap_kib must be a whole number of bytes (a multiple of 1/1024 KiB), got 0.0001");
  EXPECT_EQ(error_of(with(minimal(), "memory.banks", "2048")),
            "hw.yaml:13: memory.banks must be at most 1024, got 2048");
  EXPECT_EQ(error_of(with(minimal(), "memory.dram_bytes_per_cycle", "1e9")),
            "hw.yaml:12: memory.dram_bytes_per_cycle must be at most 1000000 bytes/cycle, got 1000000000");
  EXPECT_EQ(error_of(with(minimal(), "vector.lanes", "100000")),
            "hw.yaml:14: vector.lanes must be at most 65536, got 100000");
}

TEST(HwSpecValidation, MacEnergyTable) {
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 8: 0.2}")),
            "hw.yaml:14: energy.mac_pj has no entry for width 4 (pe.widths is [2, 4, 8])");
  // Widths outside pe.widths are allowed (unused), so one table serves a sweep over pe.widths.
  const HwSpec extra =
      load_text(render(with(minimal(), "energy.mac_pj", "{2: 0.01, 3: 0.02, 4: 0.05, 8: 0.2, 3x5: 1}")));
  EXPECT_DOUBLE_EQ(extra.energy.mac_pj.at(3), 0.02);
  EXPECT_EQ(load_hw_spec(config_path("eyeriss.yaml"), std::vector<std::string>{"pe.widths=[2,8]"}).pe.widths,
            (std::vector<int>{2, 8}));
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: 0.05, 8: 0.2, 64: 1}")),
            "hw.yaml:14: energy.mac_pj key '64' must be a width (e.g. 8) or a weights x activations pair (e.g. 2x8)");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: 0.05, 8: 0.2, 2y8: 0.1}")),
            "hw.yaml:14: energy.mac_pj key '2y8' must be a width (e.g. 8) or a weights x activations pair (e.g. 2x8)");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: 0.05, 8: 0.2, 8x8: 0.1}")),
            "hw.yaml:14: energy.mac_pj.8x8: a 8x8 MAC is energy.mac_pj.8; give it there");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: -0.05, 8: 0.2}")),
            "hw.yaml:14: energy.mac_pj.4 must be zero or positive (pJ), got -0.05");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: x, 8: 0.2}")),
            "hw.yaml:14: energy.mac_pj.4 must be a number, got 'x'");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 02: 0.02, 4: 0.05, 8: 0.2}")),
            "hw.yaml:14: energy.mac_pj.02 gives the energy of a 2x2 MAC a second time");
}

TEST(HwSpecValidation, DuplicateKeys) {
  EXPECT_EQ(error_of("array:\n  rows: 12\n  rows: 13\n"),
            "hw.yaml:3: duplicate key array.rows (first given at line 2)");
  EXPECT_EQ(error_of(render(minimal()) + "array:\n  cols: 3\n"),
            "hw.yaml:13: duplicate key array (first given at line 1)");
  EXPECT_EQ(error_of("name: a\nname: b\n"), "hw.yaml:2: duplicate key name (first given at line 1)");
  EXPECT_EQ(error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 2: 0.02}")),
            "hw.yaml:14: duplicate key energy.mac_pj.2 (first given at line 14)");
}

TEST(HwSpecValidation, EmptyNotAMappingBadSyntax) {
  const std::string empty = "hw.yaml: empty file: expected a mapping of hardware keys (array:, pe:, memory:, ...)";
  EXPECT_EQ(error_of(""), empty);
  EXPECT_EQ(error_of("# just a comment\n\n"), empty);
  EXPECT_EQ(error_of("- 1\n- 2\n"),
            "hw.yaml:1: expected a mapping of hardware keys (array:, pe:, memory:, ...) at the top level, got a list");
  EXPECT_EQ(error_of("hello\n"),
            "hw.yaml:1: expected a mapping of hardware keys (array:, pe:, memory:, ...) at the top level, got "
            "'hello'");
  EXPECT_THAT(error_of("array:\n  rows: [1, 2\n"), StartsWith("hw.yaml:3: invalid YAML: "));
  EXPECT_EQ(error_of("array:\n  rows: 1\n   cols: 2\n"), "hw.yaml:3: invalid YAML: illegal map value");
  EXPECT_EQ(error_of(render(minimal()) + "---\nname: x\n"),
            "hw.yaml:14: a second YAML document ('---'): a hardware config is one mapping");
}

TEST(HwSpecValidation, FileErrorsNameTheFile) {
  const std::string missing = std::string(QSIM_SOURCE_DIR) + "/configs/no-such-config.yaml";
  try {
    load_hw_spec(missing);
    FAIL() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), StartsWith(missing + ": cannot open"));
  }
}

// ---------------------------------------------------------------- overrides

TEST(HwSpecOverrides, AppliedBeforeValidation) {
  const std::vector<std::string> sets = {"memory.ifmap_kib=32", "array.rows=16",
                                         "array.rows=20",       "memory.dram_bytes_per_cycle=unlimited",
                                         "pe.widths=[2, 8]",    "name=swept"};
  const HwSpec hw = load_text(render(minimal()), sets);
  EXPECT_DOUBLE_EQ(hw.memory.ifmap_kib, 32.0);
  EXPECT_EQ(hw.array.rows, 20);  // the last one wins
  EXPECT_TRUE(hw.memory.dram_unlimited);
  EXPECT_EQ(hw.pe.widths, (std::vector<int>{2, 8}));
  EXPECT_EQ(hw.name, "swept");
  // An override can supply a required key, and make an invalid file valid.
  EXPECT_EQ(load_text(render(without(minimal(), "array.rows")), {"array.rows=4"}).array.rows, 4);
  EXPECT_EQ(load_text(render(with(minimal(), "array.rows", "0")), {"array.rows=4"}).array.rows, 4);
}

TEST(HwSpecOverrides, MacEnergyEntries) {
  // One width over the default table, then over a table given in the file.
  const HwSpec a = load_text(render(minimal()), std::vector<std::string>{"energy.mac_pj.4=0.06"});
  EXPECT_DOUBLE_EQ(a.energy.mac_pj.at(4), 0.06);
  EXPECT_DOUBLE_EQ(a.energy.mac_pj.at(8), 0.23);
  const HwSpec b = load_hw_spec(config_path("eyeriss.yaml"), std::vector<std::string>{"energy.mac_pj.2x8=0.04"});
  EXPECT_DOUBLE_EQ(b.energy.mac_pj_pair.at({2, 8}), 0.04);
  EXPECT_DOUBLE_EQ(mac_energy_pj(b, 2, 8), 0.04);
  // A whole table replaces the file's.
  EXPECT_EQ(error_of(render(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: 0.05, 8: 0.2}")), {"energy.mac_pj={8: 1}"}),
            "--set energy.mac_pj={8: 1}: energy.mac_pj has no entry for width 2 (pe.widths is [2, 4, 8])");
  // A cross-key check blames the override that broke it, not the file's line.
  EXPECT_EQ(error_of(render(with(minimal(), "pe.widths", "[2, 4, 8]")), {"pe.base_bits=16", "pe.acc_bits=32"}),
            "--set pe.base_bits=16: pe.widths [2, 4, 8] must include pe.base_bits (16): a PE always runs its full "
            "width");
  const HwSpec c = load_text(render(with(minimal(), "pe.precision", "fixed")), {"energy.mac_pj={8: 1}"});
  EXPECT_EQ(c.energy.mac_pj, (std::map<int, double>{{8, 1.0}}));
}

TEST(HwSpecOverrides, ErrorsNameTheOverride) {
  const std::string text = render(minimal());
  EXPECT_EQ(error_of(text, {"array.rows=0"}), "--set array.rows=0: array.rows must be positive, got 0");
  EXPECT_EQ(error_of(text, {"array.rws=3"}), "--set array.rws=3: unknown key array.rws (did you mean array.rows?)");
  EXPECT_EQ(error_of(text, {"array=3"}), "--set array=3: unknown key array (did you mean array.rows?)");
  EXPECT_EQ(error_of(text, {"array.rows=abc"}), "--set array.rows=abc: array.rows must be an integer, got 'abc'");
  EXPECT_EQ(error_of(text, {"array.rows="}), "--set array.rows=: array.rows must be an integer, got no value");
  EXPECT_EQ(error_of(text, {"array.rows"}),
            "--set array.rows: expected KEY=VALUE with a dotted key, e.g. --set memory.ifmap_kib=32");
  EXPECT_EQ(error_of(text, {"=3"}), "--set =3: expected KEY=VALUE with a dotted key, e.g. --set memory.ifmap_kib=32");
  EXPECT_THAT(error_of(text, {"pe.widths=[2,4"}), StartsWith("--set pe.widths=[2,4: invalid value: "));
  EXPECT_EQ(error_of(text, {"memory.banks=6"}), "--set memory.banks=6: memory.banks must be a power of two, got 6");
  EXPECT_EQ(error_of(text, {"energy.mac_pj.4=-1"}),
            "--set energy.mac_pj.4=-1: energy.mac_pj.4 must be zero or positive (pJ), got -1");
  EXPECT_EQ(error_of(text, {"energy.mac_pj.x=1"}),
            "--set energy.mac_pj.x=1: energy.mac_pj key 'x' must be a width (e.g. 8) or a weights x activations pair "
            "(e.g. 2x8)");
  EXPECT_EQ(
      error_of(with(minimal(), "energy.mac_pj", "{2: 0.01, 4: 0.05, 8: 0.2}"), {"pe.base_bits=16", "pe.acc_bits=32"}),
      "--set pe.base_bits=16: energy.mac_pj has no entry for width 16 (pe.widths is [2, 4, 8, 16])");
  EXPECT_EQ(error_of(text, {"energy.mac_pj=5"}),
            "--set energy.mac_pj=5: energy.mac_pj must be a mapping from width to pJ (e.g. {8: 0.23}), got '5'");
  // A cross-key check points at the key the user wrote: here the override.
  EXPECT_EQ(error_of(text, {"pe.base_bits=32"}),
            "--set pe.base_bits=32: pe.acc_bits must be between 2 * pe.base_bits (64) and 64, got 32");
}

// ---------------------------------------------------------------- PE semantics

TEST(PeSemantics, BitFusionFusesBricks) {
  const HwSpec hw = load_hw_spec(config_path("eyeriss.yaml"));
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 8, 8), 1.0);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 2, 8), 4.0);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 8, 4), 2.0);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 4, 4), 4.0);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 3, 5), 2.0);  // rounded up to 4 x 8
  EXPECT_EQ(effective_width(hw.pe, 1), 2);
  EXPECT_EQ(effective_width(hw.pe, 3), 4);
  EXPECT_EQ(effective_width(hw.pe, 9), 0);
  EXPECT_THROW(macs_per_pe_per_cycle(hw, 16, 8), Error);
  // Mixed pairs without an explicit entry: the geometric mean, exact for w*a scaling.
  EXPECT_DOUBLE_EQ(mac_energy_pj(hw, 2, 8), 0.23 * 2 * 8 / 64);
  EXPECT_DOUBLE_EQ(mac_energy_pj(hw, 4, 4), 0.0575);
}

TEST(PeSemantics, FixedGainsNothingFromNarrowOperands) {
  const HwSpec hw = load_hw_spec(config_path("scalesim-default.yaml"));
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 2, 2), 1.0);
  EXPECT_DOUBLE_EQ(mac_energy_pj(hw, 2, 4), 0.23);
  try {
    macs_per_pe_per_cycle(hw, 16, 8);
    FAIL() << "a 16-bit operand ran on an 8-bit fixed PE";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("scalesim-default.yaml: 16-bit weights x 8-bit activations do not fit"));
  }
}

TEST(PeSemantics, BitSerialCyclesGrowWithBits) {
  HwSpec hw = load_text(render(with(minimal(), "pe.precision", "bitserial")));
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 8, 4), 1.0 / 4);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 2, 3), 1.0 / 3);
  hw = load_text(render(with(with(minimal(), "pe.precision", "bitserial"), "pe.serial", "both")));
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 8, 4), 1.0 / 32);
  EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, 3, 5), 1.0 / 15);
}

// ---------------------------------------------------------------- key table, writer, docs

TEST(HwKeyTable, MatchesParserWriterAndDocs) {
  std::set<std::string> table;
  for (const HwKey& k : hw_spec_keys()) {
    EXPECT_TRUE(table.insert(std::string(k.key)).second) << k.key;
    EXPECT_FALSE(hw_type_name(k).empty());
    EXPECT_FALSE(k.meaning.empty());
    EXPECT_EQ(k.required, k.default_value == "required") << k.key;
  }
  // The writer covers every key (bitserial, so pe.serial is written) and nothing else.
  Pairs p = with(with(minimal(), "pe.precision", "bitserial"), "pe.serial", "both");
  p.insert(p.begin(), {"name", "n"});
  std::set<std::string> written;
  for (const auto& [key, value] : hw_spec_values(load_text(render(p)))) written.insert(key);
  EXPECT_EQ(written, table);

  // docs/hardware-config.md embeds the generated table verbatim.
  const std::string docs = read_file(std::string(QSIM_SOURCE_DIR) + "/docs/hardware-config.md");
  EXPECT_THAT(docs, HasSubstr(hw_keys_markdown()))
      << "regenerate the table in docs/hardware-config.md with `qsim hw --keys`";
}

TEST(HwSpecValidate, DefaultLocatorNamesTheSource) {
  HwSpec hw = load_hw_spec(config_path("eyeriss.yaml"));
  hw.memory.banks = 3;
  try {
    validate_hw_spec(hw);
    FAIL() << "3 banks accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), config_path("eyeriss.yaml") + ": memory.banks must be a power of two, got 3");
  }
}

}  // namespace
}  // namespace qsim
