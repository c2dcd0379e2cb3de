// CrossCheck — the SystemC backend's report against the analytical backend's for
// the same network and hardware: compute cycles must be equal on every layer (the
// vector unit's busy cycles on every Requantize/Vector row), total cycles (with
// memory stalls) close (docs/systemc.md, "Against the analytical model").
// Used by the cross-check sweep (bench/systemc_crosscheck.cpp) and its CI subset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/timing_report.h"

namespace qsim {

struct LayerCrossCheck {
  std::string name;
  bool vector = false;  // a Requantize or Vector row: compute_* are its vector-unit cycles
  int64_t compute_analytical = 0, compute_systemc = 0;
  int64_t total_analytical = 0, total_systemc = 0;
  double error() const;  // |total_systemc - total_analytical| / total_analytical
};

struct CrossCheck {
  std::vector<LayerCrossCheck> layers;  // every row, in order
  int compute_mismatches = 0;           // rows whose compute (vector-unit) cycles differ
  double worst_layer_error = 0.0;
  std::string worst_layer;
  double network_error = 0.0;  // over every row of the reports (vector rows included)
};

// The reports must have the same rows in the same order (the same run of both backends).
CrossCheck cross_check(const TimingReport& analytical, const TimingReport& systemc);

}  // namespace qsim
