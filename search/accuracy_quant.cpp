#include "search/accuracy_quant.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "search/sensitivity.h"

namespace qsim {

AllocEvalAccuracy::AllocEvalAccuracy(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples,
                                     const ActivationStats& stats, std::span<const LayerPrecision> base, int threads,
                                     std::string what)
    // The evaluator's default cut budget (1 GiB, at most a quarter of the memory limit).
    // On 10,000 samples 256 MiB kept 3 of fmnist_resnet's 11 cuts (1 GiB: 6), and a
    // complete search's true evaluations took 11 % more work (docs/search.md, Speed).
    : ev_(g, data, samples, stats, AllocEvalOptions{.threads = threads}),
      samples_(static_cast<int64_t>(samples.size())),
      what_(std::move(what)) {
  const auto t0 = std::chrono::steady_clock::now();
  const double top1 = ev_.set_base(base).top1();
  std::vector<int> key;
  for (const LayerPrecision& x : base) key.insert(key.end(), {x.wbits, x.abits, x.per_channel ? 1 : 0});
  cache_.emplace(std::move(key), 100.0 * top1);
  evaluations_ = 1;
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double AllocEvalAccuracy::top1(std::span<const LayerPrecision> p) {
  std::vector<int> key;
  key.reserve(p.size() * 3);
  for (const LayerPrecision& x : p) key.insert(key.end(), {x.wbits, x.abits, x.per_channel ? 1 : 0});
  std::lock_guard lock(mutex_);
  if (const auto it = cache_.find(key); it != cache_.end()) return it->second;
  const auto t0 = std::chrono::steady_clock::now();
  // evaluate_many spreads one allocation's samples over the workers.
  const std::vector<std::vector<LayerPrecision>> one{std::vector<LayerPrecision>(p.begin(), p.end())};
  const double top1 = 100.0 * ev_.evaluate_many(one)[0].top1();
  cache_.emplace(std::move(key), top1);
  ++evaluations_;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return top1;
}

int64_t AllocEvalAccuracy::evaluations() const {
  std::lock_guard lock(mutex_);
  return evaluations_;
}

double AllocEvalAccuracy::seconds() const {
  std::lock_guard lock(mutex_);
  return seconds_;
}

DropTable estimate_drop_table(const SearchProblem& p, const Dataset& calib, const QuantOptions& qo, int threads,
                              const std::function<void(int64_t, int64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  SensitivityOptions so;
  so.method = default_sensitivity_method(calib.size() > 0 && calib.label(0) >= 0);
  so.bits.clear();
  for (const WidthOption& w : p.choices()) so.bits.push_back(w.wbits);
  if (std::find(so.bits.begin(), so.bits.end(), 8) == so.bits.end()) so.bits.push_back(8);
  so.abits = p.options().abits;
  so.per_channel = p.options().per_channel;
  so.quant = qo;
  so.quant.threads = threads;
  so.progress = progress;
  const SensitivityResult r = measure_sensitivity(p.graph(), calib, so);
  const std::string what = fmt::format("qsim sensitivity --method {} on {} calibration samples of {}",
                                       sensitivity_method_name(so.method), r.samples, calib.description());
  DropTable t = drop_table_from_sensitivity(r.to_json(), what, p);
  t.evaluations = r.cost.runs;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
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
