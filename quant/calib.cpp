#include "quant/calib.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qsim {

std::optional<CalibMethod> parse_calib_method(std::string_view s) {
  if (s == "minmax") return CalibMethod::kMinMax;
  if (s == "percentile") return CalibMethod::kPercentile;
  if (s == "mse") return CalibMethod::kMse;
  if (s == "kl") return CalibMethod::kKl;
  return std::nullopt;
}

std::string_view calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax: return "minmax";
    case CalibMethod::kPercentile: return "percentile";
    case CalibMethod::kMse: return "mse";
    case CalibMethod::kKl: return "kl";
  }
  return "?";
}

bool needs_histogram(CalibMethod m) { return m != CalibMethod::kMinMax; }

// ------------------------------------------------------------------ Histogram

Histogram::Histogram(double lo, double hi, int bins) : lo_(lo), hi_(hi) {
  counts_.assign(static_cast<std::size_t>(std::max(bins, 1)), 0.0);
  inv_width_ = hi > lo ? static_cast<double>(counts_.size()) / (hi - lo) : 0.0;
}

void Histogram::add(std::span<const float> x) {
  const int last = bins() - 1;
  for (float v : x) {
    if (std::isnan(v)) continue;
    const double t = (static_cast<double>(v) - lo_) * inv_width_;
    const int b = t <= 0.0 ? 0 : (t >= last ? last : static_cast<int>(t));
    counts_[static_cast<std::size_t>(b)] += 1.0;
  }
}

void Histogram::add_abs(std::span<const float> x) {
  const int last = bins() - 1;
  for (float v : x) {
    if (std::isnan(v)) continue;
    if (v == 0.0f) {  // exact at every clip: kept out of the bins
      zeros_ += 1.0;
      continue;
    }
    const double t = (std::abs(static_cast<double>(v)) - lo_) * inv_width_;
    const int b = t <= 0.0 ? 0 : (t >= last ? last : static_cast<int>(t));
    counts_[static_cast<std::size_t>(b)] += 1.0;
  }
}

double Histogram::total() const { return std::accumulate(counts_.begin(), counts_.end(), 0.0); }

// ------------------------------------------------------------------ TensorStats

void TensorStats::observe_minmax(std::span<const float> x) {
  float lo = seen ? min : std::numeric_limits<float>::infinity();
  float hi = seen ? max : -std::numeric_limits<float>::infinity();
  for (float v : x) {
    if (std::isnan(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo <= hi) {
    min = lo;
    max = hi;
    seen = true;
  }
}

void TensorStats::start_histograms(const CalibParams& p, bool want_abs) {
  const double lo = std::min(0.0f, seen ? min : 0.0f), hi = std::max(0.0f, seen ? max : 0.0f);
  values = Histogram(lo, hi, p.bins);
  if (want_abs) abs = Histogram(0.0, std::max(-lo, hi), p.bins);
}

void TensorStats::observe_histograms(std::span<const float> x) {
  if (values.bins() > 0) values.add(x);
  if (abs.bins() > 0) abs.add_abs(x);
}

// ------------------------------------------------------------------ range choice

namespace {

// Value below which `fraction` of the histogram's mass lies, interpolated in its bin.
double quantile(const Histogram& h, double fraction) {
  const double total = h.total();
  if (total <= 0) return h.lo();
  const double want = fraction * total;
  double acc = 0;
  const auto c = h.counts();
  for (int i = 0; i < h.bins(); ++i) {
    const double next = acc + c[static_cast<std::size_t>(i)];
    if (next >= want && c[static_cast<std::size_t>(i)] > 0) {
      const double t = (want - acc) / c[static_cast<std::size_t>(i)];
      return h.lo() + (i + std::clamp(t, 0.0, 1.0)) * h.bin_width();
    }
    acc = next;
  }
  return h.hi();
}

QParams from_range(double lo, double hi, const ActEncoding& e, bool negative) {
  const bool is_signed = e.symmetric && negative;
  return params_from_range(static_cast<float>(lo), static_cast<float>(hi), e.bits,
                           e.symmetric ? Scheme::kSymmetric : Scheme::kAsymmetric, is_signed);
}

double histogram_sse(const Histogram& h, const QParams& p) {
  double e = 0;
  const auto c = h.counts();
  for (int i = 0; i < h.bins(); ++i) {
    const double n = c[static_cast<std::size_t>(i)];
    if (n == 0) continue;
    const float x = static_cast<float>(h.center(i));
    const double d = static_cast<double>(x) - p.fake(x);
    e += n * d * d;
  }
  return e;
}

}  // namespace

double kl_threshold(const Histogram& h, int nq) {
  const auto bins = h.counts();
  const int n = h.bins();
  if (nq <= 0 || nq >= n) return h.hi();
  // Suffix sums: the outliers beyond a candidate clip.
  std::vector<double> suffix(static_cast<std::size_t>(n) + 1, 0.0);
  for (int i = n - 1; i >= 0; --i) suffix[static_cast<std::size_t>(i)] = suffix[static_cast<std::size_t>(i) + 1] + bins[static_cast<std::size_t>(i)];
  if (suffix[0] <= 0) return h.hi();
  // In-range counts with the spikes flattened: a bin holding more than kSpike times
  // the median of its 16 neighbours and more than the mean bin keeps that median (the
  // excess is a discrete value, quantized to its nearest level like any other value;
  // left in, merging it with its neighbours costs log(bins per level) of its mass and
  // the search clips the tail to avoid that). Outliers are counted unflattened.
  constexpr double kSpike = 8.0;
  constexpr int kHalfWindow = 8;
  std::vector<double> flat(bins.begin(), bins.end()), window;
  const double mean_bin = suffix[0] / n;
  for (int j = 0; j < n; ++j) {
    window.clear();
    for (int k = std::max(0, j - kHalfWindow); k <= std::min(n - 1, j + kHalfWindow); ++k)
      if (k != j) window.push_back(bins[static_cast<std::size_t>(k)]);
    const auto mid = window.begin() + static_cast<std::ptrdiff_t>(window.size() / 2);
    std::nth_element(window.begin(), mid, window.end());
    const double b = bins[static_cast<std::size_t>(j)];
    if (b > kSpike * *mid && b > mean_bin) flat[static_cast<std::size_t>(j)] = *mid;
  }
  std::vector<double> p(static_cast<std::size_t>(n)), level_sum(static_cast<std::size_t>(nq));
  std::vector<int> level_nonzero(static_cast<std::size_t>(nq));
  double best = std::numeric_limits<double>::infinity();
  int best_i = n;
  for (int i = nq; i <= n; ++i) {
    const auto level = [&](int j) { return static_cast<std::size_t>(static_cast<int64_t>(j) * nq / i); };
    // Reference P: the first i bins, the outliers folded into the last one. Its total
    // is the whole histogram's.
    for (int j = 0; j < i; ++j) p[static_cast<std::size_t>(j)] = flat[static_cast<std::size_t>(j)];
    p[static_cast<std::size_t>(i) - 1] += suffix[static_cast<std::size_t>(i)];
    double psum = suffix[static_cast<std::size_t>(i)];
    for (int j = 0; j < i; ++j) psum += flat[static_cast<std::size_t>(j)];
    // Candidate Q: the i bins (without the outliers) merged into nq levels, each
    // level's mass spread evenly over the bins where P is non-zero.
    std::fill(level_sum.begin(), level_sum.end(), 0.0);
    std::fill(level_nonzero.begin(), level_nonzero.end(), 0);
    double qsum = 0;
    for (int j = 0; j < i; ++j) {
      level_sum[level(j)] += flat[static_cast<std::size_t>(j)];
      level_nonzero[level(j)] += p[static_cast<std::size_t>(j)] != 0;
      qsum += flat[static_cast<std::size_t>(j)];
    }
    if (qsum <= 0) continue;
    // KL(P || Q) over the bins where P is non-zero; a level holding no mass of its own
    // under a non-zero P (only folded outliers) makes it infinite.
    double kl = 0;
    for (int j = 0; j < i; ++j) {
      const double pj = p[static_cast<std::size_t>(j)] / psum;
      if (pj <= 0) continue;
      const std::size_t lv = level(j);
      const double qj = level_sum[lv] / level_nonzero[static_cast<std::size_t>(lv)] / qsum;
      if (qj <= 0) {
        kl = std::numeric_limits<double>::infinity();
        break;
      }
      kl += pj * std::log(pj / qj);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  if (best_i >= n) return h.hi();
  return h.lo() + best_i * h.bin_width();  // the upper edge of the kept bins
}

QParams choose_params(const TensorStats& s, CalibMethod m, const CalibParams& cp, const ActEncoding& e) {
  const double lo = std::min(0.0f, s.seen ? s.min : 0.0f);
  const double hi = std::max(0.0f, s.seen ? s.max : 0.0f);
  const bool negative = lo < 0;
  const QParams full = from_range(lo, hi, e, negative);
  if (m == CalibMethod::kMinMax || e.bits >= 11 || hi <= lo) return full;
  switch (m) {
    case CalibMethod::kPercentile: {
      if (s.values.bins() == 0) return full;
      const double frac = std::clamp(cp.percentile / 100.0, 0.5, 1.0);
      const double qhi = hi > 0 ? quantile(s.values, frac) : 0.0;
      const double qlo = negative ? quantile(s.values, 1.0 - frac) : 0.0;
      return from_range(std::min(qlo, 0.0), std::max(qhi, 0.0), e, negative);
    }
    case CalibMethod::kMse: {
      if (s.values.bins() == 0) return full;
      QParams best = full;
      double best_err = histogram_sse(s.values, full);
      const int steps = std::max(cp.mse_steps, 1);
      for (int i = 1; i < steps; ++i) {
        const double a = static_cast<double>(steps - i) / steps;
        const double amax = std::max(-lo, hi);
        const QParams p = e.symmetric ? from_range(negative ? -a * amax : 0.0, a * amax, e, negative)
                                      : from_range(a * lo, a * hi, e, negative);
        const double err = histogram_sse(s.values, p);
        if (err < best_err) {
          best_err = err;
          best = p;
        }
      }
      return best;
    }
    case CalibMethod::kKl: {
      if (s.abs.bins() == 0) return full;
      // Levels available for |x|: per side for a signed (two-sided) tensor, all of them
      // for a non-negative tensor encoded unsigned.
      const int nq = negative ? (1 << (e.bits - 1)) : (1 << e.bits);
      const double t = kl_threshold(s.abs, nq);
      return from_range(std::max(lo, -t), std::min(hi, t), e, negative);
    }
    case CalibMethod::kMinMax: break;
  }
  return full;
}

}  // namespace qsim
