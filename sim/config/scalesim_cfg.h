// SCALE-Sim v2 .cfg files -> HwSpec, so a SCALE-Sim user's configs run unchanged.
//
// The file is an INI file as Python's configparser reads it (keys are
// case-insensitive, "key = value" or "key : value", '#'/';' comment lines).
// Sections and keys are those SCALE-Sim v2's scale_config.py reads:
//
//   [general]              run_name                                  (required)
//   [architecture_presets] ArrayHeight, ArrayWidth,                  (required)
//                          IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB,
//                          IfmapOffset, FilterOffset, OfmapOffset, Dataflow,
//                          Bandwidth (required in USER mode), MemoryBanks (optional)
//   [run_presets]          InterfaceBandwidth = CALC | USER          (required)
//   [network_presets]      TopologyCsvLoc                            (optional)
//
// Mapping onto HwSpec, with SCALE-Sim v2's own assumptions:
//   ArrayHeight/Width -> array.rows/cols; Dataflow os|ws|is -> array.dataflow.
//   *SramSzkB -> memory.*_kib: SCALE-Sim multiplies the kB value by 1024 and
//     stores 1-byte words, so "36" is 36 KiB = 36864 one-byte words.
//   InterfaceBandwidth CALC -> memory.dram_unlimited (no stalls); USER -> the
//     first Bandwidth value (words/cycle, 1-byte words) as memory.dram_bytes_per_cycle.
//   Buffers are double buffered, DRAM has no latency, words are 8 bits, and PEs
//     are `fixed` 8-bit MACs (SCALE-Sim models neither precision nor latency).
//   MemoryBanks is checked but not applied: v2 ignores it (banks = 1).
//   Offsets only place operands in SCALE-Sim's address traces: checked, unused.
// SCALE-Sim has no clock or energy; array.clock_mhz defaults to kScaleSimClockMhz
// and the energy table to default_energy_spec() (both overridable with --set).
// pe.widths, energy.* and vector.lanes are left to qsim's defaults (for a fixed
// 8-bit PE: [8], Horowitz's table, array.cols), so an override of array.cols moves
// vector.lanes as it would for a YAML config that does not give it.
//
// Any defect throws qsim::Error("<file>:<line>: <problem>") (no line for a
// missing key or section): unknown section or key, duplicate, bad value, and the
// HwSpec's own validation (sim/hw_keys.h), located at the .cfg line of the key.
#pragma once

#include <string>
#include <string_view>

#include "sim/hw_keys.h"
#include "sim/hw_spec.h"

namespace qsim {

// SCALE-Sim has no clock; latency in ms is reported at this frequency unless
// array.clock_mhz is overridden. 1 GHz makes latency_ms read as cycles / 1e6.
inline constexpr double kScaleSimClockMhz = 1000.0;

struct ScaleSimConfig {
  HwConfig config;  // the keys the .cfg states, each at its line: overrides are stated on a copy
  HwSpec hw;        // finish_hw_spec(config)
  std::string run_name;       // [general] run_name
  std::string topology_path;  // [network_presets] TopologyCsvLoc, unquoted; empty if absent
  bool user_bandwidth = false;  // InterfaceBandwidth USER
};

ScaleSimConfig load_scalesim_cfg(const std::string& path);
// Same, from text already in memory; `source` names it in messages.
ScaleSimConfig parse_scalesim_cfg(std::string_view text, const std::string& source);

}  // namespace qsim
