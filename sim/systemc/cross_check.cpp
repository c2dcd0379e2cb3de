#include "sim/systemc/cross_check.h"

#include <cmath>
#include <stdexcept>

namespace qsim {

double LayerCrossCheck::error() const {
  return total_analytical > 0
             ? std::fabs(static_cast<double>(total_systemc - total_analytical)) / static_cast<double>(total_analytical)
             : (total_systemc == 0 ? 0.0 : 1.0);
}

CrossCheck cross_check(const TimingReport& a, const TimingReport& s) {
  if (a.layers.size() != s.layers.size()) throw std::invalid_argument("cross_check: reports of different runs");
  CrossCheck c;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const LayerTiming &x = a.layers[i], &y = s.layers[i];
    if (x.name != y.name) throw std::invalid_argument("cross_check: reports of different runs");
    LayerCrossCheck l{x.name, !x.is_compute, x.is_compute ? x.compute_cycles : x.vector_cycles,
                      x.is_compute ? y.compute_cycles : y.vector_cycles, x.total_cycles, y.total_cycles};
    if (x.is_compute != y.is_compute) throw std::invalid_argument("cross_check: reports of different runs");
    if (l.compute_analytical != l.compute_systemc) ++c.compute_mismatches;
    if (l.error() > c.worst_layer_error || c.worst_layer.empty()) {
      c.worst_layer_error = l.error();
      c.worst_layer = l.name;
    }
    c.layers.push_back(std::move(l));
  }
  const int64_t ta = a.total_cycles(), ts = s.total_cycles();
  c.network_error = ta > 0 ? std::fabs(static_cast<double>(ts - ta)) / static_cast<double>(ta) : 0.0;
  return c;
}

}  // namespace qsim
