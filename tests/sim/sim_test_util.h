// Helpers shared by the timing-model tests.
#pragma once

#include <string_view>

#include "graph/error.h"
#include "sim/mapping.h"

namespace qsim {

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
