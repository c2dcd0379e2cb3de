#include "sim/timing_report.h"

namespace qsim {

namespace {
template <typename F>
auto sum(const std::vector<LayerTiming>& rows, F f) {
  decltype(f(rows.front())) s{};
  for (const auto& r : rows) s += f(r);
  return s;
}
}  // namespace

int64_t TimingReport::total_cycles() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.total_cycles; });
}
int64_t TimingReport::compute_cycles() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.compute_cycles; });
}
int64_t TimingReport::stall_cycles() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.stall_cycles; });
}
int64_t TimingReport::vector_cycles() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.vector_cycles; });
}
int64_t TimingReport::sram_bytes() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.sram_bytes(); });
}
int64_t TimingReport::dram_bytes() const {
  return layers.empty() ? 0 : sum(layers, [](const LayerTiming& r) { return r.dram_bytes(); });
}
double TimingReport::energy_pj() const {
  return layers.empty() ? 0.0 : sum(layers, [](const LayerTiming& r) { return r.energy_pj(); });
}
EnergyBreakdown TimingReport::energy() const {
  EnergyBreakdown e;
  for (const auto& r : layers) {
    e.mac += r.energy.mac;
    e.sram += r.energy.sram;
    e.dram += r.energy.dram;
    e.vector += r.energy.vector;
  }
  return e;
}
double TimingReport::latency_ms() const {
  return clock_mhz > 0 ? static_cast<double>(total_cycles()) / (clock_mhz * 1e3) : 0.0;
}
int TimingReport::requant_boundaries() const {
  int n = 0;
  for (const auto& r : layers) n += r.requant ? 1 : 0;
  return n;
}

}  // namespace qsim
