// SCALE-Sim .cfg import: the reference configs map onto HwSpec as SCALE-Sim
// reads them, and every defect names the file and line.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "graph/error.h"
#include "sim/config/scalesim_cfg.h"

namespace qsim {
namespace {

const std::string kConfigs = std::string(QSIM_SCALESIM_DIR) + "/configs/";

std::string error_of(const std::string& text) {
  try {
    parse_scalesim_cfg(text, "t.cfg");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kValid = R"([general]
run_name = t

[architecture_presets]
ArrayHeight:    4
ArrayWidth:     8
IfmapSramSzkB:   2
FilterSramSzkB:  3
OfmapSramSzkB:   1
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 4
Dataflow : is
MemoryBanks:   1

[run_presets]
InterfaceBandwidth: USER
)";

TEST(ScaleSimCfg, ShippedEyerissIsCalcModeWs) {
  const std::string path = kConfigs + "shipped_v2/eyeriss.cfg";
  const ScaleSimConfig c = load_scalesim_cfg(path);
  EXPECT_EQ(c.run_name, "eyeriss");
  EXPECT_EQ(c.hw.name, "eyeriss");
  EXPECT_EQ(c.hw.array.rows, 12);
  EXPECT_EQ(c.hw.array.cols, 14);
  EXPECT_EQ(c.hw.array.dataflow, Dataflow::kWS);
  EXPECT_DOUBLE_EQ(c.hw.memory.ifmap_kib, 36.0);  // 36 * 1024 one-byte words
  EXPECT_DOUBLE_EQ(c.hw.memory.filter_kib, 36.0);
  EXPECT_DOUBLE_EQ(c.hw.memory.ofmap_kib, 36.0);
  EXPECT_TRUE(c.hw.memory.dram_unlimited);  // CALC: Bandwidth is not used
  EXPECT_FALSE(c.user_bandwidth);
  EXPECT_TRUE(c.hw.memory.double_buffer);
  EXPECT_EQ(c.hw.memory.dram_latency_cycles, 0);
  EXPECT_EQ(c.hw.memory.word_bits, 8);
  EXPECT_EQ(c.hw.pe.precision, PeModel::kFixed);
  EXPECT_EQ(c.hw.pe.base_bits, 8);
  EXPECT_EQ(c.hw.pe.widths, std::vector<int>{8});
  EXPECT_DOUBLE_EQ(c.hw.array.clock_mhz, kScaleSimClockMhz);
  EXPECT_FALSE(c.hw.energy.mac_pj.empty());
}

TEST(ScaleSimCfg, GoogleUserModeUsesBandwidth) {
  const std::string path = kConfigs + "google_user_bw10_os.cfg";
  const ScaleSimConfig c = load_scalesim_cfg(path);
  EXPECT_EQ(c.hw.array.rows, 256);
  EXPECT_EQ(c.hw.array.cols, 256);
  EXPECT_EQ(c.hw.array.dataflow, Dataflow::kOS);
  EXPECT_DOUBLE_EQ(c.hw.memory.ifmap_kib, 6144.0);
  EXPECT_DOUBLE_EQ(c.hw.memory.ofmap_kib, 2048.0);
  EXPECT_TRUE(c.user_bandwidth);
  EXPECT_FALSE(c.hw.memory.dram_unlimited);
  EXPECT_DOUBLE_EQ(c.hw.memory.dram_bytes_per_cycle, 10.0);
}

TEST(ScaleSimCfg, EveryReferenceConfigLoads) {
  ASSERT_TRUE(std::filesystem::is_directory(kConfigs)) << kConfigs << " is missing (tests/data/scalesim)";
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kConfigs)) {
    if (e.path().extension() != ".cfg") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(load_scalesim_cfg(e.path().string()));
    ++n;
  }
  EXPECT_GE(n, 19);
}

TEST(ScaleSimCfg, KeysAreCaseInsensitiveAndFirstBandwidthWins) {
  std::string text = kValid;
  text.replace(text.find("Bandwidth : 4"), 13, "bandwidth = 6, 2, 9");
  text.replace(text.find("ArrayHeight"), 11, "ARRAYHEIGHT");
  const ScaleSimConfig c = parse_scalesim_cfg(text, "t.cfg");
  EXPECT_EQ(c.hw.array.rows, 4);
  EXPECT_EQ(c.hw.array.cols, 8);
  EXPECT_EQ(c.hw.array.dataflow, Dataflow::kIS);
  EXPECT_DOUBLE_EQ(c.hw.memory.ifmap_kib, 2.0);
  EXPECT_DOUBLE_EQ(c.hw.memory.filter_kib, 3.0);
  EXPECT_DOUBLE_EQ(c.hw.memory.ofmap_kib, 1.0);
  EXPECT_DOUBLE_EQ(c.hw.memory.dram_bytes_per_cycle, 6.0);
}

TEST(ScaleSimCfg, CommentsAndTopologyPath) {
  std::string text = std::string("# a comment\n; another\n") + kValid +
                     "\n[network_presets]\nTopologyCsvLoc: \"topologies/x.csv\"\n";
  const ScaleSimConfig c = parse_scalesim_cfg(text, "t.cfg");
  EXPECT_EQ(c.topology_path, "topologies/x.csv");
}

TEST(ScaleSimCfg, UnknownSectionNamesFileAndLine) {
  const std::string e = error_of(std::string(kValid) + "[sparsity]\nSparsitySupport : true\n");
  EXPECT_NE(e.find("t.cfg:19:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown section [sparsity]"), std::string::npos) << e;
}

TEST(ScaleSimCfg, UnknownKeyNamesFileAndLine) {
  std::string text = kValid;
  text.replace(text.find("MemoryBanks:   1"), 16, "MemoryBank: 1");
  const std::string e = error_of(text);
  EXPECT_NE(e.find("t.cfg:15: unknown key 'MemoryBank'"), std::string::npos) << e;
}

TEST(ScaleSimCfg, BadValues) {
  const auto with = [](std::string_view from, std::string_view to) {
    std::string text = kValid;
    text.replace(text.find(from), from.size(), to);
    return error_of(text);
  };
  std::string e = with("ArrayHeight:    4", "ArrayHeight: 4.5");
  EXPECT_NE(e.find("t.cfg:5: bad value '4.5' for ArrayHeight"), std::string::npos) << e;
  e = with("ArrayWidth:     8", "ArrayWidth: 0");
  EXPECT_NE(e.find("t.cfg:6: bad value '0' for ArrayWidth: must be at least 1"), std::string::npos) << e;
  e = with("Dataflow : is", "Dataflow : WS");
  EXPECT_NE(e.find("t.cfg:14: bad value 'WS' for Dataflow"), std::string::npos) << e;
  e = with("InterfaceBandwidth: USER", "InterfaceBandwidth: FAST");
  EXPECT_NE(e.find("t.cfg:18: bad value 'FAST' for InterfaceBandwidth"), std::string::npos) << e;
  e = with("Bandwidth : 4", "Bandwidth : 4,x");
  EXPECT_NE(e.find("t.cfg:13: bad value '4,x' for Bandwidth"), std::string::npos) << e;
  e = with("IfmapOffset:    0", "IfmapOffset: -1");
  EXPECT_NE(e.find("t.cfg:10: bad value '-1' for IfmapOffset"), std::string::npos) << e;
  e = with("IfmapSramSzkB:   2", "IfmapSramSzkB:");
  EXPECT_NE(e.find("t.cfg:7: bad value '' for IfmapSramSzkB"), std::string::npos) << e;
}

TEST(ScaleSimCfg, MissingRequiredKeyAndSection) {
  std::string text = kValid;
  text.erase(text.find("Dataflow : is\n"), 14);
  std::string e = error_of(text);
  EXPECT_NE(e.find("t.cfg:4: section [architecture_presets] lacks required key 'Dataflow'"), std::string::npos) << e;

  text = kValid;
  text.erase(text.find("[run_presets]"));
  e = error_of(text);
  EXPECT_NE(e.find("t.cfg: missing section [run_presets]"), std::string::npos) << e;

  text = kValid;
  text.erase(text.find("Bandwidth : 4\n"), 14);
  e = error_of(text);
  EXPECT_NE(e.find("t.cfg:17: InterfaceBandwidth USER needs Bandwidth"), std::string::npos) << e;
}

TEST(ScaleSimCfg, SyntaxErrors) {
  std::string e = error_of(std::string("ArrayHeight: 4\n") + kValid);
  EXPECT_NE(e.find("t.cfg:1: key 'ArrayHeight' before any [section]"), std::string::npos) << e;
  e = error_of(std::string(kValid) + "[general]\n");
  EXPECT_NE(e.find("t.cfg:19: duplicate section [general]"), std::string::npos) << e;
  e = error_of(std::string(kValid) + "just words\n");
  EXPECT_NE(e.find("t.cfg:19: expected 'key = value'"), std::string::npos) << e;
  std::string text = kValid;
  text.insert(text.find("ArrayWidth"), "arrayheight = 5\n");
  e = error_of(text);
  EXPECT_NE(e.find("t.cfg:6: duplicate key 'arrayheight'"), std::string::npos) << e;
}

TEST(ScaleSimCfg, MissingFile) {
  try {
    load_scalesim_cfg("/nonexistent/x.cfg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.cfg"), std::string::npos);
  }
}

}  // namespace
}  // namespace qsim
