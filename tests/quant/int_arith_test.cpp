// int_arith.h rule 5 (requantization with one round-half-even rounding) against an
// exact 128-bit reference, the AVX-512 lanes of quant_ops.h against the scalar rule,
// and the agreement with ONNX's float requantization (QuantizeLinear of acc * scale).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arith/int_arith.h"
#include "quant/quant_ops.h"

namespace qsim {
namespace {

using intarith::Multiplier;

// round_half_even(x * m0 / 2^r) by exact integer division, saturated to int32.
int32_t reference(int32_t x, Multiplier m) {
  const int r = 31 - m.shift;
  const __int128 p = static_cast<__int128>(x) * m.m0;
  const __int128 d = static_cast<__int128>(1) << r;
  __int128 q = p / d, rem = p % d;  // truncating
  if (rem < 0) {
    rem += d;
    --q;
  }  // now floor, 0 <= rem < d
  if (2 * rem > d || (2 * rem == d && (q & 1))) ++q;
  if (q > intarith::kInt32Max) return intarith::kInt32Max;
  if (q < intarith::kInt32Min) return intarith::kInt32Min;
  return static_cast<int32_t>(q);
}

TEST(IntArith, RequantizationIsOneRoundHalfEven) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int32_t> any(intarith::kInt32Min, intarith::kInt32Max);
  std::uniform_int_distribution<int32_t> small(-70000, 70000);
  std::uniform_real_distribution<double> expo(-40.0, 33.0);
  int ties = 0;
  for (int t = 0; t < 2000; ++t) {
    const Multiplier m = intarith::quantize_multiplier(std::exp2(expo(rng)));
    for (int k = 0; k < 200; ++k) {
      const int32_t x = k % 2 ? any(rng) : small(rng);
      ASSERT_EQ(intarith::multiply_by_quantized_multiplier(x, m), reference(x, m))
          << "x " << x << " m0 " << m.m0 << " shift " << m.shift;
    }
  }
  // Exact ties: multiplier 0.5 * 2^-s (m0 = 2^30) on odd accumulators.
  for (int s = 0; s < 19; ++s) {  // |x| << s < 2^31
    const Multiplier m{int32_t{1} << 30, -s};
    for (int32_t x = -4097; x <= 4097; x += 2) {
      const int32_t got = intarith::multiply_by_quantized_multiplier(x << s, m);
      const int32_t want = static_cast<int32_t>(intarith::round_half_even(static_cast<double>(x) / 2.0));
      ASSERT_EQ(got, want) << x << " shift " << s;
      ++ties;
    }
  }
  EXPECT_GT(ties, 10000);
}

// The requantization equals QuantizeLinear(acc * real) of the float (QDQ) graph except
// where the 31-bit multiplier (relative error below 2^-31) moves the product across a
// tie: products closer to a tie than that are skipped.
TEST(IntArith, RequantizationMatchesFloatRounding) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int32_t> acc(-2000000, 2000000);
  std::uniform_real_distribution<double> expo(-16.0, -2.0);
  int64_t checked = 0;
  for (int t = 0; t < 500; ++t) {
    const double real = std::exp2(expo(rng));
    const Multiplier m = intarith::quantize_multiplier(real);
    for (int k = 0; k < 400; ++k) {
      const int32_t a = acc(rng);
      const double v = a * real;
      if (std::abs(v - std::floor(v) - 0.5) < std::abs(v) * 1e-9 + 1e-12) continue;
      ASSERT_EQ(intarith::multiply_by_quantized_multiplier(a, m), intarith::round_half_even(v)) << a << " * " << real;
      ++checked;
    }
  }
  EXPECT_GT(checked, 190000);
}

// The vectorised requantization (AVX-512 where the build has it) equals the scalar rule
// on every lane, tail included, for int32 and exact-float accumulators.
TEST(IntArith, VectorRequantizationEqualsScalar) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int32_t> any(-(1 << 30), 1 << 30);
  std::uniform_int_distribution<int32_t> exact(-(1 << 23), 1 << 23);
  std::uniform_real_distribution<double> expo(-31.0, -0.1);
  const int64_t n = 67;  // four vectors and a tail
  std::vector<int32_t> a(n), out(n);
  std::vector<float> af(n), outf(n);
  for (int t = 0; t < 3000; ++t) {
    const Multiplier m = intarith::quantize_multiplier(std::exp2(expo(rng)));
    const bool is_signed = t % 2;
    const int bits = 2 + t % 15;
    const intarith::QRange r = intarith::qrange(bits, is_signed);
    const int32_t zp = is_signed ? 0 : static_cast<int32_t>(rng() % static_cast<uint64_t>(r.hi + 1));
    const int32_t bias = exact(rng);
    const int acc_bits = t % 3 ? 32 : 20 + t % 12;
    for (int64_t i = 0; i < n; ++i) {
      a[static_cast<std::size_t>(i)] = any(rng) >> (rng() % 24);
      af[static_cast<std::size_t>(i)] = static_cast<float>(exact(rng));
    }
    qops::requantize_run<qops::IntCodec, int32_t>(a.data(), out.data(), n, bias, m, zp, r, acc_bits);
    qops::requantize_run<qops::FakeCodec, float>(af.data(), outf.data(), n, bias, m, zp, r, acc_bits);
    for (int64_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const auto sum = static_cast<int32_t>(static_cast<uint32_t>(a[u]) + static_cast<uint32_t>(bias));
      const int32_t want = intarith::requantize(intarith::acc_to_int32(sum, acc_bits), m, zp, r);
      ASSERT_EQ(out[u], want) << "lane " << i << " m0 " << m.m0 << " shift " << m.shift;
      const auto sumf = static_cast<int32_t>(af[u]) + bias;
      const int32_t wantf = intarith::requantize(intarith::acc_to_int32(sumf, acc_bits), m, zp, r);
      ASSERT_EQ(outf[u], static_cast<float>(wantf - zp)) << "lane " << i;
    }
  }
}

// Bit Fusion's brick decomposition gives the exact product for every operand pair of
// every width pair from 2x2 to 8x8 bits, signed and unsigned (the claim in int_arith.h).
TEST(IntArith, BrickProductIsTheProduct) {
  int64_t pairs = 0;
  for (int wb = 2; wb <= 8; ++wb)
    for (int ab = 2; ab <= 8; ++ab)
      for (bool ws : {true, false})
        for (bool as : {true, false}) {
          const int32_t wlo = ws ? -(1 << (wb - 1)) : 0, whi = ws ? (1 << (wb - 1)) - 1 : (1 << wb) - 1;
          const int32_t alo = as ? -(1 << (ab - 1)) : 0, ahi = as ? (1 << (ab - 1)) - 1 : (1 << ab) - 1;
          int64_t wrong = 0;
          for (int32_t w = wlo; w <= whi; ++w)
            for (int32_t a = alo; a <= ahi; ++a, ++pairs)
              wrong += intarith::brick_product(w, wb, ws, a, ab, as) != static_cast<int64_t>(w) * a;
          EXPECT_EQ(wrong, 0) << wb << "x" << ab << " bits, signed " << ws << "/" << as;
        }
  EXPECT_GT(pairs, 1000000);
}

// A bit-serial PE's shifted bit products add up to the product for every operand pair of
// every width pair from 2x2 to 8x8 bits, signed and unsigned, with the activation or both
// operands serial (the SystemC PEs add serial_term once per cycle).
TEST(IntArith, BitSerialProductIsTheProduct) {
  int64_t pairs = 0;
  for (int wb = 2; wb <= 8; ++wb)
    for (int ab = 2; ab <= 8; ++ab)
      for (bool ws : {true, false})
        for (bool as : {true, false})
          for (bool both : {false, true}) {
            const int32_t wlo = ws ? -(1 << (wb - 1)) : 0, whi = ws ? (1 << (wb - 1)) - 1 : (1 << wb) - 1;
            const int32_t alo = as ? -(1 << (ab - 1)) : 0, ahi = as ? (1 << (ab - 1)) - 1 : (1 << ab) - 1;
            int64_t wrong = 0;
            for (int32_t w = wlo; w <= whi; ++w)
              for (int32_t a = alo; a <= ahi; ++a, ++pairs)
                wrong += intarith::bit_serial_product(w, wb, ws, a, ab, as, both) != static_cast<int64_t>(w) * a;
            EXPECT_EQ(wrong, 0) << wb << "x" << ab << " bits, signed " << ws << "/" << as << ", both " << both;
          }
  EXPECT_GT(pairs, 2000000);
  static_assert(intarith::serial_bit(-1, 4, true, 3) == -8 && intarith::serial_bit(-1, 4, false, 3) == 8);
}

}  // namespace
}  // namespace qsim
