// AreaEstimate — the silicon area a HwSpec describes, derived from synthesis of
// the RTL (rtl/; scripts/rtl_area.sh: yosys, generic gates, CMOS transistor
// estimate) in kGE: thousands of NAND2 gate equivalents (4 transistors each).
//
//   array  rows x cols PEs + rows x the logic of a row lane (operand register,
//          request step) + cols x the logic of a column lane (operand and partial-
//          sum registers, request steps, the output AND-OR and partial-sum adder)
//          + the fold sequencer: the four parts fitted exactly, per PE model, to
//          the synthesized 2x2, 2x4, 4x2 and 4x4 arrays (a PE inside the array is
//          smaller than alone: the fusion configuration is decoded once for all)
//   sram   the three operand buffers at 6 transistors per bit (cells only, no
//          periphery: a lower bound)
//
// Transistors are yosys's CMOS estimate of the gates plus 24 per flip-flop. The
// synthesis figures are constants committed with their provenance
// (rtl_synthesis(); tests/sim/area_model_test.cpp checks them against the
// committed report rtl/area/yosys_stat.txt). The RTL's PEs are 8 bits wide and were
// synthesized with 32-bit accumulators: a PE model without RTL (bitserial), another
// pe.base_bits or another pe.acc_bits has no estimate. `qsim hw` prints it; `qsim sweep`
// writes it per point and takes it as a budget (--area-budget-kge).
#pragma once

#include <cstdint>
#include <optional>

#include "sim/hw_spec.h"

namespace qsim {

// One synthesized design: yosys's CMOS transistor estimate of its gates (`stat
// -tech cmos`, which leaves flip-flops out) and its flip-flop count.
struct SynthesizedDesign {
  int64_t gate_transistors = 0;
  int64_t flops = 0;
  // With each flip-flop as 24 transistors (a static master-slave D flip-flop, 6 NAND2 equivalents).
  int64_t transistors() const { return gate_transistors + 24 * flops; }
};
struct RtlSynthesis {
  SynthesizedDesign pe_bitfusion;  // qsim_pe FUSION=1, ACC_BITS=32, alone
  SynthesizedDesign pe_fixed8;     // qsim_pe FUSION=0, ACC_BITS=32, alone
  // qsim_array_core, ACC_BITS=32, at 2x2, 2x4, 4x2 and 4x4 (rows x cols).
  SynthesizedDesign array_bitfusion[4];
  SynthesizedDesign array_fixed8[4];
};
RtlSynthesis rtl_synthesis();

// The fit: transistors of an R x C array = R*C*pe + R*row_lane + C*col_lane + fixed.
struct ArrayAreaFit {
  double pe = 0, row_lane = 0, col_lane = 0, fixed = 0;
  double transistors(double rows, double cols) const { return rows * cols * pe + rows * row_lane + cols * col_lane + fixed; }
};
ArrayAreaFit fit_array_area(const SynthesizedDesign (&arrays)[4]);

struct AreaEstimate {
  double pe_kge = 0;     // one PE (in the array)
  double array_kge = 0;  // PEs, lane logic, sequencer
  double sram_kge = 0;
  double total_kge = 0;
};

// nullopt when there is no synthesized RTL for the PE model (bitserial), its width
// (pe.base_bits != 8) or its accumulators (pe.acc_bits != 32).
std::optional<AreaEstimate> estimate_area(const HwSpec& hw);

}  // namespace qsim
