// Figures derived from a HwSpec that budgets are stated on: the PE count, the total
// SRAM, ... (`qsim hw --json` "derived", `qsim search` space budgets).
//
// One list, so a figure added here (an area estimate, when the HwSpec gains one)
// is at once printed by `qsim hw` and usable as a search budget by its name.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "sim/hw_spec.h"

namespace qsim {

struct HwFigure {
  std::string_view name;     // "pes", "total_sram_kib": the budget key
  std::string_view unit;     // "", "KiB"
  std::string_view meaning;  // one line
  double (*value)(const HwSpec&) = nullptr;
};

// Every figure, in the order `qsim hw --json` prints them.
std::vector<HwFigure> hw_figures();
// The figure named `name`, or nullopt.
std::optional<HwFigure> find_hw_figure(std::string_view name);
// The value of the figure named `name` on `hw` (qsim hw, sweep columns); a name that
// is not a figure is a bug (std::logic_error).
double hw_figure(const HwSpec& hw, std::string_view name);

}  // namespace qsim
