// RtlBackend — the rtl timing backend (docs/rtl.md): every selected compute layer
// runs, fold by fold and back to back, on the verilated RTL array (rtl/,
// sim/rtl/rtl_array.h); its compute cycles are the clock cycles the RTL takes.
// The RTL is the array and its control only, so memory stalls, traffic, energy
// and the vector-unit rows are the analytical backend's (the SystemC backend
// simulates the memory hierarchy).
//
// The array of the HwSpec runs on the smallest built RTL model that holds it (the
// active part is a run-time input of the RTL): up to 16 x 16 PEs, fixed 8-bit or
// Bit Fusion PEs with pe.base_bits 8 and 32-bit accumulators.
//
// Reentrancy: each run() builds its own model instance; concurrent runs are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "sim/backend.h"
#include "sim/systemc/systemc_backend.h"  // LayerValueSource, GemmValues (plain C++, no SystemC)

namespace qsim {

struct RtlOptions {
  std::function<bool(std::string_view row)> select;  // rows to run (empty: all)
  LayerValueSource* values = nullptr;                // real operands (--verify); else zeros
  // Told once, before simulating, when the run is estimated to take longer than a minute.
  std::function<void(const std::string& message)> notice;
};

struct RtlStats {
  int64_t layers = 0;
  int64_t folds = 0;
  int64_t compute_cycles = 0;
  int64_t clock_cycles = 0;
  double seconds = 0.0;
  std::string model;  // the RTL model used
};

class RtlBackend : public TimingBackend {
 public:
  explicit RtlBackend(RtlOptions o = {});
  std::string_view name() const override { return "rtl"; }
  using TimingBackend::run;
  TimingReport run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                   const HwSpec& hw) const override;
  RtlStats last_stats() const { return stats_; }

  // Estimated wall time of run() (the selected layers' compute cycles at the
  // model's measured speed); run() tells RtlOptions::notice when it exceeds a minute.
  double estimate_seconds(const LayerGraph& graph, std::span<const LayerPrecision> precision, const HwSpec& hw) const;

  // Throws qsim::Error naming hw.source when no built RTL model can run `hw`;
  // returns the model's name.
  static std::string check_hw(const HwSpec& hw);
  // Simulated clock cycles per second of a model, as measured by bench/ on the
  // reference machine: the basis of the run-time estimate.
  static double cycles_per_second(std::string_view model);

 private:
  RtlOptions opts_;
  mutable RtlStats stats_;
};

}  // namespace qsim
