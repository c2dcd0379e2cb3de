#include "app/report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qsim::app {

namespace {

double percent(double fraction) { return fraction * 100.0; }
double uj(double pj) { return pj * 1e-6; }

// A layer's average traffic in bytes per cycle of that layer (SCALE-Sim's "Avg BW").
double per_cycle(int64_t bytes, int64_t cycles) {
  return cycles > 0 ? static_cast<double>(bytes) / static_cast<double>(cycles) : 0.0;
}

nlohmann::json operand_json(const OperandBytes& b) {
  return {{"ifmap", b.ifmap}, {"filter", b.filter}, {"ofmap", b.ofmap}, {"total", b.total()}};
}

}  // namespace

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string format_rounded(double v, int significant) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  if (v == 0) return "0";
  const int magnitude = static_cast<int>(std::floor(std::log10(std::abs(v))));  // 62175 -> 4
  const int decimals = std::max(0, significant - 1 - magnitude);
  return fmt::format("{:.{}f}", v, decimals);
}

std::string_view bound_name(Bound b) { return b == Bound::kMemory ? "memory" : "compute"; }

std::string python_float(double v) {
  std::string s = fmt::format("{}", v);
  // fmt and Python's repr agree on digits and on when to use an exponent; Python
  // also marks integral values with ".0".
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

std::string format_table(const TimingReport& r) {
  std::size_t name_w = 5;
  std::size_t op_w = 2;
  for (const LayerTiming& l : r.layers) {
    name_w = std::max(name_w, l.name.size());
    op_w = std::max(op_w, l.op.size());
  }
  std::string out = fmt::format("model {} on {} ({} backend, {} MHz)\n", r.model, r.hw, r.backend, r.clock_mhz);
  const auto row = [&](std::string_view name, std::string_view op, std::string_view m, std::string_view n,
                       std::string_view k, std::string_view rep, std::string_view wb, std::string_view ab,
                       std::string_view folds, std::string_view comp, std::string_view stall, std::string_view total,
                       std::string_view util, std::string_view sram, std::string_view dram, std::string_view energy,
                       std::string_view bound) {
    out += fmt::format("{:<{}}  {:<{}} {:>7} {:>6} {:>6} {:>4} {:>5} {:>5} {:>8} {:>12} {:>12} {:>12} {:>6} {:>12} {:>12} "
                       "{:>11} {:<7}\n",
                       name, name_w, op, op_w, m, n, k, rep, wb, ab, folds, comp, stall, total, util, sram, dram,
                       energy, bound);
  };
  row("layer", "op", "M", "N", "K", "rep", "wbits", "abits", "folds", "compute_cyc", "stall_cyc", "total_cyc",
      "util%", "sram_bytes", "dram_bytes", "energy_uJ", "bound");
  for (const LayerTiming& l : r.layers) {
    const std::string energy = fmt::format("{:.3f}", uj(l.energy_pj()));
    if (l.is_compute) {
      row(l.name, l.op, std::to_string(l.gemm.M), std::to_string(l.gemm.N), std::to_string(l.gemm.K),
          std::to_string(l.gemm.repeats), std::to_string(l.wbits), std::to_string(l.abits), std::to_string(l.folds),
          std::to_string(l.compute_cycles), std::to_string(l.stall_cycles), std::to_string(l.total_cycles),
          fmt::format("{:.1f}", percent(l.utilization)), std::to_string(l.sram_bytes()),
          std::to_string(l.dram_bytes()), energy, bound_name(l.bound));
    } else {
      // Vector-unit row: no GEMM view and no array folds; its cycles are vector cycles.
      row(l.name, l.op, "", "", "", "", "", std::to_string(l.abits), "", std::to_string(l.compute_cycles),
          std::to_string(l.stall_cycles), std::to_string(l.total_cycles), "", std::to_string(l.sram_bytes()),
          std::to_string(l.dram_bytes()), energy, bound_name(l.bound));
    }
  }
  std::size_t compute_layers = 0;
  for (const LayerTiming& l : r.layers) compute_layers += l.is_compute ? 1 : 0;
  out += fmt::format(
      "total: {} layers ({} on the array), {} cycles (compute {}, stall {}, vector {}), latency {:.6f} ms at {} MHz\n",
      r.layers.size(), compute_layers, r.total_cycles(), r.compute_cycles(), r.stall_cycles(), r.vector_cycles(),
      r.latency_ms(), r.clock_mhz);
  out += fmt::format("       SRAM {} bytes, DRAM {} bytes, energy {:.3f} uJ, {} requantization boundaries\n",
                     r.sram_bytes(), r.dram_bytes(), r.energy_uj(), r.requant_boundaries());
  const EnergyBreakdown e = r.energy();
  const double total = e.total() > 0 ? e.total() : 1.0;
  const auto part = [&](double pj) {
    return fmt::format("{} uJ ({:.1f}%)", format_rounded(uj(pj)), percent(pj / total));
  };
  out += fmt::format("       energy split: MAC {}, SRAM {}, DRAM {}, vector {}\n", part(e.mac), part(e.sram),
                     part(e.dram), part(e.vector));
  if (r.rows_omitted > 0)
    out += fmt::format("       totals of the {} selected rows only: {} rows of the network not run (--layers)\n",
                       r.layers.size(), r.rows_omitted);
  return out;
}

std::string format_csv(const TimingReport& r) {
  std::string out =
      "layer,op,is_compute,M,N,K,repeats,wbits,abits,folds,compute_cycles,stall_cycles,vector_cycles,total_cycles,"
      "utilization_pct,mapping_efficiency_pct,compute_util_pct,requant,"
      "sram_read_ifmap,sram_read_filter,sram_read_ofmap,sram_write_ofmap,sram_bytes,"
      "dram_read_ifmap,dram_read_filter,dram_read_ofmap,dram_write_ofmap,dram_bytes,"
      "energy_mac_pj,energy_sram_pj,energy_dram_pj,energy_vector_pj,energy_pj,bound\n";
  for (const LayerTiming& l : r.layers) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},", csv_field(l.name), csv_field(l.op),
                       l.is_compute ? 1 : 0, l.gemm.M, l.gemm.N, l.gemm.K, l.gemm.repeats, l.wbits, l.abits, l.folds,
                       l.compute_cycles, l.stall_cycles, l.vector_cycles, l.total_cycles, percent(l.utilization),
                       percent(l.mapping_efficiency), percent(l.compute_util), l.requant ? 1 : 0);
    out += fmt::format("{},{},{},{},{},", l.sram_read.ifmap, l.sram_read.filter, l.sram_read.ofmap,
                       l.sram_write.ofmap, l.sram_bytes());
    out += fmt::format("{},{},{},{},{},", l.dram_read.ifmap, l.dram_read.filter, l.dram_read.ofmap,
                       l.dram_write.ofmap, l.dram_bytes());
    out += fmt::format("{},{},{},{},{},{}\n", l.energy.mac, l.energy.sram, l.energy.dram, l.energy.vector,
                       l.energy_pj(), bound_name(l.bound));
  }
  return out;
}

nlohmann::json to_json(const TimingReport& r) {
  nlohmann::json j;
  j["backend"] = r.backend;
  j["model"] = r.model;
  j["hw"] = r.hw;
  j["clock_mhz"] = r.clock_mhz;
  j["total_cycles"] = r.total_cycles();
  j["compute_cycles"] = r.compute_cycles();
  j["stall_cycles"] = r.stall_cycles();
  j["vector_cycles"] = r.vector_cycles();
  j["latency_ms"] = r.latency_ms();
  j["energy_pj"] = r.energy_pj();
  j["energy_uj"] = r.energy_uj();
  j["sram_bytes"] = r.sram_bytes();
  j["dram_bytes"] = r.dram_bytes();
  j["requant_boundaries"] = r.requant_boundaries();
  j["rows_omitted"] = r.rows_omitted;  // rows not run (--layers): the totals cover `layers` only
  auto layers = nlohmann::json::array();
  for (const LayerTiming& l : r.layers) {
    nlohmann::json o;
    o["name"] = l.name;
    o["op"] = l.op;
    o["is_compute"] = l.is_compute;
    o["M"] = l.gemm.M;
    o["N"] = l.gemm.N;
    o["K"] = l.gemm.K;
    o["repeats"] = l.gemm.repeats;
    o["wbits"] = l.wbits;
    o["abits"] = l.abits;
    o["folds"] = l.folds;
    o["compute_cycles"] = l.compute_cycles;
    o["stall_cycles"] = l.stall_cycles;
    o["vector_cycles"] = l.vector_cycles;
    o["total_cycles"] = l.total_cycles;
    o["utilization"] = l.utilization;
    o["mapping_efficiency"] = l.mapping_efficiency;
    o["compute_util"] = l.compute_util;
    o["requant"] = l.requant;
    o["sram_bytes"] = l.sram_bytes();
    o["dram_bytes"] = l.dram_bytes();
    o["sram_read"] = operand_json(l.sram_read);
    o["sram_write"] = operand_json(l.sram_write);
    o["dram_read"] = operand_json(l.dram_read);
    o["dram_write"] = operand_json(l.dram_write);
    o["energy_pj"] = l.energy_pj();
    o["energy"] = {{"mac_pj", l.energy.mac},
                   {"sram_pj", l.energy.sram},
                   {"dram_pj", l.energy.dram},
                   {"vector_pj", l.energy.vector}};
    o["bound"] = std::string(bound_name(l.bound));
    layers.push_back(std::move(o));
  }
  j["layers"] = std::move(layers);
  return j;
}

std::string format_scalesim_compute_report(const TimingReport& r) {
  std::string out = "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,\n";
  int64_t id = 0;
  for (const LayerTiming& l : r.layers) {
    if (!l.is_compute) continue;
    out += fmt::format("{}, {}, {}, {}, {}, {},\n", id++, l.total_cycles - 1, l.stall_cycles,
                       python_float(percent(l.utilization)), python_float(percent(l.mapping_efficiency)),
                       python_float(percent(l.compute_util)));
  }
  return out;
}

std::string format_scalesim_bandwidth_report(const TimingReport& r) {
  std::string out =
      "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, Avg FILTER DRAM BW, "
      "Avg OFMAP DRAM BW,\n";
  int64_t id = 0;
  for (const LayerTiming& l : r.layers) {
    if (!l.is_compute) continue;
    const int64_t c = l.total_cycles;
    out += fmt::format("{}, {}, {}, {}, {}, {}, {},\n", id++, python_float(per_cycle(l.sram_read.ifmap, c)),
                       python_float(per_cycle(l.sram_read.filter, c)), python_float(per_cycle(l.sram_write.ofmap, c)),
                       python_float(per_cycle(l.dram_read.ifmap, c)), python_float(per_cycle(l.dram_read.filter, c)),
                       python_float(per_cycle(l.dram_write.ofmap, c)));
  }
  return out;
}

}  // namespace qsim::app
