// Report writers: they format a TimingReport exactly, in SCALE-Sim's conventions
// where they promise to (OutputFiles: tests/app/output_paths_test.cpp).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "app/report.h"
#include "graph/error.h"
#include "tests/test_files.h"

namespace qsim::app {
namespace {

namespace fs = std::filesystem;

TimingReport sample() {
  TimingReport r;
  r.backend = "analytical";
  r.model = "m";
  r.hw = "h";
  r.clock_mhz = 200.0;
  LayerTiming a;
  a.name = "conv,1";  // a comma, to check CSV quoting
  a.op = "Conv";
  a.gemm = {100, 64, 27, 1};
  a.wbits = 4;
  a.abits = 8;
  a.folds = 6;
  a.compute_cycles = 1000;
  a.stall_cycles = 200;
  a.total_cycles = 1200;
  a.utilization = 0.5;
  a.mapping_efficiency = 0.75;
  a.compute_util = 0.6;
  a.sram_read = {300, 600, 0};
  a.sram_write = {0, 0, 1200};
  a.dram_read = {120, 60, 0};
  a.dram_write = {0, 0, 30};
  a.energy = {1000.0, 2000.0, 3000.0, 0.0};
  a.bound = Bound::kMemory;
  LayerTiming v;
  v.name = "add";
  v.op = "Add";
  v.is_compute = false;
  v.vector_cycles = 50;
  v.total_cycles = 50;
  v.energy.vector = 500.0;
  LayerTiming b = a;
  b.name = "fc";
  b.op = "Gemm";
  b.stall_cycles = 0;
  b.total_cycles = 1000;
  b.utilization = 1.0;
  b.bound = Bound::kCompute;
  r.layers = {a, v, b};
  return r;
}

TEST(PythonFloat, MatchesPythonStr) {
  EXPECT_EQ(python_float(10.0), "10.0");
  EXPECT_EQ(python_float(0.0), "0.0");
  EXPECT_EQ(python_float(85.89838991226347), "85.89838991226347");
  EXPECT_EQ(python_float(0.01192638802087625), "0.01192638802087625");
  EXPECT_EQ(python_float(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float(1e16), "1e+16");
  EXPECT_EQ(python_float(1e-5), "1e-05");
  EXPECT_EQ(python_float(0.0001), "0.0001");
  EXPECT_EQ(python_float(100.0 / 3.0), "33.333333333333336");
}

TEST(ScaleSimReports, ComputeReportFormat) {
  const std::string s = format_scalesim_compute_report(sample());
  EXPECT_EQ(s,
            "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,\n"
            "0, 1199, 200, 50.0, 75.0, 60.0,\n"
            "1, 999, 0, 100.0, 75.0, 60.0,\n");
}

TEST(ScaleSimReports, BandwidthReportFormat) {
  const std::string s = format_scalesim_bandwidth_report(sample());
  EXPECT_EQ(s,
            "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, "
            "Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n"
            "0, 0.25, 0.5, 1.0, 0.1, 0.05, 0.025,\n"
            "1, 0.3, 0.6, 1.2, 0.12, 0.06, 0.03,\n");
}

TEST(ScaleSimReports, HeadersMatchReferenceRunsByteForByte) {
  const fs::path run = fs::path(QSIM_SCALESIM_DIR) / "runs/resnet18_eyeriss_ws";
  ASSERT_TRUE(fs::exists(run / "COMPUTE_REPORT.csv")) << run << " is missing (tests/data/scalesim)";
  const auto first_line = [](const std::string& s) { return s.substr(0, s.find('\n') + 1); };
  EXPECT_EQ(first_line(format_scalesim_compute_report(sample())), first_line(slurp(run / "COMPUTE_REPORT.csv")));
  EXPECT_EQ(first_line(format_scalesim_bandwidth_report(sample())),
            first_line(slurp(run / "BANDWIDTH_REPORT.csv")));
}

TEST(Csv, HeaderRowsAndQuoting) {
  const std::string s = format_csv(sample());
  std::istringstream in(s);
  std::string header, row;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("layer,op,is_compute,M,N,K,repeats,wbits,abits,folds,compute_cycles,stall_cycles,", 0), 0u);
  for (const char* col : {"total_cycles", "sram_bytes", "dram_bytes", "energy_pj", "bound", "utilization_pct"})
    EXPECT_NE(header.find(col), std::string::npos) << col;
  std::getline(in, row);
  EXPECT_EQ(row.rfind("\"conv,1\",Conv,1,100,64,27,1,4,8,6,1000,200,0,1200,50,75,60,0,300,600,0,1200,2100,"
                      "120,60,0,30,210,1000,2000,3000,0,6000,memory",
                      0),
            0u)
      << row;
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 2);
}

TEST(Json, KeysAndValues) {
  const nlohmann::json j = to_json(sample());
  EXPECT_EQ(j.at("total_cycles"), 2250);
  EXPECT_EQ(j.at("stall_cycles"), 200);
  EXPECT_DOUBLE_EQ(j.at("latency_ms").get<double>(), 2250 / 200e3);
  EXPECT_DOUBLE_EQ(j.at("energy_uj").get<double>(), (6000.0 * 2 + 500.0) * 1e-6);
  ASSERT_EQ(j.at("layers").size(), 3u);
  const auto& l = j.at("layers")[0];
  EXPECT_EQ(l.at("name"), "conv,1");
  EXPECT_EQ(l.at("wbits"), 4);
  EXPECT_EQ(l.at("abits"), 8);
  EXPECT_EQ(l.at("compute_cycles"), 1000);
  EXPECT_EQ(l.at("stall_cycles"), 200);
  EXPECT_EQ(l.at("total_cycles"), 1200);
  EXPECT_EQ(l.at("sram_bytes"), 2100);
  EXPECT_EQ(l.at("dram_bytes"), 210);
  EXPECT_DOUBLE_EQ(l.at("energy_pj").get<double>(), 6000.0);
  EXPECT_EQ(l.at("bound"), "memory");
  EXPECT_EQ(j.at("layers")[1].at("is_compute"), false);
}

TEST(Table, RowsAndTotals) {
  const std::string s = format_table(sample());
  EXPECT_NE(s.find("conv,1"), std::string::npos);
  EXPECT_NE(s.find("total: 3 layers (2 on the array), 2250 cycles (compute 2000, stall 200, vector 50), "
                   "latency 0.011250 ms at 200 MHz"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("energy 0.01"), std::string::npos) << s;
}

}  // namespace
}  // namespace qsim::app
