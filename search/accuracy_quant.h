// The search's accuracy side on the quantization library (docs/search.md section 3):
// the one adapter between search/accuracy.h and quant/.
//
//   AllocEvalAccuracy     AllocationAccuracy on quant/alloc_eval.h's AllocationEvaluator:
//                         an allocation quantized exactly as `qsim quantize --precision`
//                         quantizes it (activation parameters from one ActivationStats
//                         for every width), run from the last cached cut before its first
//                         difference from the base allocation; results cached per allocation.
//   estimate_drop_table   the additive estimate from `qsim sensitivity`'s estimator
//                         (search/sensitivity.h): the est_drop of every group at every
//                         option, with the method `qsim allocate --data` uses by default.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "quant/alloc_eval.h"
#include "quant/calibrate.h"
#include "search/accuracy.h"

namespace qsim {

class AllocEvalAccuracy final : public AllocationAccuracy {
 public:
  // `g`, `data` and `stats` must outlive it. Top-1 is measured on the samples `samples`
  // of `data` (labelled); `base` is the allocation whose cut values are cached (the
  // search's reference). `threads` workers (0: every core); the result does not depend
  // on their number.
  AllocEvalAccuracy(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples,
                    const ActivationStats& stats, std::span<const LayerPrecision> base, int threads, std::string what);

  double top1(std::span<const LayerPrecision> p) override;
  int64_t samples() const override { return samples_; }
  std::string description() const override { return what_; }
  int64_t evaluations() const override;
  double seconds() const override;
  double passes() const override { return ev_.cost().pass_equivalents; }

 private:
  AllocationEvaluator ev_;
  int64_t samples_ = 0;
  std::string what_;
  mutable std::mutex mutex_;
  std::map<std::vector<int>, double> cache_;  // (wbits, abits, per_channel) per layer
  int64_t evaluations_ = 0;
  double seconds_ = 0;
};

// The drop table of `p` measured by measure_sensitivity on the calibration samples of
// `calib` (labelled: the `measured` method, else `output-kl`, as `qsim allocate --data`
// chooses; search/sensitivity.h default_sensitivity_method) at every weight width of the
// options, then read as a sensitivity file is (drop_table_from_sensitivity).
DropTable estimate_drop_table(const SearchProblem& p, const Dataset& calib, const QuantOptions& qo, int threads,
                              const std::function<void(int64_t, int64_t)>& progress = {});

// `n` samples of [0, size) evenly spaced over those not in `exclude` (sorted), or
// every remaining one when fewer remain: a held-out list disjoint from `exclude`.
std::vector<int64_t> held_out_indices(int64_t size, const std::vector<int64_t>& exclude, int64_t n);

}  // namespace qsim
