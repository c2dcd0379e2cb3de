// Calibration: observers of activation tensors and the choice of their ranges.
//
// An observer sees every value a tensor takes over the calibration samples: pass 1
// records min and max; pass 2 (only for percentile, mse, kl) fills histograms over
// the range pass 1 found. choose_params() then turns the statistics into quantization
// parameters for one width:
//   minmax      the observed [min, max];
//   percentile  the `percentile` and 100 - `percentile` quantiles (default 99.99 / 0.01)
//               of the values, interpolated within histogram bins;
//   mse         the range [a*lo, a*hi] (a on a grid of 200 fractions, 0.005 .. 1) whose
//               quantization minimises the squared error over the histogram (bin
//               centres, 2048 bins);
//   kl          TensorRT's entropy calibration: a 2048-bin histogram of the non-zero
//               |x|, reference distributions P clipped at every bin i >= nq (outliers
//               folded into the last bin), candidates Q: the i bins merged into nq
//               levels and spread back over the bins where P is non-zero; the
//               threshold is i * bin width for the i of least KL(P || Q). nq = 128 at
//               8 bits for tensors with both signs (2^(bits-1) levels per side) and
//               2^bits for non-negative tensors encoded unsigned; widths whose nq
//               reaches 2048 keep the full range. Discrete values are kept out of the
//               comparison: exact zeros (half of a post-Relu tensor) are not binned,
//               and a bin more than 8x the median of its 16 neighbours (a constant
//               response, e.g. to a black background) counts as that median inside
//               the clip (its full count when clipped). Both are quantized to one
//               level with at most half a step of error; left in, merging a spike
//               with its neighbours costs log(bins per level) of its mass, and the
//               search clipped 13 % of the stem's values of fmnist_resnet to avoid it.
// The histogram methods fall back to min-max at widths of 11 bits and more, where a
// 2048-bin histogram is coarser than the quantization step.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quant/quantizer.h"

namespace qsim {

enum class CalibMethod : uint8_t { kMinMax, kPercentile, kMse, kKl };
std::optional<CalibMethod> parse_calib_method(std::string_view s);
std::string_view calib_method_name(CalibMethod m);
bool needs_histogram(CalibMethod m);

struct CalibParams {
  double percentile = 99.99;  // percentile method: upper quantile in percent
  int bins = 2048;            // histogram bins (value and |x| histograms)
  int mse_steps = 200;        // mse method: grid of clip fractions
};

// A histogram of counts over [lo, hi] in equal bins; values outside land in the
// first/last bin.
class Histogram {
 public:
  Histogram() = default;
  Histogram(double lo, double hi, int bins);
  void add(std::span<const float> x);
  // |x| of the non-zero values; exact zeros (the spike of a post-Relu tensor) are
  // represented exactly at every clip, so they are only counted, in zeros().
  void add_abs(std::span<const float> x);
  double zeros() const { return zeros_; }
  double lo() const { return lo_; }
  double hi() const { return hi_; }
  int bins() const { return static_cast<int>(counts_.size()); }
  double bin_width() const { return counts_.empty() ? 0.0 : (hi_ - lo_) / static_cast<double>(counts_.size()); }
  double center(int i) const { return lo_ + (i + 0.5) * bin_width(); }
  std::span<const double> counts() const { return counts_; }
  double total() const;

 private:
  double lo_ = 0, hi_ = 0, inv_width_ = 0, zeros_ = 0;
  std::vector<double> counts_;
};

// Everything an observer gathered about one tensor.
struct TensorStats {
  float min = 0.0f, max = 0.0f;
  bool seen = false;
  Histogram values;  // over [min(min,0), max(max,0)] (pass 2)
  Histogram abs;     // of |x| over [0, max |x|] (pass 2, kl)
  void observe_minmax(std::span<const float> x);
  // Allocates the histograms over the range pass 1 found.
  void start_histograms(const CalibParams& p, bool want_abs);
  void observe_histograms(std::span<const float> x);
};

// How activations are encoded: asymmetric unsigned (the default), or symmetric
// (zero point 0; signed when the tensor has negative values, unsigned otherwise).
struct ActEncoding {
  int bits = 8;
  bool symmetric = false;
};

// Quantization parameters for a tensor with statistics `s` at encoding `e`.
QParams choose_params(const TensorStats& s, CalibMethod m, const CalibParams& cp, const ActEncoding& e);

// The clipping threshold of TensorRT's entropy calibration on a histogram of the
// non-zero |x| (Histogram::add_abs) with `nq` quantized bins (exposed for tests).
double kl_threshold(const Histogram& abs_hist, int nq);

}  // namespace qsim
