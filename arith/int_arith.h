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
//     bits). A Bit Fusion PE forms it from 2-bit bricks (brick_product below), a
//     bit-serial PE over the activation's bits or over both operands' bits
//     (bit_serial_product, bit_serial_product_both, with their cycle counts); each
//     equals the plain product for every operand pair.
//  3. Accumulation in an acc_bits-wide accumulator (the HwSpec's pe.acc_bits, <= 64)
//     WRAPS: every addition is modulo 2^acc_bits, two's complement, as a hardware
//     adder of that width does. Wrapping is a ring homomorphism, so the result is
//     independent of summation order and of where the wrap is applied: an int32
//     SIMD accumulator wrapped to acc_bits at the end equals a PE that wraps at every
//     step. Overflow is never silent where it is asked for: accumulate_checked and
//     Accumulator report every addition whose exact sum left the register's range
//     (a wrapped final value can still be right: the flag says whether to trust it).
//     (saturate() exists for analysis; no datapath uses it.)
//  4. Bias: an int32 value at scale s_in * s_w, added into the accumulator (wrapping).
//  5. Requantization to the output: q = clamp(z_out + MultiplyByQuantizedMultiplier(
//     acc, M0, shift), lo, hi) with ONE rounding: the exact 64-bit product acc * M0
//     shifted right by 31 - shift, rounded half to even (the rounding of rule 1, so a
//     QDQ graph's float Conv -> QuantizeLinear gives the same integers except where
//     float32 rounding or the 31-bit multiplier moves a value across a tie). This is
//     TFLite's TFLITE_SINGLE_ROUNDING form with RNE instead of round-half-up;
//     gemmlowp's default (a rounding doubling high multiply, then a second rounding
//     shift) rounds twice and differs from exact rounding on ~2^-(right shift) of all
//     values. M0/shift come from the real multiplier s_in * s_w / s_out by
//     quantize_multiplier (TFLite's QuantizeMultiplier). The result saturates to int32.
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

// Quotient rounded up: counts of tiles, folds and panels (a >= 0, b > 0).
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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

// The range of an acc_bits-wide two's complement register (2..64 bits).
constexpr int64_t acc_min(int acc_bits) {
  return acc_bits >= 64 ? INT64_MIN : -static_cast<int64_t>(uint64_t{1} << (acc_bits - 1));
}
constexpr int64_t acc_max(int acc_bits) {
  return acc_bits >= 64 ? INT64_MAX : static_cast<int64_t>((uint64_t{1} << (acc_bits - 1)) - 1);
}
constexpr bool fits_acc(int64_t v, int acc_bits) { return v >= acc_min(acc_bits) && v <= acc_max(acc_bits); }

// One addition into an acc_bits register with its overflow made explicit: `value`
// is what the register holds afterwards (rule 3's wrap, the same as accumulate()),
// `overflow` whether the exact sum acc + p lies outside the register's range (the
// adder's signed-overflow flag). acc must already be in range.
struct Accumulated {
  int64_t value = 0;
  bool overflow = false;
};
constexpr Accumulated accumulate_checked(int64_t acc, int64_t p, int acc_bits) {
  const auto sum = static_cast<int64_t>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(p));
  // Beyond int64 the operands have one sign and the 64-bit sum the other.
  const bool past_int64 = ((acc ^ sum) & (p ^ sum)) < 0;
  return {wrap(sum, acc_bits), past_int64 || !fits_acc(sum, acc_bits)};
}

// An acc_bits-wide accumulator register (the HwSpec's pe.acc_bits): add() wraps as
// the hardware does and reports whether that addition overflowed; the register
// remembers how many did, so a PE model or a test harness can tell a wrapped sum
// from an exact one.
class Accumulator {
 public:
  constexpr explicit Accumulator(int acc_bits, int64_t initial = 0)
      : bits_(acc_bits), value_(wrap(initial, acc_bits)), overflows_(fits_acc(initial, acc_bits) ? 0 : 1) {}
  // Adds p (a product or a bias); true when the exact sum left the range.
  constexpr bool add(int64_t p) {
    const Accumulated r = accumulate_checked(value_, p, bits_);
    value_ = r.value;
    overflows_ += r.overflow ? 1 : 0;
    return r.overflow;
  }
  constexpr int64_t value() const { return value_; }
  constexpr int bits() const { return bits_; }
  constexpr int64_t overflows() const { return overflows_; }  // additions that wrapped
  constexpr bool overflowed() const { return overflows_ != 0; }

 private:
  int bits_;
  int64_t value_;
  int64_t overflows_;
};

// ------------------------------------------------------------------ bit-serial products

// A product formed over several cycles (a bit-serial PE), with its cycle count.
struct SerialProduct {
  int64_t value = 0;
  int cycles = 0;
};

// Cycles of one wbits x abits product on a bit-serial PE (pe.precision bitserial):
// one per activation bit with the weight bit-parallel (pe.serial activation,
// Stripes), one per pair of bits when both operands are serial (pe.serial both,
// BISMO). The timing model's MACs per PE-cycle is its inverse (sim/hw_spec.cpp).
constexpr int bit_serial_cycles(int wbits, int abits, bool both_serial) {
  return both_serial ? wbits * abits : abits;
}

// Bit i of a `bits`-wide operand (two's complement when signed) and its weight:
// 2^i, except the top bit of a signed operand, which weighs -2^(bits-1).
constexpr int64_t operand_bit(int32_t v, int i) { return (static_cast<uint32_t>(v) >> i) & 1u; }
constexpr int64_t bit_weight(int i, int bits, bool is_signed) {
  const int64_t w = int64_t{1} << i;
  return is_signed && i == bits - 1 ? -w : w;
}

// pe.serial activation: the activation enters least significant bit first, one bit
// per cycle; a set bit adds the bit-parallel weight shifted to its position (the
// sign bit of a signed activation subtracts it). abits cycles; equals w * a for
// every pair in range (tests/quant/int_arith_test.cpp, exhaustively to 8 bits).
constexpr SerialProduct bit_serial_product(int32_t w, int32_t a, int abits, bool a_signed) {
  SerialProduct p;
  for (int i = 0; i < abits; ++i) {
    if (operand_bit(a, i)) p.value += static_cast<int64_t>(w) * bit_weight(i, abits, a_signed);
    ++p.cycles;
  }
  return p;
}

// pe.serial both: one weight bit AND one activation bit per cycle, the 1-bit
// product added at weight 2^(i+j) (negative when exactly one of the two bits is a
// sign bit). wbits * abits cycles; equals w * a for every pair in range.
constexpr SerialProduct bit_serial_product_both(int32_t w, int wbits, bool w_signed, int32_t a, int abits,
                                                bool a_signed) {
  SerialProduct p;
  for (int i = 0; i < wbits; ++i)
    for (int j = 0; j < abits; ++j) {
      if (operand_bit(w, i) & operand_bit(a, j)) p.value += bit_weight(i, wbits, w_signed) * bit_weight(j, abits, a_signed);
      ++p.cycles;
    }
  return p;
}

// What a bit-serial PE adds in cycle `slice` of one product (the cycle-level PEs of
// sim/systolic add it once per cycle): activation-serial, the weight times bit
// `slice` of a at its weight; both serial (slice = i * abits + j), bit i of w times
// bit j of a at weight 2^(i+j), signed as above. Summed over bit_serial_cycles
// slices it is bit_serial_product(_both)'s value (tests/quant/int_arith_test.cpp).
constexpr int64_t serial_term(int32_t w, int wbits, bool w_signed, int32_t a, int abits, bool a_signed,
                              bool both_serial, int slice) {
  if (!both_serial) return operand_bit(a, slice) ? static_cast<int64_t>(w) * bit_weight(slice, abits, a_signed) : 0;
  const int i = slice / abits, j = slice % abits;
  return operand_bit(w, i) & operand_bit(a, j) ? bit_weight(i, wbits, w_signed) * bit_weight(j, abits, a_signed) : 0;
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
    // A brick sees two bits: the top digit of a signed operand is those two bits
    // sign-extended, so an operand outside the range its signedness says is
    // multiplied as the hardware would, not as its integer value.
    const int32_t d = (v >> (2 * i)) & 3;
    const bool top = i == b.count - 1;
    b.digit[i] = static_cast<int8_t>(top && is_signed ? (d ^ 2) - 2 : d);
  }
  return b;
}

// One BitBrick: a 2-bit x 2-bit product of (sign-extended) digits.
constexpr int32_t brick_mul(int8_t a, int8_t b) { return static_cast<int32_t>(a) * b; }

// The product as a Bit Fusion PE forms it: every pair of bricks multiplied and the
// partial products shifted by 2*(i+j) and summed. Equals w * a for all operands in
// range (tests/quant/int_arith_test.cpp, BrickProductIsTheProduct: every pair of
// every width pair up to 8x8 bits, signed and unsigned).
constexpr int64_t brick_product(int32_t w, int wbits, bool w_signed, int32_t a, int abits, bool a_signed) {
  const Bricks bw = to_bricks(w, wbits, w_signed);
  const Bricks ba = to_bricks(a, abits, a_signed);
  int64_t sum = 0;
  for (int i = 0; i < bw.count; ++i)
    for (int j = 0; j < ba.count; ++j)
      sum += static_cast<int64_t>(brick_mul(bw.digit[i], ba.digit[j])) * (int64_t{1} << (2 * (i + j)));
  return sum;
}

// ------------------------------------------------------------------ requantization (TFLite multipliers, one rounding)

constexpr int32_t kInt32Min = -2147483647 - 1;
constexpr int32_t kInt32Max = 2147483647;

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

// Round half to even of v / 2^r (1 <= r <= 62), exact on any int64 (arithmetic
// shift = floor; adding half - 1 + the floor's lowest bit carries exactly when the
// remainder is above half, or equal to it with an odd floor).
constexpr int64_t rounding_shift_right_even(int64_t v, int r) {
  const int64_t half = int64_t{1} << (r - 1);
  return (v + (half - 1) + ((v >> r) & 1)) >> r;
}

// MultiplyByQuantizedMultiplier with one rounding (rule 5): round_half_even(x * M0 /
// 2^(31 - shift)), saturated to int32. |x * M0| < 2^62, and 31 - shift >= 1.
constexpr int32_t multiply_by_quantized_multiplier(int32_t x, Multiplier m) {
  const int r = 31 - m.shift;
  const int64_t p = static_cast<int64_t>(x) * m.m0;
  const int64_t v = r > 62 ? 0 : rounding_shift_right_even(p, r);
  return static_cast<int32_t>(clamp64(v, kInt32Min, kInt32Max));
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
