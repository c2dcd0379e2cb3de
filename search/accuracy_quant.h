// AllocationAccuracy on the quantization library as it stands (quant/calibrate.h,
// quant/quant_eval.h): each allocation is calibrated on the calibration samples
// exactly as `qsim quantize --precision` calibrates it, then run by the fake-quant
// executor over a fixed list of samples; results are cached per allocation.
//
// This file is the one adapter between the search and an evaluation loop. A faster
// loop (one calibration pass for every width, the float32 prefix cached, only the
// part after the first changed layer re-run) replaces it behind the same interface
// (search/accuracy.h) without touching the search.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "quant/calibrate.h"
#include "search/accuracy.h"

namespace qsim {

class QuantEvalAccuracy final : public AllocationAccuracy {
 public:
  // `g`, `calib` and `eval` must outlive it. Calibration uses the samples
  // calibration_indices(calib.size(), qo.calib_samples) of `calib` (qsim quantize's);
  // top-1 is measured on the samples `samples` of `eval` (labelled), in batches of
  // `batch` on `threads` workers (fixed batches: the result does not depend on the
  // number of workers).
  QuantEvalAccuracy(const LayerGraph& g, const Dataset& calib, const QuantOptions& qo, const Dataset& eval,
                    std::vector<int64_t> samples, int threads, std::string what, int64_t batch = 16);
  ~QuantEvalAccuracy() override;

  double top1(std::span<const LayerPrecision> p) override;
  int64_t samples() const override { return static_cast<int64_t>(samples_.size()); }
  std::string description() const override { return what_; }
  int64_t evaluations() const override;
  double seconds() const override;

 private:
  class View;
  const LayerGraph& g_;
  const Dataset& calib_;
  QuantOptions qo_;
  std::vector<int64_t> samples_;
  std::unique_ptr<View> view_;
  int threads_;
  int64_t batch_;
  std::string what_;
  mutable std::mutex mutex_;
  std::map<std::vector<int>, double> cache_;  // (wbits, abits, per_channel) per layer
  int64_t evaluations_ = 0;
  double seconds_ = 0;
};

// `n` samples of [0, size) evenly spaced over those not in `exclude` (sorted), or
// every remaining one when fewer remain: a held-out list disjoint from `exclude`.
std::vector<int64_t> held_out_indices(int64_t size, const std::vector<int64_t>& exclude, int64_t n);

}  // namespace qsim
