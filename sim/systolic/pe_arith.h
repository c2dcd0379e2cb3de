// PeArith — what one PE adds to its accumulator in one cycle, for the HwSpec's
// precision model, on real integers (arith/int_arith.h).
//
//   fixed      one product per cycle at pe.base_bits (narrow operands gain nothing)
//   bitfusion  `pack` products of consecutive k per cycle, each formed from 2-bit
//              bricks and summed by the fusion tree (intarith::brick_product)
//   bitserial  one product per streamed step, spread over `slices` cycles: cycle j
//              adds the shifted bit (or bit pair) product (intarith::serial_term)
//
// Both operands may be signed or unsigned (the Bit Fusion PE and the RTL take a
// signedness bit per operand): the quantizer's weights are signed, unsigned
// weights reach the array through the tile cross-check (tests/rtl).
//
// The accumulator is pe.acc_bits wide and wraps (intarith::accumulate), so the
// value a PE holds equals the integer executor's wrapped sum whatever the order of
// the additions.
#pragma once

#include <cstdint>

#include "arith/int_arith.h"
#include "sim/hw_spec.h"
#include "sim/mapping.h"

namespace qsim {

struct PeArith {
  PeModel model = PeModel::kFixed;
  int wbits = 8;            // widths the multiplier runs at (PeRate: rounded up to a supported width)
  int abits = 8;
  bool a_signed = false;    // activations signed
  int64_t pack = 1;         // products of consecutive k per PE per cycle (bitfusion)
  int64_t slices = 1;       // cycles per streamed step (bitserial)
  bool both_serial = false; // bitserial: both operands serial (slices = wbits * abits)
  int acc_bits = 32;
  bool w_signed = true;     // weights signed (two's complement) or unsigned

  // The arithmetic of a layer that runs at `rate` on `hw`.
  static PeArith of(const HwSpec& hw, const PeRate& rate, bool a_signed, bool w_signed = true);

  // What the PE adds in cycle `slice` (0 <= slice < slices) of one step for n
  // (weight, activation) pairs: w[e * ws], a[e * as], e < n.
  int64_t term(const int32_t* w, int64_t ws, const int32_t* a, int64_t as, int64_t n, int slice) const {
    int64_t sum = 0;
    switch (model) {
      case PeModel::kFixed:
        for (int64_t e = 0; e < n; ++e) sum += intarith::product(w[e * ws], a[e * as]);
        break;
      case PeModel::kBitFusion:
        for (int64_t e = 0; e < n; ++e)
          sum += intarith::brick_product(w[e * ws], wbits, w_signed, a[e * as], abits, a_signed);
        break;
      case PeModel::kBitSerial:
        for (int64_t e = 0; e < n; ++e)
          sum += intarith::serial_term(w[e * ws], wbits, w_signed, a[e * as], abits, a_signed, both_serial, slice);
        break;
    }
    return sum;
  }
  int64_t add(int64_t acc, int64_t t) const { return intarith::accumulate(acc, t, acc_bits); }
};

}  // namespace qsim
