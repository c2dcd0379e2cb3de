#include "sim/area_model.h"

namespace qsim {

RtlSynthesis rtl_synthesis() {
  // rtl/area/yosys_stat.txt, written by scripts/rtl_area.sh (yosys 0.23, Debian 12)
  // from rtl/*.sv; re-run it after an RTL change and update these numbers.
  // {gate transistors, flip-flops}
  return {{38530, 101},
          {10012, 53},
          {{172766, 1039}, {321164, 1632}, {312474, 1442}, {590036, 2441}},
          {{77506, 695}, {132290, 1049}, {124384, 907}, {217488, 1473}}};
}

ArrayAreaFit fit_array_area(const SynthesizedDesign (&a)[4]) {
  // A(2,2) = 4p + 2r + 2c + f, A(2,4) = 8p + 2r + 4c + f, A(4,2) = 8p + 4r + 2c + f,
  // A(4,4) = 16p + 4r + 4c + f.
  const auto t = [&](int i) { return static_cast<double>(a[i].transistors()); };
  const double a22 = t(0), a24 = t(1), a42 = t(2), a44 = t(3);
  ArrayAreaFit fit;
  fit.pe = ((a44 - a42) - (a24 - a22)) / 4.0;
  fit.col_lane = ((a24 - a22) - 4.0 * fit.pe) / 2.0;
  fit.row_lane = ((a42 - a22) - 4.0 * fit.pe) / 2.0;
  fit.fixed = a22 - 4.0 * fit.pe - 2.0 * fit.row_lane - 2.0 * fit.col_lane;
  return fit;
}

std::optional<AreaEstimate> estimate_area(const HwSpec& hw) {
  if (hw.pe.base_bits != 8 || hw.pe.acc_bits != 32 || hw.pe.precision == PeModel::kBitSerial) return std::nullopt;
  const RtlSynthesis s = rtl_synthesis();
  constexpr double kTransistorsPerGe = 4.0;  // a NAND2
  const ArrayAreaFit fit =
      fit_array_area(hw.pe.precision == PeModel::kBitFusion ? s.array_bitfusion : s.array_fixed8);
  const double array_t = fit.transistors(static_cast<double>(hw.array.rows), static_cast<double>(hw.array.cols));
  const double sram_bits = (hw.memory.ifmap_kib + hw.memory.filter_kib + hw.memory.ofmap_kib) * 1024.0 * 8.0;
  AreaEstimate e;
  e.pe_kge = fit.pe / kTransistorsPerGe / 1000.0;
  e.array_kge = array_t / kTransistorsPerGe / 1000.0;
  e.sram_kge = sram_bits * 6.0 / kTransistorsPerGe / 1000.0;
  e.total_kge = e.array_kge + e.sram_kge;
  return e;
}

}  // namespace qsim
