// SystolicArray — the rows x cols array as one clocked SystemC process over plain
// arrays (SystolicCore, sim/systolic/array_core.h), serving array_if to the
// controller and reading/writing the operand SRAMs through sram_array_if ports.
//
// Clocking: one cycle is one `period` of simulated time. The process steps the core
// cycle by cycle and lets simulated time follow (a wait per fold, or per cycle when a
// waveform is recorded), fast-forwarding the steady middle of each fold when nobody
// observes single cycles. Stalls: a cycle whose SRAM accesses crowd a bank is
// followed by the extra cycles the bank needs, the array frozen meanwhile.
// A module per PE was measured about 15x slower (docs/systemc.md, "Speed").
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

#include "sim/memory/memory_if.h"
#include "sim/memory/operand_layout.h"
#include "sim/systolic/array_core.h"
#include "sim/systolic/array_if.h"

namespace qsim {

struct ArraySetup {
  ArrayConfig config;
  bool fast_forward = true;
  bool observe = false;     // every cycle's accesses go to the SRAMs (traces, banks)
  bool cycle_sync = false;  // simulated time advances every cycle (waveforms)
  sc_core::sc_time period;  // one cycle
  sc_core::sc_time origin;  // cycle 0 of the layer
  const OperandLayout* layout = nullptr;  // waveform addresses
};

struct ArrayCounts {
  int64_t folds = 0;
  int64_t compute_cycles = 0;   // sum of the folds' cycles
  int64_t conflict_cycles = 0;  // waits for crowded SRAM banks
  int64_t stepped_cycles = 0;
  int64_t forwarded_cycles = 0;
};

class SystolicArray : public sc_core::sc_module, public array_if, private EdgeObserver {
 public:
  sc_core::sc_port<sram_array_if> ifmap_sram, filter_sram, ofmap_sram;

  SC_HAS_PROCESS(SystolicArray);
  explicit SystolicArray(sc_core::sc_module_name name);

  void configure(const ArraySetup& s);  // a new layer (between simulation runs)
  const ArrayCounts& counts() const { return counts_; }
  const SystolicCore& core() const { return core_; }
  // Registers the edge lanes of an array of up to rows x cols for a waveform
  // (before the first sc_start).
  void record_waveform(sc_core::sc_trace_file* tf, int64_t rows, int64_t cols);

  // array_if
  void start_fold(int64_t index, const FoldWork& work, const GemmOperands* values) override;
  int64_t folds_done() const override { return counts_.folds; }
  sc_core::sc_time fold_end(int64_t index) const override { return fold_ends_.at(static_cast<std::size_t>(index)); }
  const sc_core::sc_event& fold_done_event() const override { return done_; }

 private:
  void run();
  void on_cycle(const EdgeCycle& c) override;
  int64_t now_cycles() const;

  ArraySetup setup_;
  ArrayCounts counts_;
  std::vector<sc_core::sc_time> fold_ends_;  // per fold of the layer
  SystolicCore core_;
  sc_core::sc_event start_, done_;
  bool pending_ = false;
  int64_t fold_index_ = 0;
  FoldWork work_;
  const GemmOperands* values_ = nullptr;
  int64_t cycle_ = 0;        // layer cycle of the cycle being stepped
  int64_t cycle_extra_ = 0;  // bank-conflict cycles it adds
  // Waveform: fold, fold cycle, and per lane the element address (-1 idle).
  int64_t vcd_fold_ = -1, vcd_cycle_ = 0;
  std::vector<int64_t> vcd_ifmap_, vcd_filter_, vcd_ofmap_;
};

}  // namespace qsim
