#include "sim/hw_figures.h"

namespace qsim {

std::vector<HwFigure> hw_figures() {
  return {
      {"pes", "", "processing elements, array.rows x array.cols",
       [](const HwSpec& hw) { return static_cast<double>(hw.array.rows * hw.array.cols); }},
      {"total_sram_kib", "KiB", "on-chip buffers, memory.ifmap_kib + filter_kib + ofmap_kib",
       [](const HwSpec& hw) { return hw.memory.ifmap_kib + hw.memory.filter_kib + hw.memory.ofmap_kib; }},
  };
}

std::optional<HwFigure> find_hw_figure(std::string_view name) {
  for (const HwFigure& f : hw_figures())
    if (f.name == name) return f;
  return std::nullopt;
}

}  // namespace qsim
