#include "sim/systolic/pe_arith.h"

namespace qsim {

PeArith PeArith::of(const HwSpec& hw, const PeRate& rate, bool a_signed, bool w_signed) {
  PeArith p;
  p.model = hw.pe.precision;
  p.wbits = rate.wbits;
  p.abits = rate.abits;
  p.a_signed = a_signed;
  p.w_signed = w_signed;
  p.pack = rate.pack;
  p.slices = rate.cycles_per_mac;
  p.both_serial = hw.pe.precision == PeModel::kBitSerial && hw.pe.serial == SerialOperand::kBoth;
  p.acc_bits = hw.pe.acc_bits;
  return p;
}

}  // namespace qsim
