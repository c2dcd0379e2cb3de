#include "sim/hw_spec.h"

#include <cmath>

#include "arith/int_arith.h"
#include "graph/error.h"

namespace qsim {

namespace {

template <std::size_t N, typename E>
std::string_view name_of(const std::string_view (&names)[N], E e) {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? names[i] : "?";
}

}  // namespace

std::string HwKeyPlaces::culprit(std::initializer_list<std::string_view> keys, std::string_view fallback) const {
  if (stated) {
    for (const bool overrides : {true, false})
      for (std::string_view k : keys)
        if (const auto it = stated->find(k); it != stated->end() && it->second.starts_with("--set ") == overrides)
          return it->second;
  }
  return std::string(fallback);
}

std::string_view dataflow_name(Dataflow d) { return name_of(kDataflowNames, d); }
std::string_view pe_model_name(PeModel m) { return name_of(kPeModelNames, m); }
std::string_view serial_operand_name(SerialOperand s) { return name_of(kSerialOperandNames, s); }

int effective_width(const PeSpec& pe, int bits) {
  for (int w : pe.widths)  // ascending
    if (w >= bits) return w;
  return 0;
}

namespace {

// Both operand widths after rounding up; an operand wider than the PE is bad input.
std::pair<int, int> run_widths(const HwSpec& hw, int wbits, int abits) {
  const int w = effective_width(hw.pe, wbits);
  const int a = effective_width(hw.pe, abits);
  if (w == 0 || a == 0)
    fail("{}: {}-bit weights x {}-bit activations do not fit the {} PE (pe.widths up to {} bits)", hw.source, wbits,
         abits, pe_model_name(hw.pe.precision), hw.pe.widths.empty() ? 0 : hw.pe.widths.back());
  return {w, a};
}

}  // namespace

double macs_per_pe_per_cycle(const HwSpec& hw, int wbits, int abits) {
  const auto [w, a] = run_widths(hw, wbits, abits);
  const double base = hw.pe.base_bits;
  switch (hw.pe.precision) {
    case PeModel::kFixed: return 1.0;
    case PeModel::kBitFusion: return (base / w) * (base / a);
    case PeModel::kBitSerial:  // one product per bit_serial_cycles (the reference bit-serial product's count)
      return 1.0 / intarith::bit_serial_cycles(w, a, hw.pe.serial == SerialOperand::kBoth);
  }
  return 0.0;
}

double mac_energy_pj(const HwSpec& hw, int wbits, int abits) {
  const auto [w, a] = run_widths(hw, wbits, abits);
  const auto& e = hw.energy;
  if (const auto it = e.mac_pj_pair.find({w, a}); it != e.mac_pj_pair.end()) return it->second;
  const auto ew = e.mac_pj.find(w);
  const auto ea = e.mac_pj.find(a);
  if (ew == e.mac_pj.end() || ea == e.mac_pj.end())
    fail("{}: energy.mac_pj has no entry for {}-bit operands", hw.source, ew == e.mac_pj.end() ? w : a);
  return w == a ? ew->second : std::sqrt(ew->second * ea->second);
}

EnergySpec default_energy_spec(const PeSpec& pe) {
  EnergySpec e;
  for (int w : pe.widths) e.mac_pj[w] = 0.23 * (w / 8.0) * (w / 8.0);
  e.sram_read_pj_per_byte = 2.5;
  e.sram_write_pj_per_byte = 2.5;
  e.dram_pj_per_byte = 160.0;
  e.vector_op_pj = 3.2;
  return e;
}

}  // namespace qsim
