// The key registry (sim/hw_keys.h) over every key it holds, without naming them
// where it can: typed get/set, the YAML round trip, defaults, the documented
// range messages from a file and from --set, and HwConfig (a config read once,
// keys stated on copies) giving exactly what re-reading the file with the same
// overrides gives.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "graph/error.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/hw_keys.h"
#include "tests/sim/hw_yaml_test_util.h"

namespace qsim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Every key on its own line, so a key's line is known: "hw.yaml:<n>".
const char* const kMinimal =
    "array.rows: 12\n"
    "array.cols: 14\n"
    "array.dataflow: ws\n"
    "array.clock_mhz: 200\n"
    "pe.precision: bitfusion\n"
    "memory.ifmap_kib: 36\n"
    "memory.filter_kib: 36\n"
    "memory.ofmap_kib: 36\n"
    "memory.dram_bytes_per_cycle: 10\n";

HwSpec minimal_hw(const std::vector<std::string>& overrides = {}) {
  return hw_spec_from_yaml_text(kMinimal, "hw.yaml", overrides);
}


// For each key, overrides that give it a valid value other than its value in
// kMinimal (and what else that value needs). The test fails for a key missing here.
const std::map<std::string, std::vector<std::string>>& moves() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"name", {"name=\"chip: v2\""}},
      {"array.rows", {"array.rows=20"}},
      {"array.cols", {"array.cols=24"}},
      {"array.dataflow", {"array.dataflow=is"}},
      {"array.clock_mhz", {"array.clock_mhz=333.5"}},
      {"pe.precision", {"pe.precision=fixed"}},
      {"pe.base_bits", {"pe.base_bits=16"}},
      {"pe.widths", {"pe.widths=[2,8]"}},
      {"pe.acc_bits", {"pe.acc_bits=40"}},
      {"pe.serial", {"pe.precision=bitserial", "pe.serial=both"}},
      {"memory.ifmap_kib", {"memory.ifmap_kib=0.5"}},
      {"memory.filter_kib", {"memory.filter_kib=48"}},
      {"memory.ofmap_kib", {"memory.ofmap_kib=1.25"}},
      {"memory.banks", {"memory.banks=4"}},
      {"memory.double_buffer", {"memory.double_buffer=false"}},
      {"memory.dram_bytes_per_cycle", {"memory.dram_bytes_per_cycle=unlimited"}},
      {"memory.dram_latency_cycles", {"memory.dram_latency_cycles=40"}},
      {"memory.word_bits", {"memory.word_bits=32"}},
      {"memory.pack_narrow", {"memory.pack_narrow=no"}},
      {"energy.mac_pj", {"energy.mac_pj={2: 0.01, 4: 0.05, 8: 0.2, 2x8: 0.03}"}},
      {"energy.sram_read_pj_per_byte", {"energy.sram_read_pj_per_byte=10"}},
      {"energy.sram_write_pj_per_byte", {"energy.sram_write_pj_per_byte=12.5"}},
      {"energy.dram_pj_per_byte", {"energy.dram_pj_per_byte=640"}},
      {"energy.vector_op_pj", {"energy.vector_op_pj=0"}},
      {"vector.lanes", {"vector.lanes=7"}},
      {"vector.fuse_elementwise", {"vector.fuse_elementwise=false"}},
      {"mapping.chunking", {"mapping.chunking=true"}},
  };
  return m;
}

// Another value of the key's type, valid or not (for get/set, which do not validate).
HwValue other_value(const HwKey& k, const HwValue& v) {
  switch (k.type) {
    case HwType::kString: return std::string("other");
    case HwType::kInteger: return std::get<int64_t>(v) + 3;
    case HwType::kNumber: return std::get<double>(v) + 0.5;
    case HwType::kBool: return !std::get<bool>(v);
    case HwType::kChoice:
      for (std::string_view c : k.choices)
        if (c != std::get<std::string>(v)) return std::string(c);
      break;
    case HwType::kNumberOrUnlimited:
      return std::holds_alternative<std::string>(v) ? HwValue(3.5) : HwValue(std::string("unlimited"));
    case HwType::kIntegerList: return std::vector<int>{1, 3};
    case HwType::kMacTable: return MacEnergyTable{{{2, 2}, 0.5}, {{2, 8}, 0.7}};
  }
  ADD_FAILURE() << "no other value for " << k.key;
  return v;
}

TEST(HwKeys, EveryKeySetsOnlyItsOwnField) {
  const HwSpec base = minimal_hw({"pe.precision=bitserial", "name=n"});
  for (const HwKey& k : hw_spec_keys()) {
    SCOPED_TRACE(std::string(k.key));
    HwSpec s = base;
    const HwValue v = other_value(k, hw_get(s, k.key));
    ASSERT_NE(v, hw_get(s, k.key));
    hw_set(s, k.key, v);
    EXPECT_EQ(hw_get(s, k.key), v);
    for (const HwKey& other : hw_spec_keys()) {
      if (other.key != k.key) {
        EXPECT_EQ(hw_get(s, other.key), hw_get(base, other.key)) << other.key;
      }
    }
    // Back to the old value: the spec is the one we started from.
    hw_set(s, k.key, hw_get(base, k.key));
    EXPECT_EQ(s, base);
  }
}

TEST(HwKeys, EveryKeyRoundTripsThroughYaml) {
  std::set<std::string> covered;
  const HwSpec before = minimal_hw();
  for (const HwKey& k : hw_spec_keys()) {
    SCOPED_TRACE(std::string(k.key));
    const auto it = moves().find(std::string(k.key));
    ASSERT_NE(it, moves().end()) << "add a valid value for " << k.key << " to moves()";
    covered.insert(it->first);
    const HwSpec moved = minimal_hw(it->second);
    EXPECT_NE(hw_get(moved, k.key), hw_get(before, k.key));  // the override reached the key
    const std::string yaml = hw_spec_to_yaml(moved);
    HwSpec back = hw_spec_from_yaml_text(yaml, "back.yaml");
    back.source = moved.source;
    EXPECT_EQ(back, moved) << yaml;
    EXPECT_EQ(hw_get(back, k.key), hw_get(moved, k.key));
  }
  EXPECT_EQ(covered.size(), moves().size());  // no stale entries
}

TEST(HwKeys, TypedAccessByDottedKey) {
  HwSpec s = minimal_hw();
  hw_set(s, "array.rows", 16);  // an int literal is an integer value
  EXPECT_EQ(s.array.rows, 16);
  EXPECT_EQ(hw_get(s, "array.rows"), HwValue(int64_t{16}));
  hw_set(s, "array.clock_mhz", 250);  // an integer is accepted for a number
  EXPECT_DOUBLE_EQ(s.array.clock_mhz, 250.0);
  hw_set(s, "array.dataflow", std::string("os"));
  EXPECT_EQ(s.array.dataflow, Dataflow::kOS);
  hw_set(s, "memory.dram_bytes_per_cycle", std::string("unlimited"));
  EXPECT_TRUE(s.memory.dram_unlimited);
  hw_set(s, "memory.dram_bytes_per_cycle", 4.5);
  EXPECT_FALSE(s.memory.dram_unlimited);
  EXPECT_DOUBLE_EQ(s.memory.dram_bytes_per_cycle, 4.5);
  hw_set(s, "pe.widths", std::vector<int>{4, 8});
  EXPECT_EQ(s.pe.widths, (std::vector<int>{4, 8}));
  // Table entries, one at a time.
  hw_set(s, "energy.mac_pj.4", 0.06);
  hw_set(s, "energy.mac_pj.2x8", 0.04);
  EXPECT_DOUBLE_EQ(s.energy.mac_pj.at(4), 0.06);
  EXPECT_DOUBLE_EQ(s.energy.mac_pj_pair.at({2, 8}), 0.04);
  EXPECT_EQ(hw_get(s, "energy.mac_pj.2x8"), HwValue(0.04));
  EXPECT_EQ(std::get<MacEnergyTable>(hw_get(s, "energy.mac_pj")).at({2, 8}), 0.04);

  const auto message = [&](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message([&] { hw_set(s, "array.rows", std::string("ws")); }),
            "array.rows must be an integer, got 'ws'");
  EXPECT_EQ(message([&] { hw_set(s, "array.dataflow", std::string("rs")); }),
            "array.dataflow must be one of os, ws, is, got 'rs'");
  EXPECT_EQ(message([&] { hw_set(s, "pe.widths", 8); }), "pe.widths must be a list of integers, e.g. [2, 4, 8], got 8");
  EXPECT_EQ(message([&] { hw_set(s, "pe.base_bits", int64_t{9999999999}); }),
            "pe.base_bits is out of range, got 9999999999");
  EXPECT_EQ(message([&] { hw_set(s, "array.rws", 1); }), "unknown key array.rws (did you mean array.rows?)");
  EXPECT_EQ(message([&] { hw_get(s, "energy.mac_pj.3"); }), "energy.mac_pj has no entry 3");
  EXPECT_EQ(message([&] { hw_set(s, "energy.mac_pj.8x8", 1.0); }),
            "energy.mac_pj.8x8: a 8x8 MAC is energy.mac_pj.8; give it there");
  EXPECT_EQ(message([&] { hw_set(s, "name", std::string("a\x7f")); }),
            "name must be a string without control characters, got 'a\\x7f'");  // escaped by qsim::Error
  // hw_set does not validate; validate_hw_spec does.
  hw_set(s, "array.rows", 0);
  EXPECT_EQ(message([&] { validate_hw_spec(s); }), "hw.yaml: array.rows must be positive, got 0");
}

TEST(HwKeys, ConstantDefaultsMatchTheirDocumentation) {
  // Defaults derived from other keys are documented in words and checked below.
  const std::set<std::string> derived = {"name", "pe.widths", "energy.mac_pj", "vector.lanes"};
  HwConfig c = hw_config_from_yaml_text(kMinimal, "hw.yaml");
  const HwSpec filled = finish_hw_spec(c);
  int constants = 0;
  for (const HwKey& k : hw_spec_keys()) {
    if (k.required || derived.contains(std::string(k.key))) continue;
    SCOPED_TRACE(std::string(k.key));
    ++constants;
    HwText text;
    text.kind = HwText::Kind::kScalar;
    text.scalar = std::string(k.default_value);
    text.where = "docs";
    EXPECT_EQ(hw_get(filled, k.key), hw_value_from_text(k.key, text));
  }
  EXPECT_EQ(constants, 14);
  EXPECT_EQ(filled.name, "hw");  // file stem
  EXPECT_EQ(filled.vector.lanes, filled.array.cols);
  EXPECT_EQ(filled.pe.widths, (std::vector<int>{2, 4, 8}));
  EXPECT_EQ(filled.energy.mac_pj, default_energy_spec(filled.pe).mac_pj);
}

// The range of every key, violated from the file (file:line) and from --set
// (the override named), with the message docs/hardware-config.md documents.
TEST(HwKeys, EveryRangeViolationHasItsDocumentedMessage) {
  int checked = 0;
  for (const HwKey& k : hw_spec_keys()) {
    const HwRange& r = k.range;
    if (r.kind == HwRange::Kind::kAny) continue;
    SCOPED_TRACE(std::string(k.key));
    const bool integral = k.type == HwType::kInteger;
    // The key tested (a table through one entry) and the violations: value -> problem.
    const std::string key = k.type == HwType::kMacTable ? std::string(k.key) + ".4" : std::string(k.key);
    const std::string unit = integral || k.unit.empty() ? "" : " " + std::string(k.unit);
    std::vector<std::pair<std::string, std::string>> cases;
    const auto limit = [](double x) { return fmt::format("{}", x); };
    switch (r.kind) {
      case HwRange::Kind::kAny: break;
      case HwRange::Kind::kPositive:
        cases.push_back({"0", "must be positive, got 0"});
        cases.push_back({"-3", "must be positive, got -3"});
        cases.push_back({limit(r.max * 2), fmt::format("must be at most {}{}, got {}", limit(r.max), unit,
                                                       limit(r.max * 2))});
        if (r.power_of_two) cases.push_back({"3", "must be a power of two, got 3"});
        if (r.whole_bytes)
          cases.push_back({"0.0001", "must be a whole number of bytes (a multiple of 1/1024 KiB), got 0.0001"});
        break;
      case HwRange::Kind::kNonNegative:
        cases.push_back({"-1", fmt::format("must be zero or positive ({}), got -1", k.unit)});
        break;
      case HwRange::Kind::kBetween: {
        const std::string what = r.power_of_two ? "a power of two from" : "between";
        for (const double v : {r.min - 1, r.max + 1})
          cases.push_back({limit(v), fmt::format("must be {} {} {} {}, got {}", what, limit(r.min),
                                                 r.power_of_two ? "to" : "and", limit(r.max), limit(v))});
        if (r.power_of_two) cases.push_back({"12", "must be a power of two from 8 to 1024, got 12"});
        break;
      }
    }
    for (const auto& [value, problem] : cases) {
      ++checked;
      const std::string set = key + "=" + value;
      EXPECT_EQ(hw_yaml_error(kMinimal, {set}), fmt::format("--set {}: {} {}", set, key, problem));
      // The same value in the file (the table as a whole, with an entry for every width).
      const std::string line =
          k.type == HwType::kMacTable
              ? fmt::format("{}: {{2: 0.01, 4: {}, 8: 0.2}}\n", k.key, value)
              : fmt::format("{}: {}\n", k.key, value);
      const std::string text = std::string(kMinimal) + line;
      const std::string where = k.required ? "" : "hw.yaml:10";
      if (k.required) continue;  // stated twice: a duplicate, not a range error
      EXPECT_EQ(hw_yaml_error(text), fmt::format("{}: {} {}", where, key, problem));
    }
  }
  EXPECT_GE(checked, 40);
  // Required keys from the file too: the value on its own line.
  EXPECT_EQ(hw_yaml_error(std::string("array.rows: 0\n") + std::string(kMinimal).substr(15)),
            "hw.yaml:1: array.rows must be positive, got 0");
  EXPECT_EQ(hw_yaml_error(std::string(kMinimal).replace(std::string(kMinimal).find("200"), 3, "20000")),
            "hw.yaml:4: array.clock_mhz must be at most 10000 MHz, got 20000");
}

TEST(HwKeys, RulesBetweenKeysBlameTheOverride) {
  // The file gives pe.widths; the override of pe.precision breaks it.
  const std::string widths = std::string(kMinimal) + "pe.widths: [2, 4, 8]\n";
  EXPECT_EQ(hw_yaml_error(widths, {"pe.precision=fixed"}),
            "--set pe.precision=fixed: pe.widths must be [8] for pe.precision: fixed (one width, pe.base_bits; "
            "narrower operands run at it), got [2, 4, 8]");
  EXPECT_EQ(hw_yaml_error(widths), "");
  // The file gives pe.serial for a bitserial PE; the override changes the PE.
  const std::string serial =
      std::string(kMinimal).replace(std::string(kMinimal).find("bitfusion"), 9, "bitserial") + "pe.serial: both\n";
  EXPECT_EQ(hw_yaml_error(serial), "");
  EXPECT_EQ(hw_yaml_error(serial, {"pe.precision=fixed"}),
            "--set pe.precision=fixed: pe.serial applies only to pe.precision: bitserial (this PE is fixed)");
  // Stated in the file where it does not apply: the file's line.
  EXPECT_EQ(hw_yaml_error(std::string(kMinimal) + "pe.serial: activation\n"),
            "hw.yaml:10: pe.serial applies only to pe.precision: bitserial (this PE is bitfusion)");
  // A key whose default follows the override: pe.widths from pe.base_bits.
  EXPECT_EQ(hw_yaml_error(kMinimal, {"pe.base_bits=6"}),
            "--set pe.base_bits=6: pe.base_bits must be a power of two >= 2 for pe.precision: bitfusion (2-bit "
            "bricks fuse into it), got 6");
  EXPECT_EQ(hw_yaml_error(kMinimal, {"pe.base_bits=16"}), "");  // widths [2..16], acc 32, the default table follows
  EXPECT_EQ(hw_yaml_error(kMinimal, {"vector.lanes=0"}), "--set vector.lanes=0: vector.lanes must be positive, got 0");
}

// A config read once, overrides typed once and stated on copies, gives exactly
// what reading the file again with the same --set overrides gives: what qsim
// sweep relies on. Defaults that follow a moved key move with it.
TEST(HwConfigTest, StatedOnACopyEqualsReadingAgain) {
  const std::string file = std::string(kMinimal) + "energy.sram_read_pj_per_byte: 4\n";
  const std::vector<std::vector<std::string>> points = {
      {},
      {"array.cols=32"},  // vector.lanes follows
      {"array.rows=8", "array.cols=8"},
      {"pe.base_bits=16", "pe.acc_bits=40"},  // pe.widths and the energy table follow
      {"pe.precision=fixed"},
      {"pe.precision=bitserial", "pe.serial=both"},
      {"pe.widths=[2,8]"},
      {"energy.mac_pj.4=0.06"},                       // one entry over the default table
      {"energy.mac_pj.4=0.06", "pe.base_bits=16"},    // ... which stays when the table follows B
      {"energy.mac_pj.4=0.06", "energy.mac_pj={2: 1, 4: 2, 8: 3}"},  // a whole table replaces it
      {"energy.mac_pj={2: 1, 4: 2, 8: 3}", "energy.mac_pj.2x8=5"},
      {"memory.dram_bytes_per_cycle=unlimited", "memory.ifmap_kib=1.5"},
      {"vector.lanes=3", "array.cols=64"},  // a stated lanes does not follow
      {"name=swept", "array.rows=20", "array.rows=24"},  // the last one wins
  };
  const HwConfig base = hw_config_from_yaml_text(file, "hw.yaml");
  const HwConfig untouched = base;
  for (const auto& sets : points) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(sets, " ")));
    HwConfig point = base;
    for (const std::string& s : sets) apply_hw_override(point, parse_hw_override(s));
    const HwSpec typed = finish_hw_spec(point);
    EXPECT_EQ(typed, hw_spec_from_yaml_text(file, "hw.yaml", sets));
  }
  EXPECT_EQ(base.stated, untouched.stated);
  EXPECT_EQ(base.spec, untouched.spec);

  const HwSpec cols = [&] {
    HwConfig c = base;
    hw_state(c, "array.cols", int64_t{32}, "sweep");
    return finish_hw_spec(c);
  }();
  EXPECT_EQ(cols.vector.lanes, 32);
  const HwSpec pinned = [&] {
    HwConfig c = base;
    hw_state(c, "vector.lanes", int64_t{3}, "sweep");
    hw_state(c, "array.cols", int64_t{32}, "sweep");
    return finish_hw_spec(c);
  }();
  EXPECT_EQ(pinned.vector.lanes, 3);
  // A point's error names where its value was stated.
  HwConfig bad = base;
  hw_state(bad, "array.rows", int64_t{0}, "point 3");
  try {
    finish_hw_spec(bad);
    FAIL() << "0 rows accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "point 3: array.rows must be positive, got 0");
  }
}

TEST(HwConfigTest, OverridesAreTypedOnce) {
  const HwOverride o = parse_hw_override("pe.widths=[8, 2,4]");
  EXPECT_EQ(o.key, "pe.widths");
  EXPECT_EQ(o.value, HwValue(std::vector<int>{2, 4, 8}));  // sorted
  EXPECT_EQ(o.where, "--set pe.widths=[8, 2,4]");
  EXPECT_EQ(parse_hw_override(" array.rows =7").key, "array.rows");
  EXPECT_EQ(parse_hw_override("energy.mac_pj.02x8=0.5").key, "energy.mac_pj.02x8");
  const auto error = [](const std::string& text) {
    try {
      parse_hw_override(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("array.rows=[1"), "--set array.rows=[1: invalid value: end of sequence flow not found");
  EXPECT_EQ(error("array.rows=1.5"), "--set array.rows=1.5: array.rows must be an integer, got 1.5");
  EXPECT_EQ(error("energy.mac_pj={2: 1, 2: 2}"), "--set energy.mac_pj={2: 1, 2: 2}: duplicate key energy.mac_pj.2");
  EXPECT_EQ(error("pe.widths=[2,2]"), "--set pe.widths=[2,2]: pe.widths lists 2 twice");
}

// A file may spell top-level keys dotted: array.rows: 12 is array: {rows: 12}.
TEST(HwYamlSpelling, DottedTopLevelKeysAreTheNestedKeys) {
  const std::string nested =
      "array:\n  rows: 12\n  cols: 14\n  dataflow: ws\n  clock_mhz: 200\n"
      "pe:\n  precision: bitfusion\n"
      "memory:\n  ifmap_kib: 36\n  filter_kib: 36\n  ofmap_kib: 36\n  dram_bytes_per_cycle: 10\n"
      "energy:\n  mac_pj: {2: 0.01, 4: 0.05, 8: 0.2}\n";
  const std::string dotted = std::string(kMinimal) + "energy.mac_pj: {2: 0.01, 4: 0.05, 8: 0.2}\n";
  EXPECT_EQ(hw_spec_from_yaml_text(dotted, "hw.yaml"), hw_spec_from_yaml_text(nested, "hw.yaml"));
  // Mixed spellings, each key once.
  EXPECT_EQ(hw_yaml_error("array:\n  rows: 12\n" + std::string(kMinimal).substr(15)), "");
  EXPECT_EQ(hw_yaml_error("array:\n  rows: 12\narray.rows: 13\n"),
            "hw.yaml:3: duplicate key array.rows (first given at line 2)");
  EXPECT_EQ(hw_yaml_error("arry.rows: 12\n"), "hw.yaml:1: unknown key arry.rows (did you mean array.rows?)");
  EXPECT_EQ(hw_yaml_error("array.rws: 12\n"), "hw.yaml:1: unknown key array.rws (did you mean array.rows?)");
  EXPECT_EQ(hw_yaml_error(std::string(kMinimal) + "energy.mac_pj.4: 0.06\n"),
            "hw.yaml:10: energy.mac_pj.4 is one entry of energy.mac_pj; in a file give it inside the table: "
            "energy: {mac_pj: {4: ...}}");
  EXPECT_EQ(hw_yaml_error(std::string(kMinimal) + "energy:\n  mac_pj.4: 0.06\n"),
            "hw.yaml:11: energy.mac_pj.4 is one entry of energy.mac_pj; in a file give it inside the table: "
            "energy: {mac_pj: {4: ...}}");
  // The writer keeps the nested spelling.
  EXPECT_THAT(hw_spec_to_yaml(hw_spec_from_yaml_text(dotted, "hw.yaml")), HasSubstr("array:\n  rows: 12\n"));
}

TEST(HwKeyTable, RangeAndUnitColumnsComeFromTheDescriptors) {
  const std::string md = hw_keys_markdown();
  EXPECT_THAT(md, StartsWith("| key | type | default | range | unit | meaning |\n"));
  for (const HwKey& k : hw_spec_keys()) {
    SCOPED_TRACE(std::string(k.key));
    EXPECT_THAT(md, HasSubstr(fmt::format("| `{}` | {} | ", k.key, hw_type_name(k))));
    EXPECT_THAT(md, HasSubstr(fmt::format(" | {} | {} | ", hw_range_text(k), k.unit)));
    EXPECT_EQ(k.required, k.fill_default == nullptr);
    EXPECT_NE(k.get, nullptr);
    EXPECT_NE(k.set, nullptr);
    if (k.type == HwType::kChoice) {
      EXPECT_FALSE(k.choices.empty());
    }
  }
  EXPECT_EQ(hw_range_text(*find_hw_key("array.rows")), "1..4096");
  EXPECT_EQ(hw_range_text(*find_hw_key("array.clock_mhz")), "(0, 10000]");
  EXPECT_EQ(hw_range_text(*find_hw_key("memory.word_bits")), "a power of two, 8..1024");
  EXPECT_EQ(hw_type_name(*find_hw_key("array.dataflow")), "os, ws or is");
}

}  // namespace
}  // namespace qsim
