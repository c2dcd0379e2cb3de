#include "sim/hw_figures.h"

#include <stdexcept>
#include <string>

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

double hw_figure(const HwSpec& hw, std::string_view name) {
  const std::optional<HwFigure> f = find_hw_figure(name);
  if (!f) throw std::logic_error("hw_figure: no figure named '" + std::string(name) + "'");
  return f->value(hw);
}

}  // namespace qsim
