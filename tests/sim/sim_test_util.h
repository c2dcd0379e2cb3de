// Helpers shared by the timing-model tests.
#pragma once

#include <string_view>

#include "graph/error.h"
#include "sim/mapping.h"

namespace qsim {

// A fixed 8-bit rows x cols array with `kib` per operand buffer and unlimited DRAM
// bandwidth: the hardware of the mapping and fold-walk tests.
inline HwSpec small_hw(Dataflow df, int64_t rows, int64_t cols, double kib = 64.0) {
  HwSpec hw;
  hw.name = "test";
  hw.source = "test.yaml";
  hw.array = {rows, cols, df, 100.0};
  hw.pe.precision = PeModel::kFixed;
  hw.pe.base_bits = 8;
  hw.pe.widths = {8};
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = kib;
  hw.memory.dram_unlimited = true;
  hw.vector.lanes = cols;
  return hw;
}

// Maps `req`, doubling every buffer of `hw` until one fold fits (map_layer refuses
// smaller buffers): the smallest buffers of that doubling sequence, so tests that
// start from tiny sizes still exercise spills and partial residency. `hw` keeps the
// sizes used, for timing the schedule with the same hardware.
inline Schedule map_with_fitting_buffers(const MapRequest& req, HwSpec& hw, std::string_view layer = "L") {
  for (;;) {
    try {
      return map_layer(req, hw, layer);
    } catch (const Error& e) {
      if (std::string_view(e.what()).find("less than one fold") == std::string_view::npos) throw;
      hw.memory.ifmap_kib = hw.memory.ifmap_kib > 0 ? 2 * hw.memory.ifmap_kib : 0.001;
      hw.memory.filter_kib = hw.memory.filter_kib > 0 ? 2 * hw.memory.filter_kib : 0.001;
      hw.memory.ofmap_kib = hw.memory.ofmap_kib > 0 ? 2 * hw.memory.ofmap_kib : 0.001;
    }
  }
}

}  // namespace qsim
