// qsim hw: load and validate a hardware config (with --set overrides) and print
// every key with its value plus derived peak figures, so users can check a config.
#include <cmath>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/provenance.h"
#include "sim/area_model.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/hw_figures.h"
#include "sim/hw_keys.h"

namespace qsim::app {

namespace {

struct PairFigures {
  int wbits = 0;
  int abits = 0;
  double macs_per_pe_per_cycle = 0;
  double macs_per_cycle = 0;  // the whole array
  double gmacs_per_s = 0;
  double mac_pj = 0;
};

std::vector<PairFigures> pair_figures(const HwSpec& hw) {
  std::vector<PairFigures> out;
  const double pes = hw_figure(hw, "pes");
  for (int w : hw.pe.widths)
    for (int a : hw.pe.widths) {
      PairFigures f{w, a, macs_per_pe_per_cycle(hw, w, a), 0, 0, mac_energy_pj(hw, w, a)};
      f.macs_per_cycle = f.macs_per_pe_per_cycle * pes;
      f.gmacs_per_s = f.macs_per_cycle * hw.array.clock_mhz * 1e-3;
      out.push_back(f);
    }
  return out;
}

}  // namespace

int run_hw(const HwOptions& o) {
  if (o.keys) {
    std::cout << hw_keys_markdown();
    return 0;
  }
  const HwSpec hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  const auto values = hw_spec_values(hw);
  const auto pairs = pair_figures(hw);
  const auto pes = static_cast<int64_t>(hw_figure(hw, "pes"));
  const double dram_gb_per_s = hw.memory.dram_bytes_per_cycle * hw.array.clock_mhz * 1e-3;
  const std::optional<AreaEstimate> area = estimate_area(hw);

  if (o.json) {
    nlohmann::json j;
    j["name"] = hw.name;
    j["source"] = hw.source;
    j["keys"] = hw_keys_json(hw);
    nlohmann::json d;
    for (const HwFigure& f : hw_figures()) {  // the figures budgets are stated on (qsim search)
      const double v = f.value(hw);
      d[std::string(f.name)] = f.unit.empty() ? nlohmann::json(static_cast<int64_t>(v)) : nlohmann::json(v);  // counts whole
    }
    d["dram_gb_per_s"] = hw.memory.dram_unlimited ? nlohmann::json("unlimited") : nlohmann::json(dram_gb_per_s);
    auto peak = nlohmann::json::array();
    for (const PairFigures& f : pairs)
      peak.push_back({{"wbits", f.wbits},
                      {"abits", f.abits},
                      {"macs_per_pe_per_cycle", f.macs_per_pe_per_cycle},
                      {"macs_per_cycle", f.macs_per_cycle},
                      {"gmacs_per_s", f.gmacs_per_s},
                      {"mac_pj", f.mac_pj}});
    d["peak"] = std::move(peak);
    // kGE (thousands of NAND2 equivalents) from the RTL's synthesis (docs/rtl.md, "Area").
    d["area_kge"] = area ? nlohmann::json{{"pe", area->pe_kge},
                                          {"array", area->array_kge},
                                          {"sram", area->sram_kge},
                                          {"total", area->total_kge}}
                         : nlohmann::json(nullptr);
    j["derived"] = std::move(d);
    std::cout << j.dump(2) << "\n";
    return 0;
  }

  std::cout << fmt::format("hardware {} ({}), valid\n", hw.name, hw.source);
  for (const auto& [key, value] : values) std::cout << fmt::format("  {:<30} {}\n", key, value);
  std::cout << "derived\n";
  std::cout << fmt::format("  {:<30} {} ({} x {})\n", "PEs", pes, hw.array.rows, hw.array.cols);
  std::cout << fmt::format("  {:<30} {} KiB ({} + {} + {})\n", "total SRAM", hw_figure(hw, "total_sram_kib"), hw.memory.ifmap_kib,
                           hw.memory.filter_kib, hw.memory.ofmap_kib);
  if (hw.memory.dram_unlimited)
    std::cout << fmt::format("  {:<30} unlimited (transfers never stall)\n", "DRAM bandwidth");
  else
    std::cout << fmt::format("  {:<30} {} bytes/cycle = {:.3g} GB/s at {} MHz\n", "DRAM bandwidth",
                             hw.memory.dram_bytes_per_cycle, dram_gb_per_s, hw.array.clock_mhz);
  if (area)
    std::cout << fmt::format("  {:<30} {:.1f} kGE (array {:.1f} kGE, {:.2f} kGE per PE; SRAM cells {:.1f} kGE)\n",
                             "area (RTL synthesis)", area->total_kge, area->array_kge, area->pe_kge, area->sram_kge);
  else
    std::cout << fmt::format("  {:<30} n/a (no synthesized RTL for a {} PE of {} bits with {}-bit accumulators)\n",
                             "area (RTL synthesis)", pe_model_name(hw.pe.precision), hw.pe.base_bits, hw.pe.acc_bits);
  std::cout << fmt::format("peak per width pair ({} PE; weights x activations, rounded up to pe.widths)\n",
                           pe_model_name(hw.pe.precision));
  std::cout << fmt::format("  {:>5} {:>5} {:>14} {:>12} {:>10} {:>10}\n", "wbits", "abits", "MACs/PE/cycle",
                           "MACs/cycle", "GMAC/s", "pJ/MAC");
  for (const PairFigures& f : pairs)
    std::cout << fmt::format("  {:>5} {:>5} {:>14.4g} {:>12.6g} {:>10.4g} {:>10.4g}\n", f.wbits, f.abits,
                             f.macs_per_pe_per_cycle, f.macs_per_cycle, f.gmacs_per_s, f.mac_pj);
  return 0;
}

}  // namespace qsim::app
