// int_arith.h: rule 5 (requantization with one round-half-even rounding) against an
// exact 128-bit reference, the vector lanes of quant_ops.h (AVX-512 or AVX2, whichever
// the build has) against the scalar rule,
// and the agreement with ONNX's float requantization (QuantizeLinear of acc * scale);
// rule 2's products (Bit Fusion bricks, bit-serial) against the plain product on every
// operand pair; rule 3's accumulator (wrap, overflow reported) exhaustively at small widths.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arith/int_arith.h"
#include "quant/quant_ops.h"
#include "sim/hw_spec.h"

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

// The vectorised requantization (AVX-512 or AVX2 where the build has it) equals the scalar rule
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

// The vectorised Add (two and three inputs) and rescale (Concat's inputs, Requantize
// steps) equal their scalar rules on every lane, tail included, for both codecs.
TEST(IntArith, VectorAddAndRescaleEqualScalar) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> below_one(-20.0, -0.05);
  ThreadPool pool(1);
  const int64_t n = 43;  // vectors of 8 and of 16, and a tail
  for (int t = 0; t < 2000; ++t) {
    const int bits = 2 + t % 7;
    const bool is_signed = t % 2;
    const intarith::QRange r = intarith::qrange(bits, is_signed);
    auto zero_point = [&] { return is_signed ? 0 : static_cast<int32_t>(rng() % static_cast<uint64_t>(r.hi + 1)); };
    auto value = [&] { return r.lo + static_cast<int32_t>(rng() % static_cast<uint64_t>(r.hi - r.lo + 1)); };
    const std::size_t inputs = 2 + static_cast<std::size_t>(t % 2);
    AddQ a;
    a.left_shift = intarith::add_left_shift(bits);
    a.out_m = intarith::quantize_multiplier(std::exp2(below_one(rng)));
    a.out_zp = zero_point();
    a.range = r;
    std::vector<std::vector<int32_t>> xi(inputs, std::vector<int32_t>(n));
    std::vector<std::vector<float>> xf(inputs, std::vector<float>(n));
    for (std::size_t k = 0; k < inputs; ++k) {
      a.in.push_back({zero_point(), intarith::quantize_multiplier(std::exp2(below_one(rng)))});
      for (int64_t i = 0; i < n; ++i) {
        const int32_t q = value();
        xi[k][static_cast<std::size_t>(i)] = q;
        xf[k][static_cast<std::size_t>(i)] = static_cast<float>(q - a.in[k].zero_point);
      }
    }
    std::vector<const int32_t*> pi;
    std::vector<const float*> pf;
    for (std::size_t k = 0; k < inputs; ++k) {
      pi.push_back(xi[k].data());
      pf.push_back(xf[k].data());
    }
    std::vector<int32_t> yi(n);
    std::vector<float> yf(n);
    qops::add<qops::IntCodec>(a, pi, yi.data(), n, pool);
    qops::add<qops::FakeCodec>(a, pf, yf.data(), n, pool);
    RescaleQ s;
    s.in_zp = a.in[0].zero_point;
    s.out_zp = a.out_zp;
    s.m = intarith::quantize_multiplier(std::exp2(below_one(rng) + 1.0));
    s.range = r;
    std::vector<int32_t> si(n);
    std::vector<float> sf(n);
    qops::rescale<qops::IntCodec>(s, xi[0].data(), si.data(), n);
    qops::rescale<qops::FakeCodec>(s, xf[0].data(), sf.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      int32_t sum = 0;
      for (std::size_t k = 0; k < inputs; ++k) sum += intarith::add_term(xi[k][u], a.in[k], a.left_shift);
      const int32_t want = intarith::add_output(sum, a.out_m, a.out_zp, a.range);
      ASSERT_EQ(yi[u], want) << "add, lane " << i << ", " << inputs << " inputs";
      ASSERT_EQ(yf[u], static_cast<float>(want - a.out_zp)) << "add, lane " << i;
      const int32_t want_s = intarith::requantize(xi[0][u] - s.in_zp, s.m, s.out_zp, s.range);
      ASSERT_EQ(si[u], want_s) << "rescale, lane " << i;
      ASSERT_EQ(sf[u], static_cast<float>(want_s - s.out_zp)) << "rescale, lane " << i;
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
  // The signedness is the bricks' configuration, not a hint: an unsigned 2-bit 3
  // taken as signed is -1 (what a Bit Fusion PE with the wrong flag computes).
  static_assert(intarith::brick_product(3, 2, false, 1, 2, false) == 3);
  static_assert(intarith::brick_product(3, 2, true, 1, 2, false) == -1);
  static_assert(intarith::brick_product(255, 8, true, 1, 8, false) == -1);
}

// Every operand pair of every width pair from 1x1 to 8x8 bits (2/4/8 and the widths
// between), signed and unsigned: the bit-serial products (over the activation's bits,
// and over both operands' bits) equal the plain product and, from 2 bits up, Bit
// Fusion's bricks; their cycle counts are abits and wbits * abits.
TEST(IntArith, BitSerialProductsAreThePlainProduct) {
  int64_t pairs = 0;
  for (int wb = 1; wb <= 8; ++wb)
    for (int ab = 1; ab <= 8; ++ab)
      for (bool ws : {true, false})
        for (bool as : {true, false}) {
          const intarith::QRange wr = intarith::qrange(wb, ws), ar = intarith::qrange(ab, as);
          int64_t wrong_act = 0, wrong_both = 0, wrong_bricks = 0, wrong_cycles = 0;
          for (int32_t w = wr.lo; w <= wr.hi; ++w)
            for (int32_t a = ar.lo; a <= ar.hi; ++a, ++pairs) {
              const int64_t plain = intarith::product(w, a);
              const intarith::SerialProduct act = intarith::bit_serial_product(w, a, ab, as);
              const intarith::SerialProduct both = intarith::bit_serial_product_both(w, wb, ws, a, ab, as);
              wrong_act += act.value != plain;
              wrong_both += both.value != plain;
              wrong_cycles += act.cycles != ab || both.cycles != wb * ab;
              if (wb >= 2 && ab >= 2) wrong_bricks += intarith::brick_product(w, wb, ws, a, ab, as) != plain;
            }
          SCOPED_TRACE(::testing::Message() << wb << "x" << ab << " bits, signed " << ws << "/" << as);
          EXPECT_EQ(wrong_act, 0);
          EXPECT_EQ(wrong_both, 0);
          EXPECT_EQ(wrong_bricks, 0);
          EXPECT_EQ(wrong_cycles, 0);
        }
  EXPECT_EQ(pairs, 4 * 510 * 510);  // (2 + 4 + ... + 256)^2 pairs per sign combination
  // The sign bit weighs -2^(bits-1): the most negative 8-bit operands.
  static_assert(intarith::bit_serial_product(-128, -128, 8, true).value == 16384);
  static_assert(intarith::bit_serial_product_both(-128, 8, true, 255, 8, false).value == -32640);
  static_assert(intarith::bit_serial_product_both(-1, 1, true, -1, 1, true).value == 1);  // 1-bit signed: {-1, 0}
}

// The per-cycle terms the cycle-level PEs add (serial_term) sum, over the reference
// products' cycle counts, to those products for every operand pair to 8x8 bits.
TEST(IntArith, SerialTermsSumToTheSerialProducts) {
  int64_t wrong = 0, pairs = 0;
  for (int wb = 1; wb <= 8; ++wb)
    for (int ab = 1; ab <= 8; ++ab)
      for (bool ws : {true, false})
        for (bool as : {true, false}) {
          const intarith::QRange wr = intarith::qrange(wb, ws), ar = intarith::qrange(ab, as);
          for (int32_t w = wr.lo; w <= wr.hi; ++w)
            for (int32_t a = ar.lo; a <= ar.hi; ++a, ++pairs)
              for (bool both : {false, true}) {
                int64_t sum = 0;
                for (int s = 0; s < intarith::bit_serial_cycles(wb, ab, both); ++s)
                  sum += intarith::serial_term(w, wb, ws, a, ab, as, both, s);
                const int64_t want = both ? intarith::bit_serial_product_both(w, wb, ws, a, ab, as).value
                                          : intarith::bit_serial_product(w, a, ab, as).value;
                wrong += sum != want;
              }
        }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(pairs, 4 * 510 * 510);
  static_assert(intarith::serial_term(-1, 4, true, -1, 4, true, true, 3 * 4 + 3) == 64);  // two sign bits
}

// The timing model's bit-serial throughput is the reference product's cycle count.
TEST(IntArith, BitSerialCyclesAreTheTimingModels) {
  for (const SerialOperand serial : {SerialOperand::kActivation, SerialOperand::kBoth}) {
    HwSpec hw;
    hw.pe.precision = PeModel::kBitSerial;
    hw.pe.base_bits = 8;
    hw.pe.widths = {1, 2, 3, 4, 5, 6, 7, 8};
    hw.pe.serial = serial;
    for (int wb = 1; wb <= 8; ++wb)
      for (int ab = 1; ab <= 8; ++ab) {
        const int cycles = serial == SerialOperand::kBoth ? intarith::bit_serial_product_both(1, wb, false, 1, ab, false).cycles
                                                          : intarith::bit_serial_product(1, 1, ab, false).cycles;
        EXPECT_DOUBLE_EQ(macs_per_pe_per_cycle(hw, wb, ab), 1.0 / cycles) << wb << "x" << ab;
      }
  }
}

// Rule 3 against arithmetic on exact integers: for every register value of every
// width from 2 to 10 bits and every addend reaching twice past the range, the register
// holds the exact sum modulo 2^acc_bits (two's complement) and the overflow flag is set
// exactly when the exact sum is out of range.
TEST(IntArith, AccumulatorWrapsAndReportsOverflowExhaustively) {
  int64_t cases = 0;
  for (int bits = 2; bits <= 10; ++bits) {
    const int64_t lo = intarith::acc_min(bits), hi = intarith::acc_max(bits), span = int64_t{1} << bits;
    ASSERT_EQ(lo, -span / 2);
    ASSERT_EQ(hi, span / 2 - 1);
    int64_t wrong = 0;
    for (int64_t acc = lo; acc <= hi; ++acc)
      for (int64_t p = -2 * span; p <= 2 * span; ++p, ++cases) {
        const int64_t exact = acc + p;
        const int64_t want = ((exact - lo) % span + span) % span + lo;
        const intarith::Accumulated r = intarith::accumulate_checked(acc, p, bits);
        wrong += r.value != want || r.value != intarith::accumulate(acc, p, bits) ||
                 r.overflow != (exact < lo || exact > hi);
      }
    EXPECT_EQ(wrong, 0) << bits << " bits";
  }
  EXPECT_GT(cases, 1000000);
  // The edges of wide registers, where the 64-bit sum itself overflows.
  using intarith::accumulate_checked;
  EXPECT_EQ(accumulate_checked(INT64_MAX, 1, 64).value, INT64_MIN);
  EXPECT_TRUE(accumulate_checked(INT64_MAX, 1, 64).overflow);
  EXPECT_TRUE(accumulate_checked(INT64_MIN, -1, 64).overflow);
  EXPECT_FALSE(accumulate_checked(INT64_MAX, -1, 64).overflow);
  EXPECT_TRUE(accumulate_checked(intarith::acc_max(63), INT64_MAX, 63).overflow);  // wraps twice past int64
  EXPECT_EQ(accumulate_checked(intarith::acc_max(32), 1, 32).value, intarith::kInt32Min);
  EXPECT_TRUE(accumulate_checked(intarith::acc_max(32), 1, 32).overflow);
  EXPECT_FALSE(accumulate_checked(intarith::acc_max(32), 0, 32).overflow);
}

// A 16-bit accumulator over int8 dot products: its final value is the exact sum
// wrapped (wherever it wrapped on the way), and it reports the first addition whose
// exact running sum left the range, so a wrapped-back result is still flagged.
TEST(IntArith, AccumulatorOverDotProducts) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int32_t> w8(-128, 127), a8(0, 255);
  int flagged = 0, exact_runs = 0, wrapped_back = 0;
  for (int t = 0; t < 400; ++t) {
    const int n = 1 + t * 3;
    intarith::Accumulator acc(16);
    int64_t exact = 0;
    int first_exact_overflow = -1, first_reported = -1;
    for (int i = 0; i < n; ++i) {
      const int64_t p = intarith::product(w8(rng), a8(rng) >> (t % 8));
      exact += p;
      if (first_exact_overflow < 0 && !intarith::fits_acc(exact, 16)) first_exact_overflow = i;
      if (acc.add(p) && first_reported < 0) first_reported = i;
    }
    ASSERT_EQ(acc.value(), intarith::wrap(exact, 16)) << "run " << t;
    ASSERT_EQ(first_reported, first_exact_overflow) << "run " << t;
    EXPECT_EQ(acc.overflowed(), first_exact_overflow >= 0);
    flagged += acc.overflowed();
    exact_runs += !acc.overflowed();
    wrapped_back += acc.overflowed() && intarith::fits_acc(exact, 16);
  }
  // Both kinds of run occur, and some wrapped out and back into range.
  EXPECT_GT(flagged, 10);
  EXPECT_GT(exact_runs, 10);
  EXPECT_GT(wrapped_back, 0);
  // An initial value out of range counts as an overflow too.
  EXPECT_TRUE(intarith::Accumulator(8, 200).overflowed());
  EXPECT_EQ(intarith::Accumulator(8, 200).value(), 200 - 256);
}

}  // namespace
}  // namespace qsim
