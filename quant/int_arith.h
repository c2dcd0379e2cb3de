// int_arith.h — THE integer arithmetic of qsim's quantized inference.
//
// One header, shared by the integer executor (quant/int_exec.h), the fake-quant
// executor (quant/quant_fake.h), and the cycle-level SystemC PEs and RTL harness,
// so that all of them agree bit for bit. Header-only, constexpr where possible,
// no dependency beyond <cstdint>. docs/quantization.md explains every rule.
//
// The rules, in the order a quantized layer applies them:
//  1. Quantize (float -> integer): q = clamp(round_half_even(x / scale) + zero_point,
//     qmin, qmax), with x / scale computed in float32 exactly as ONNX QuantizeLinear
//     does. Ranges: signed w-bit [-2^(w-1), 2^(w-1)-1] (narrow: -2^(w-1)+1 ..., the
//     symmetric weight range), unsigned [0, 2^w - 1].
//  2. Product: a w-bit x a-bit product is the exact integer product (it fits 2*32
//     bits). A Bit Fusion PE forms it from 2-bit bricks (brick_product below),
//     which equals the plain product for every operand pair.
//  3. Accumulation in an acc_bits-wide accumulator (the HwSpec's pe.acc_bits, <= 64)
//     WRAPS: every addition is modulo 2^acc_bits, two's complement, as a hardware
//     adder of that width does. Wrapping is a ring homomorphism, so the result is
//     independent of summation order and of where the wrap is applied: an int32
//     SIMD accumulator wrapped to acc_bits at the end equals a PE that wraps at every
//     step. (saturate() exists for analysis; no datapath uses it.)
//  4. Bias: an int32 value at scale s_in * s_w, added into the accumulator (wrapping).
//  5. Requantization to the output: q = clamp(z_out + MultiplyByQuantizedMultiplier(
//     acc, M0, shift), lo, hi) with gemmlowp/TFLite rounding: a saturating rounding
//     doubling high multiply by the int32 M0 followed by a rounding right shift
//     (ties away from zero). M0/shift come from the real multiplier
//     s_in * s_w / s_out by quantize_multiplier (TFLite's QuantizeMultiplier).
//     An accumulator wider than 32 bits saturates to int32 before this stage.
//  6. Element-wise Add of two quantized tensors (TFLite's scheme): both inputs are
//     shifted left by add_left_shift(bits) and rescaled to a common scale, summed
//     in int32, and the sum requantized to the output.
#pragma once

#include <cstdint>

namespace qsim::intarith {

// ------------------------------------------------------------------ ranges

struct QRange {
  int32_t lo = 0;
  int32_t hi = 0;
};

// Integer range of a `bits`-wide value (1..31 bits). `narrow` drops the most
// negative signed value so the range is symmetric (weights: [-127, 127] at 8 bits).
constexpr QRange qrange(int bits, bool is_signed, bool narrow = false) {
  if (is_signed) {
    const int32_t hi = static_cast<int32_t>((int64_t{1} << (bits - 1)) - 1);
    return {narrow ? -hi : -hi - 1, hi};
  }
  return {0, static_cast<int32_t>((int64_t{1} << bits) - 1)};
}

constexpr int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ------------------------------------------------------------------ rounding and quantization

// Round half to even of a double, exact for |x| < 2^52 (callers clamp first; NaN
// gives 0).
constexpr int64_t round_half_even(double x) {
  if (!(x == x)) return 0;
  const auto t = static_cast<int64_t>(x);  // toward zero
  const double frac = x - static_cast<double>(t);
  if (frac > 0.5) return t + 1;
  if (frac < -0.5) return t - 1;
  if (frac == 0.5) return t + (t & 1);
  if (frac == -0.5) return t - (t & 1);
  return t;
}

// Round half away from zero (std::round), used only for deriving multipliers as
// TFLite does.
constexpr int64_t round_half_away(double x) {
  const auto t = static_cast<int64_t>(x);
  const double frac = x - static_cast<double>(t);
  if (frac >= 0.5) return t + 1;
  if (frac <= -0.5) return t - 1;
  return t;
}

// Rule 1: ONNX QuantizeLinear. The quotient is a float32 division, as ONNX defines it.
constexpr int32_t quantize(float x, float scale, int32_t zero_point, QRange r) {
  const float v = x / scale;
  if (!(v == v)) return static_cast<int32_t>(clamp64(zero_point, r.lo, r.hi));
  // Clamp before rounding so huge values (and infinities) cannot overflow.
  const double lim = 4294967296.0;
  const double d = v < -lim ? -lim : (v > lim ? lim : static_cast<double>(v));
  return static_cast<int32_t>(clamp64(round_half_even(d) + zero_point, r.lo, r.hi));
}

// ONNX DequantizeLinear: (q - zero_point) * scale in float32.
constexpr float dequantize(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

// ------------------------------------------------------------------ products and the accumulator

// Rule 2: a w-bit x a-bit product (operands already in their ranges).
constexpr int64_t product(int32_t w, int32_t a) { return static_cast<int64_t>(w) * a; }

// Rule 3: two's complement wrap of v to acc_bits (2..64).
constexpr int64_t wrap(int64_t v, int acc_bits) {
  if (acc_bits >= 64) return v;
  const uint64_t mask = (uint64_t{1} << acc_bits) - 1;
  uint64_t u = static_cast<uint64_t>(v) & mask;
  if (u >> (acc_bits - 1)) u |= ~mask;
  return static_cast<int64_t>(u);
}

// Saturation to acc_bits (analysis only: the datapath wraps).
constexpr int64_t saturate(int64_t v, int acc_bits) {
  if (acc_bits >= 64) return v;
  const int64_t hi = static_cast<int64_t>((uint64_t{1} << (acc_bits - 1)) - 1);
  return clamp64(v, -hi - 1, hi);
}

// acc + p in an acc_bits accumulator (the addition itself is done modulo 2^64).
constexpr int64_t accumulate(int64_t acc, int64_t p, int acc_bits) {
  return wrap(static_cast<int64_t>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(p)), acc_bits);
}

// ------------------------------------------------------------------ Bit Fusion bricks

// A `bits`-wide operand as 2-bit digits, least significant first: value =
// sum digit[i] * 4^i. Unsigned operands have digits in [0, 3]; signed operands have
// unsigned lower digits and a signed top digit in [-2, 1], as Bit Fusion's BitBricks
// take them (a sign-extended 2-bit input per brick). Odd widths use one more bit
// (a 3-bit operand needs two bricks).
struct Bricks {
  int count = 0;
  int8_t digit[16] = {};
};

constexpr int brick_count(int bits) { return (bits + 1) / 2; }

constexpr Bricks to_bricks(int32_t v, int bits, bool is_signed) {
  Bricks b;
  b.count = brick_count(bits);
  for (int i = 0; i < b.count; ++i) {
    const int32_t shifted = v >> (2 * i);  // arithmetic shift (C++20)
    const bool top = i == b.count - 1;
    b.digit[i] = static_cast<int8_t>(top && is_signed ? shifted : (shifted & 3));
  }
  return b;
}

// One BitBrick: a 2-bit x 2-bit product of (sign-extended) digits.
constexpr int32_t brick_mul(int8_t a, int8_t b) { return static_cast<int32_t>(a) * b; }

// The product as a Bit Fusion PE forms it: every pair of bricks multiplied and the
// partial products shifted by 2*(i+j) and summed. Equals product(w, a) for all
// operands in range (tests/quant/quant_arith_test.cpp checks every pair up to 8x8).
constexpr int64_t brick_product(int32_t w, int wbits, bool w_signed, int32_t a, int abits, bool a_signed) {
  const Bricks bw = to_bricks(w, wbits, w_signed);
  const Bricks ba = to_bricks(a, abits, a_signed);
  int64_t sum = 0;
  for (int i = 0; i < bw.count; ++i)
    for (int j = 0; j < ba.count; ++j)
      sum += static_cast<int64_t>(brick_mul(bw.digit[i], ba.digit[j])) * (int64_t{1} << (2 * (i + j)));
  return sum;
}

// ------------------------------------------------------------------ requantization (gemmlowp / TFLite)

constexpr int32_t kInt32Min = -2147483647 - 1;
constexpr int32_t kInt32Max = 2147483647;

// gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from
// zero, saturating the single overflow case a == b == INT32_MIN.
constexpr int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == kInt32Min) return kInt32Max;
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));  // division truncates, as gemmlowp's
}

// gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from
// zero (exponent 0..31).
constexpr int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const auto mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// A real multiplier as M0 * 2^(shift - 31), M0 in [2^30, 2^31) (or 0).
struct Multiplier {
  int32_t m0 = 0;
  int shift = 0;  // > 0: left shift before the multiply; < 0: rounding right shift after
};

// TFLite QuantizeMultiplier: real = q * 2^shift with q in [0.5, 1), M0 = round(q * 2^31).
// Multipliers below 2^-31 become 0; above 2^30 saturate. real must be >= 0.
constexpr Multiplier quantize_multiplier(double real) {
  if (!(real > 0.0)) return {0, 0};
  int shift = 0;
  double q = real;
  while (q >= 1.0) {
    q *= 0.5;
    ++shift;
  }
  while (q < 0.5) {
    q *= 2.0;
    --shift;
  }
  int64_t q_fixed = round_half_away(q * 2147483648.0);
  if (q_fixed == (int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {0, 0};
  if (shift > 30) return {kInt32Max, 30};
  return {static_cast<int32_t>(q_fixed), shift};
}

// The real value a Multiplier stands for (for tests and reports).
constexpr double multiplier_value(Multiplier m) {
  double v = static_cast<double>(m.m0) / 2147483648.0;
  for (int i = 0; i < m.shift; ++i) v *= 2.0;
  for (int i = 0; i > m.shift; --i) v *= 0.5;
  return v;
}

// TFLite MultiplyByQuantizedMultiplier: x * M0 * 2^(shift-31), rounded. The left
// shift saturates to int32 (TFLite leaves that case undefined).
constexpr int32_t multiply_by_quantized_multiplier(int32_t x, Multiplier m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  const auto shifted = static_cast<int32_t>(clamp64(static_cast<int64_t>(x) * (int64_t{1} << left), kInt32Min, kInt32Max));
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.m0), right > 31 ? 31 : right);
}

// An accumulator value handed to the requantization stage: wrapped to acc_bits
// (rule 3), then saturated to int32 when the accumulator is wider than 32 bits.
constexpr int32_t acc_to_int32(int64_t acc, int acc_bits) {
  return static_cast<int32_t>(clamp64(wrap(acc, acc_bits), kInt32Min, kInt32Max));
}

// Rule 5: accumulator -> output value in [r.lo, r.hi] (the range already narrowed by
// a fused Relu/Clip, see clamp_range()).
constexpr int32_t requantize(int32_t acc, Multiplier m, int32_t zero_point, QRange r) {
  return static_cast<int32_t>(clamp64(static_cast<int64_t>(multiply_by_quantized_multiplier(acc, m)) + zero_point,
                                      r.lo, r.hi));
}

// Output range of a layer whose fused activation clamps the real value to
// [lo, hi] (Relu: [0, +inf); Clip: its bounds): the bounds quantized with the
// output's scale and zero point, intersected with the type's range. Infinite
// bounds are passed as has_lo / has_hi = false.
constexpr QRange clamp_range(QRange type_range, float scale, int32_t zero_point, bool has_lo, float lo, bool has_hi,
                             float hi) {
  QRange r = type_range;
  if (has_lo) {
    const int32_t q = quantize(lo, scale, zero_point, type_range);
    if (q > r.lo) r.lo = q;
  }
  if (has_hi) {
    const int32_t q = quantize(hi, scale, zero_point, type_range);
    if (q < r.hi) r.hi = q;
  }
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

// ------------------------------------------------------------------ element-wise Add (TFLite scheme)

// Left shift applied to (q - z) before rescaling: 20 for 8-bit inputs, as TFLite;
// 28 - bits in general so (q - z) << shift stays below 2^29.
constexpr int add_left_shift(int max_input_bits) { return 28 - max_input_bits; }

struct AddInput {
  int32_t zero_point = 0;
  Multiplier m;  // s_in / (2 * max input scale), < 1
};

// One input's contribution: ((q - z) << left_shift) * s_in / (2 max s).
constexpr int32_t add_term(int32_t q, const AddInput& in, int left_shift) {
  return multiply_by_quantized_multiplier((q - in.zero_point) * (int32_t{1} << left_shift), in.m);
}

// The sum of the terms, requantized by out_m = 2 max s / (2^left_shift * s_out).
constexpr int32_t add_output(int32_t sum_of_terms, Multiplier out_m, int32_t zero_point, QRange r) {
  return requantize(sum_of_terms, out_m, zero_point, r);
}

}  // namespace qsim::intarith
