// Calibration observers (quant/calib.h) on synthetic distributions whose sensible
// clipping range is known: TensorRT's entropy (KL) threshold must land above the
// bulk and below far outliers on a post-Relu tensor, whatever spikes of discrete
// values it holds (exact zeros, constant responses), keep the whole range when
// nothing is worth clipping, and clip harder at fewer bits.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/calib.h"

namespace qsim {
namespace {

// Relu(N(0, 1)) on n values (about half exact zeros) plus `outliers` values spread
// uniformly over [out_lo, out_hi].
std::vector<float> relu_gaussian(int n, int outliers, float out_lo, float out_hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(out_lo, out_hi);
  std::vector<float> v(static_cast<std::size_t>(n + outliers));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = std::max(0.0f, g(rng));
  for (int i = 0; i < outliers; ++i) v[static_cast<std::size_t>(n + i)] = u(rng);
  return v;
}

TensorStats stats_of(const std::vector<float>& v) {
  TensorStats s;
  s.observe_minmax(v);
  s.start_histograms(CalibParams{}, /*want_abs=*/true);
  s.observe_histograms(v);
  return s;
}

// Threshold (upper clip) that choose_params gives at `bits`, asymmetric unsigned.
double kl_clip(const TensorStats& s, int bits) {
  const QParams q = choose_params(s, CalibMethod::kKl, CalibParams{}, ActEncoding{bits, false});
  EXPECT_EQ(q.zero_point, 0);  // non-negative tensor: 0 stays exact at the bottom
  return static_cast<double>(q.scale) * ((1 << bits) - 1);
}

// 200k Relu'd Gaussian values and 20 outliers in [10, 12]: min-max would spend 3/4 of
// the 8-bit grid on 0.01 % of the values. The bulk ends near 4 (P(x > 3.7) ~ 1e-4
// of all values); 256 bins of 2048 reach only 1.5, the first candidate clip. The
// threshold must lie above the bulk's 99.9th percentile (3.1) and well below the
// outliers; the spike of zeros (half the values, exact at any clip) must not matter.
TEST(Calib, KlClipsFarOutliersAboveTheBulk) {
  const auto v = relu_gaussian(200000, 20, 10.0f, 12.0f, 1);
  const TensorStats s = stats_of(v);
  const double t8 = kl_clip(s, 8);
  std::printf("relu'd gaussian + outliers: max %.3f, kl clip 8 bits %.3f\n", double(s.max), t8);
  EXPECT_GT(t8, 3.1);
  EXPECT_LT(t8, 8.0);
  // Fewer levels: coarser steps cost more than clipping, the clip moves down, but
  // stays at a meaningful fraction of the bulk.
  const double t4 = kl_clip(s, 4);
  std::printf("relu'd gaussian + outliers: kl clip 4 bits %.3f\n", t4);
  EXPECT_LT(t4, t8);
  EXPECT_GT(t4, 1.0);
}

// The spikes of a post-Relu tensor: exact zeros (half the values) and, as in the stem
// of the Fashion-MNIST models (a black background), a constant response per channel:
// here 10 values holding 40 % of the non-zero mass, spread over the first sixth of the
// range. Each is one discrete value, quantized to its nearest level like any other, so
// neither may pull the threshold down (unflattened, merging a spike with its
// neighbours costs log(bins per level) of its mass and the search clipped the tail to
// 256 bins). With 10x more zeros the threshold is the same.
TEST(Calib, KlThresholdIgnoresSpikes) {
  auto v = relu_gaussian(100000, 20, 10.0f, 12.0f, 2);
  const double plain = kl_threshold(stats_of(v).abs, 256);
  for (int k = 0; k < 10; ++k) v.insert(v.end(), 3500, 0.15f + 0.17f * k);
  const double spiked = kl_threshold(stats_of(v).abs, 256);
  v.insert(v.end(), 1000000, 0.0f);
  const double zeros = kl_threshold(stats_of(v).abs, 256);
  std::printf("spikes: threshold %.4f, with 10 spikes %.4f, and 10x zeros %.4f\n", plain, spiked, zeros);
  EXPECT_GT(plain, 3.1);
  EXPECT_GT(spiked, 3.1);
  EXPECT_NEAR(spiked, plain, 0.5);
  EXPECT_EQ(zeros, spiked);
}

// Relu(uniform[-1, 1]): nothing is worth clipping (every clip folds a block of the
// flat top into one bin), so the threshold is (nearly) the maximum, at 8 and 4 bits.
TEST(Calib, KlKeepsTheRangeWhenNothingIsWorthClipping) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(200000);
  for (float& x : v) x = std::max(0.0f, u(rng));
  const TensorStats s = stats_of(v);
  for (int bits : {8, 4}) {
    const double t = kl_clip(s, bits);
    std::printf("relu'd uniform: max %.4f, kl clip %d bits %.4f\n", double(s.max), bits, t);
    EXPECT_GT(t, 0.98 * s.max) << bits << " bits";
    EXPECT_LE(t, 1.0001 * s.max) << bits << " bits";
  }
}

// Two-sided tensor (signed symmetric encoding, 128 levels per side at 8 bits): the
// Gaussian bulk with far outliers on both sides is clipped between the two.
TEST(Calib, KlSymmetricSignedTensor) {
  std::mt19937 rng(4);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(200000);
  for (float& x : v) x = g(rng);
  for (int i = 0; i < 10; ++i) v.push_back(-11.0f + 0.1f * i), v.push_back(11.0f - 0.1f * i);
  const TensorStats s = stats_of(v);
  const QParams q = choose_params(s, CalibMethod::kKl, CalibParams{}, ActEncoding{8, true});
  EXPECT_TRUE(q.is_signed);
  EXPECT_EQ(q.zero_point, 0);
  const double t = static_cast<double>(q.scale) * 127;
  std::printf("gaussian + outliers, symmetric signed: kl clip %.3f\n", t);
  EXPECT_GT(t, 3.3);  // above the 99.9th percentile of |x|
  EXPECT_LT(t, 8.0);
}

}  // namespace
}  // namespace qsim
