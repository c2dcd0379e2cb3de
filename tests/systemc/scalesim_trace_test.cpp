// The cycle-level array against SCALE-Sim v2's per-cycle SRAM traces of its tiny
// reference cases (tests/data/scalesim: 4x4 arrays, CALC mode, GEMMs 4x4x4, 8x8x8,
// 10x6x7 and a 6x6x2 convolution with 5 3x3 filters), for all three dataflows:
// every SRAM read and write happens in the same cycle at the same address, except
// the one place docs/systemc.md explains cycle by cycle: os output writes.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "graph/scalesim_topology.h"
#include "sim/config/scalesim_cfg.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim {
namespace {

const std::filesystem::path kData = std::filesystem::path(QSIM_SOURCE_DIR) / "tests/data/scalesim";

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << p;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Rows of a trace: cycle, then one address per lane (-1 idle).
std::vector<std::vector<int64_t>> parse(const std::string& text) {
  std::vector<std::vector<int64_t>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<int64_t> row;
    std::istringstream f(line);
    for (std::string cell; std::getline(f, cell, ',');) row.push_back(std::stoll(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

// (address -> cycle) of every access in a trace.
std::map<int64_t, int64_t> cycle_of(const std::vector<std::vector<int64_t>>& rows) {
  std::map<int64_t, int64_t> m;
  for (const auto& r : rows)
    for (std::size_t i = 1; i < r.size(); ++i)
      if (r[i] >= 0) {
        EXPECT_TRUE(m.emplace(r[i], r[0]).second) << "address " << r[i] << " accessed twice";
      }
  return m;
}

struct Case {
  const char* topology;
  const char* form;  // traces/out_<form>
};

void check(const char* dataflow, const Case& c) {
  SCOPED_TRACE(std::string(dataflow) + " " + c.topology);
  const std::string run = std::string("arr4x4_") + dataflow + "_CALC";
  const HwSpec hw = load_scalesim_cfg((kData / "configs" / (run + ".cfg")).string()).hw;
  const LayerGraph g = import_scalesim_topology((kData / "topologies" / c.topology).string());
  std::map<std::size_t, std::map<std::string, std::string>> traces;
  SystemcOptions o;
  o.trace = [&](std::size_t i, std::vector<std::pair<std::string, std::string>> files) {
    for (auto& [name, text] : files) traces[i][name] = std::move(text);
  };
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, false});
  SystemcBackend(o).run(g, std::span<const LayerPrecision>(p), hw);
  ASSERT_EQ(traces.size(), g.compute_layers().size());
  for (const auto& [i, files] : traces) {
    const std::filesystem::path ref = kData / "traces" / (std::string("out_") + c.form) / run / ("layer" + std::to_string(i));
    for (const char* f : {"IFMAP_SRAM_TRACE.csv", "FILTER_SRAM_TRACE.csv"})
      EXPECT_EQ(files.at(f), read(ref / f)) << "layer " << i << " " << f;
    const std::string want = read(ref / "OFMAP_SRAM_TRACE.csv");
    const std::string& got = files.at("OFMAP_SRAM_TRACE.csv");
    if (std::string(dataflow) != "os") {
      EXPECT_EQ(got, want) << "layer " << i;
      continue;
    }
    // os (docs/systemc.md, "Where qsim's array differs from SCALE-Sim"): the same rows
    // (cycles) and lanes, but output Y[m][n] of a fold whose tile starts at row m0 and
    // uses u of the R rows is written in the cycle of its last MAC, T-1 + (m-m0) + c
    // after the fold starts, where SCALE-Sim flips the tile padded to R rows and writes
    // it in T-1 + c + (R-1-(m-m0)).
    const auto gr = parse(got), wr = parse(want);
    ASSERT_EQ(gr.size(), wr.size());
    for (std::size_t k = 0; k < gr.size(); ++k) ASSERT_EQ(gr[k][0], wr[k][0]);
    const auto gc = cycle_of(gr), wc = cycle_of(wr);
    ASSERT_EQ(gc.size(), wc.size());
    const int64_t R = hw.array.rows, N = g.stats(g.compute_layers()[i]).gemm.N;
    for (const auto& [addr, cycle] : wc) {
      ASSERT_TRUE(gc.count(addr)) << addr;
      const int64_t r = ((addr - 20000000) / N) % R;  // the output's row within its fold's tile
      EXPECT_EQ(gc.at(addr) - cycle, r - (R - 1 - r)) << "layer " << i << " address " << addr;
    }
  }
}

const Case kCases[] = {{"tiny_gemm_mnk.csv", "gemm"}, {"tiny_conv.csv", "conv"}};

TEST(ScaleSimTraces, OutputStationary) {
  for (const Case& c : kCases) check("os", c);
}
TEST(ScaleSimTraces, WeightStationary) {
  for (const Case& c : kCases) check("ws", c);
}
TEST(ScaleSimTraces, InputStationary) {
  for (const Case& c : kCases) check("is", c);
}

}  // namespace
}  // namespace qsim
