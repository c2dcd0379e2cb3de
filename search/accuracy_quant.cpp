#include "search/accuracy_quant.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "quant/quant_eval.h"

namespace qsim {

// The samples `idx` of a data set, as a data set.
class QuantEvalAccuracy::View final : public Dataset {
 public:
  View(const Dataset& d, const std::vector<int64_t>& idx) : d_(d), idx_(idx) {}
  int64_t size() const override { return static_cast<int64_t>(idx_.size()); }
  const Shape& sample_shape() const override { return d_.sample_shape(); }
  void load(int64_t i, float* dst) const override { d_.load(idx_[static_cast<std::size_t>(i)], dst); }
  int64_t label(int64_t i) const override { return d_.label(idx_[static_cast<std::size_t>(i)]); }
  std::string description() const override { return d_.description(); }

 private:
  const Dataset& d_;
  const std::vector<int64_t>& idx_;
};

QuantEvalAccuracy::QuantEvalAccuracy(const LayerGraph& g, const Dataset& calib, const QuantOptions& qo,
                                     const Dataset& eval, std::vector<int64_t> samples, int threads, std::string what,
                                     int64_t batch)
    : g_(g), calib_(calib), qo_(qo), samples_(std::move(samples)), threads_(threads), batch_(batch),
      what_(std::move(what)) {
  view_ = std::make_unique<View>(eval, samples_);
}

QuantEvalAccuracy::~QuantEvalAccuracy() = default;

double QuantEvalAccuracy::top1(std::span<const LayerPrecision> p) {
  std::vector<int> key;
  key.reserve(p.size() * 3);
  for (const LayerPrecision& x : p) key.insert(key.end(), {x.wbits, x.abits, x.per_channel ? 1 : 0});
  std::lock_guard lock(mutex_);
  if (const auto it = cache_.find(key); it != cache_.end()) return it->second;
  const auto t0 = std::chrono::steady_clock::now();
  PrecisionAlloc alloc;
  alloc.model = g_.name;
  const auto compute = g_.compute_layers();
  for (std::size_t i = 0; i < compute.size(); ++i) alloc.set(g_.node(compute[i]).name, p[i]);
  const QuantSpec spec = calibrate(g_, alloc, "search", calib_, qo_);
  QuantEvalOptions eo;
  eo.modes = {QuantMode::kFake};
  eo.threads = threads_;
  eo.batch = batch_;
  eo.reference = false;  // top-1 only: the float32 model is not needed
  const QuantEvalResult r = evaluate_quantized(g_, spec, *view_, eo);
  const double top1 = r.samples ? 100.0 * static_cast<double>(r.modes[0].top1_correct) / static_cast<double>(r.samples) : 0.0;
  cache_.emplace(std::move(key), top1);
  ++evaluations_;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return top1;
}

int64_t QuantEvalAccuracy::evaluations() const {
  std::lock_guard lock(mutex_);
  return evaluations_;
}

double QuantEvalAccuracy::seconds() const {
  std::lock_guard lock(mutex_);
  return seconds_;
}

std::vector<int64_t> held_out_indices(int64_t size, const std::vector<int64_t>& exclude, int64_t n) {
  std::vector<int64_t> rest;
  rest.reserve(static_cast<std::size_t>(size));
  std::size_t k = 0;
  for (int64_t i = 0; i < size; ++i) {
    while (k < exclude.size() && exclude[k] < i) ++k;
    if (k < exclude.size() && exclude[k] == i) continue;
    rest.push_back(i);
  }
  const auto m = static_cast<int64_t>(rest.size());
  if (n >= m) return rest;
  std::vector<int64_t> out(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = rest[static_cast<std::size_t>(i * m / n)];
  return out;
}

}  // namespace qsim
