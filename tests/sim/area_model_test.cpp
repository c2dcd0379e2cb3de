// The area figure (sim/area_model.h): its synthesis constants are the committed
// yosys report's (rtl/area/yosys_stat.txt, scripts/rtl_area.sh), the fit reproduces
// both synthesized arrays, and the figure grows with the HwSpec as it should.
#include "sim/area_model.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace qsim {
namespace {

// rtl/area/yosys_stat.txt: per design, the gate transistor estimate and the flip-flop cells.
std::map<std::string, SynthesizedDesign> report_designs() {
  std::ifstream in(std::string(QSIM_SOURCE_DIR) + "/rtl/area/yosys_stat.txt");
  std::map<std::string, SynthesizedDesign> d;
  std::string line, name;
  while (std::getline(in, line)) {
    if (line.rfind("=== ", 0) == 0) {
      std::istringstream s(line.substr(4));
      s >> name;
      continue;
    }
    std::istringstream s(line);
    std::string cell;
    int64_t n = 0;
    const std::string key = "Estimated number of transistors:";
    if (const auto p = line.find(key); p != std::string::npos)
      d[name].gate_transistors = std::stoll(line.substr(p + key.size()));
    else if (s >> cell >> n && cell.find("DFF") != std::string::npos)
      d[name].flops += n;
  }
  return d;
}

HwSpec spec(PeModel m, int64_t rows, int64_t cols, double kib) {
  HwSpec hw;
  hw.array = {rows, cols, Dataflow::kWS, 200.0};
  hw.pe.precision = m;
  hw.pe.widths = {2, 4, 8};
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = kib;
  return hw;
}

TEST(AreaModel, ConstantsAreTheCommittedYosysReport) {
  const auto d = report_designs();
  const RtlSynthesis s = rtl_synthesis();
  ASSERT_EQ(d.size(), 10u) << "rtl/area/yosys_stat.txt: ten designs";
  const std::pair<std::string, SynthesizedDesign> want[] = {
      {"pe_bitfusion", s.pe_bitfusion},           {"pe_fixed8", s.pe_fixed8},
      {"array_bitfusion_2x2", s.array_bitfusion[0]}, {"array_bitfusion_2x4", s.array_bitfusion[1]},
      {"array_bitfusion_4x2", s.array_bitfusion[2]}, {"array_bitfusion_4x4", s.array_bitfusion[3]},
      {"array_fixed8_2x2", s.array_fixed8[0]},       {"array_fixed8_2x4", s.array_fixed8[1]},
      {"array_fixed8_4x2", s.array_fixed8[2]},       {"array_fixed8_4x4", s.array_fixed8[3]}};
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(d.count(name)) << name;
    EXPECT_EQ(d.at(name).gate_transistors, w.gate_transistors) << name;
    EXPECT_EQ(d.at(name).flops, w.flops) << name;
    EXPECT_GT(w.flops, 0) << name;
  }
  // The Bit Fusion PE is the bigger one (Bit Fusion's own table: about 2.5x).
  EXPECT_GT(s.pe_bitfusion.transistors(), 2 * s.pe_fixed8.transistors());
}

TEST(AreaModel, TheFitReproducesTheSynthesizedArrays) {
  const RtlSynthesis s = rtl_synthesis();
  const int64_t sizes[4][2] = {{2, 2}, {2, 4}, {4, 2}, {4, 4}};
  for (PeModel m : {PeModel::kBitFusion, PeModel::kFixed}) {
    const auto& arrays = m == PeModel::kBitFusion ? s.array_bitfusion : s.array_fixed8;
    const ArrayAreaFit fit = fit_array_area(arrays);
    EXPECT_GT(fit.pe, 0);
    EXPECT_GT(fit.row_lane, 0);
    EXPECT_GT(fit.col_lane, 0);
    EXPECT_GT(fit.fixed, 0);
    for (int i = 0; i < 4; ++i) {
      const auto a = estimate_area(spec(m, sizes[i][0], sizes[i][1], 0));
      ASSERT_TRUE(a.has_value());
      EXPECT_NEAR(a->array_kge, static_cast<double>(arrays[i].transistors()) / 4000.0, 1e-9) << i;
      EXPECT_DOUBLE_EQ(a->sram_kge, 0.0);
    }
  }
}

TEST(AreaModel, GrowsWithTheArrayTheSramAndThePe) {
  const auto small = *estimate_area(spec(PeModel::kBitFusion, 8, 8, 16));
  const auto big = *estimate_area(spec(PeModel::kBitFusion, 16, 16, 16));
  const auto fixed = *estimate_area(spec(PeModel::kFixed, 16, 16, 16));
  const auto more_sram = *estimate_area(spec(PeModel::kBitFusion, 16, 16, 64));
  EXPECT_GT(big.array_kge, 3.5 * small.array_kge);
  EXPECT_LT(fixed.array_kge, big.array_kge);
  EXPECT_DOUBLE_EQ(more_sram.sram_kge, 4 * big.sram_kge);
  // 3 x 16 KiB at 6 transistors per bit.
  EXPECT_DOUBLE_EQ(big.sram_kge, 3 * 16 * 1024 * 8 * 6 / 4000.0);
  EXPECT_DOUBLE_EQ(big.total_kge, big.array_kge + big.sram_kge);
  EXPECT_FALSE(estimate_area(spec(PeModel::kBitSerial, 8, 8, 16)).has_value());
  HwSpec wide = spec(PeModel::kFixed, 8, 8, 16);
  wide.pe.base_bits = 16;
  EXPECT_FALSE(estimate_area(wide).has_value());
  HwSpec narrow_acc = spec(PeModel::kBitFusion, 8, 8, 16);
  narrow_acc.pe.acc_bits = 24;
  EXPECT_FALSE(estimate_area(narrow_acc).has_value());
}

}  // namespace
}  // namespace qsim
