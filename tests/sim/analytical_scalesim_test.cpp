// The analytical backend against SCALE-Sim v2's own reports (outside reference):
// every CALC-mode run in tests/data/scalesim (runs/ and the tiny traces/ runs;
// see its README). In 8-bit fixed mode with unlimited DRAM bandwidth our compute cycles - 1
// must equal SCALE-Sim's "Total Cycles" on every layer, and our mapping
// efficiency, compute utilisation and array-side SRAM reads must equal its.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/file_util.h"
#include "graph/scalesim_topology.h"
#include "sim/analytical/analytical_backend.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

const fs::path kRef = fs::path(QSIM_SCALESIM_DIR);

// Architecture of each SCALE-Sim config, written out by hand (the .cfg reader is
// another component); checked against the file's text below so a typo fails.
struct CfgValues {
  int64_t rows, cols;
  double ifmap_kb, filter_kb, ofmap_kb;
  Dataflow dataflow;
};
const std::map<std::string, CfgValues>& cfg_table() {
  static const std::map<std::string, CfgValues> t = {
      {"eyeriss_os.cfg", {12, 14, 36, 36, 36, Dataflow::kOS}},
      {"eyeriss_ws.cfg", {12, 14, 36, 36, 36, Dataflow::kWS}},
      {"eyeriss_is.cfg", {12, 14, 36, 36, 36, Dataflow::kIS}},
      {"google_os.cfg", {256, 256, 6144, 6144, 2048, Dataflow::kOS}},
      {"google_ws.cfg", {256, 256, 6144, 6144, 2048, Dataflow::kWS}},
      {"google_is.cfg", {256, 256, 6144, 6144, 2048, Dataflow::kIS}},
      {"arr4x4_os_CALC.cfg", {4, 4, 1, 1, 1, Dataflow::kOS}},
      {"arr4x4_ws_CALC.cfg", {4, 4, 1, 1, 1, Dataflow::kWS}},
      {"arr4x4_is_CALC.cfg", {4, 4, 1, 1, 1, Dataflow::kIS}},
  };
  return t;
}

// "Key : value" / "Key: value" lines of a .cfg, values as written.
std::map<std::string, std::string> cfg_keys(const fs::path& p) {
  std::map<std::string, std::string> kv;
  std::istringstream in(read_file(p.string()));
  std::string line;
  while (std::getline(in, line)) {
    const auto sep = line.find_first_of(":=");
    if (sep == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    kv[trim(line.substr(0, sep))] = trim(line.substr(sep + 1));
  }
  return kv;
}

HwSpec hw_from(const std::string& cfg_name) {
  const CfgValues& v = cfg_table().at(cfg_name);
  const auto kv = cfg_keys(kRef / "configs" / cfg_name);
  EXPECT_EQ(std::stoll(kv.at("ArrayHeight")), v.rows) << cfg_name;
  EXPECT_EQ(std::stoll(kv.at("ArrayWidth")), v.cols) << cfg_name;
  EXPECT_EQ(std::stod(kv.at("IfmapSramSzkB")), v.ifmap_kb) << cfg_name;
  EXPECT_EQ(std::stod(kv.at("FilterSramSzkB")), v.filter_kb) << cfg_name;
  EXPECT_EQ(std::stod(kv.at("OfmapSramSzkB")), v.ofmap_kb) << cfg_name;
  EXPECT_EQ(kv.at("Dataflow"), std::string(dataflow_name(v.dataflow))) << cfg_name;
  EXPECT_EQ(kv.at("InterfaceBandwidth"), "CALC") << cfg_name;

  HwSpec hw;
  hw.name = cfg_name;
  hw.source = (kRef / "configs" / cfg_name).string();
  hw.array = {v.rows, v.cols, v.dataflow, 100.0};
  hw.pe.precision = PeModel::kFixed;
  hw.pe.base_bits = 8;
  hw.pe.widths = {8};
  hw.memory.ifmap_kib = v.ifmap_kb;  // SCALE-Sim's kB are 1024 one-byte words
  hw.memory.filter_kib = v.filter_kb;
  hw.memory.ofmap_kib = v.ofmap_kb;
  hw.memory.double_buffer = true;
  hw.memory.dram_unlimited = true;  // CALC: transfers never stall
  hw.memory.word_bits = 8;
  hw.vector.lanes = v.cols;
  return hw;
}

// Rows of a SCALE-Sim report CSV (header dropped), fields as strings.
std::vector<std::vector<std::string>> csv_rows(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(p.string()));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \r\n") == std::string::npos) continue;
    std::vector<std::string> f;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) f.push_back(cell);
    rows.push_back(f);
  }
  return rows;
}

struct CalcRun {
  std::string label;
  fs::path dir;
  fs::path topology;
  std::string config;
};

std::vector<CalcRun> calc_runs() {
  std::vector<CalcRun> out;
  if (!fs::is_directory(kRef / "runs")) return out;  // the caller's size check fails, naming kRef
  for (const auto& e : fs::directory_iterator(kRef / "runs")) {
    const fs::path d = e.path();
    auto word = [&](const char* f) {
      std::string s = read_file((d / f).string());
      s.erase(s.find_last_not_of(" \r\n") + 1);
      return s;
    };
    if (word("mode") != "CALC") continue;
    out.push_back({d.filename().string(), d, kRef / "topologies" / word("topology"), word("config")});
  }
  for (const char* form : {"gemm", "conv"})
    for (const char* df : {"os", "ws", "is"}) {
      const std::string name = std::string("arr4x4_") + df + "_CALC";
      out.push_back({std::string("traces/out_") + form + "/" + name,
                     kRef / "traces" / (std::string("out_") + form) / name,
                     kRef / "topologies" / (std::string(form) == "gemm" ? "tiny_gemm_mnk.csv" : "tiny_conv.csv"),
                     name + ".cfg"});
    }
  std::sort(out.begin(), out.end(), [](const CalcRun& a, const CalcRun& b) { return a.label < b.label; });
  return out;
}

TEST(AnalyticalScaleSim, EveryCalcRunMatchesComputeReport) {
  const auto runs = calc_runs();
  ASSERT_GE(runs.size(), 15u) << "reference runs missing under " << kRef;
  int64_t layers_checked = 0;
  for (const CalcRun& run : runs) {
    SCOPED_TRACE(run.label);
    const HwSpec hw = hw_from(run.config);
    const LayerGraph g = import_scalesim_topology(run.topology.string());
    const TimingReport rep = AnalyticalBackend().run(g, PrecisionAlloc::uniform(g, 8, 8), hw);
    const auto compute = csv_rows(run.dir / "COMPUTE_REPORT.csv");
    const auto access = csv_rows(run.dir / "DETAILED_ACCESS_REPORT.csv");
    ASSERT_EQ(rep.layers.size(), compute.size());
    ASSERT_EQ(access.size(), compute.size());
    for (std::size_t i = 0; i < compute.size(); ++i) {
      const LayerTiming& r = rep.layers[i];
      SCOPED_TRACE(r.name);
      ASSERT_TRUE(r.is_compute);
      // LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %
      EXPECT_EQ(r.compute_cycles - 1, std::stoll(compute[i][1]));
      EXPECT_EQ(r.stall_cycles, std::stoll(compute[i][2]));
      EXPECT_NEAR(r.mapping_efficiency * 100.0, std::stod(compute[i][4]), 1e-9);
      EXPECT_NEAR(r.compute_util * 100.0, std::stod(compute[i][5]), 1e-9);
      const double overall = 100.0 * static_cast<double>(r.gemm.macs()) /
                             (static_cast<double>(r.compute_cycles - 1) * static_cast<double>(hw.array.rows * hw.array.cols));
      EXPECT_NEAR(overall, std::stod(compute[i][3]), 1e-9);
      // DETAILED_ACCESS_REPORT: SRAM IFMAP Reads (col 3), SRAM Filter Reads (col 6), in 1-byte words.
      EXPECT_EQ(r.sram_read.ifmap, std::stoll(access[i][3]));
      EXPECT_EQ(r.sram_read.filter, std::stoll(access[i][6]));
      ++layers_checked;
    }
  }
  EXPECT_GE(layers_checked, 239);  // every layer of every CALC reference run
}

}  // namespace
}  // namespace qsim
