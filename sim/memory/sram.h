// Sram — one operand's on-chip buffer (ifmap, filter or ofmap): capacity, double
// buffering, banks, traffic counters and the SCALE-Sim SRAM trace.
//
// Array side (sram_array_if): every cycle the edge lanes read (or, for the ofmap
// SRAM, write) one element or Bit Fusion pack each. The buffer is `memory.banks`
// banks interleaved by word; the port is as wide as the edge needs at the layer's
// precision (what the analytical model assumes), each bank serving its share of it
// per cycle. When a cycle's words crowd one bank beyond its share the array waits
// the extra cycles (bank conflicts); with one bank this cannot happen.
// DRAM side (sram_dram_if): fills land in the working half of the fold they serve
// (with memory.double_buffer the other half is being computed on), drains leave.
// Counted like the analytical model: array elements per fold turned into bytes at
// the operand's stored width; every DRAM-side byte.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>

#include "sim/mapping.h"
#include "sim/memory/memory_if.h"
#include "sim/memory/operand_layout.h"

namespace qsim {

struct SramSetup {
  int64_t working_bytes = 0;  // capacity per buffer half (the whole buffer when single-buffered)
  int64_t banks = 1;
  int word_bits = 8;
  int64_t lanes = 1;           // edge lanes of the array port
  int64_t pack = 1;            // elements per lane access at this precision (Bit Fusion)
  Storage store;               // the operand's stored width (ofmap: outputs)
  Storage psum_store;          // ofmap SRAM: partial sums at pe.acc_bits
  const OperandLayout* layout = nullptr;  // addresses (banks, traces)
  std::string* trace = nullptr;       // SCALE-Sim SRAM trace rows appended here (null: none)
  std::string* psum_trace = nullptr;  // ofmap SRAM: partial-sum reads
};

struct SramCounts {
  int64_t array_read_bytes = 0;   // ifmap/filter operands; ofmap: partial sums read back
  int64_t array_write_bytes = 0;  // ofmap: outputs and partial sums written
  int64_t dram_fill_bytes = 0;    // from DRAM (ofmap: partial sums coming back)
  int64_t dram_drain_bytes = 0;   // to DRAM
  int64_t conflict_cycles = 0;    // array waits for a crowded bank
  int64_t peak_fill_bytes = 0;    // the largest fill of one fold
  int64_t overfull_folds = 0;     // folds whose fill exceeded the working half (their tile streams through it)
};

class Sram : public sc_core::sc_module, public sram_array_if, public sram_dram_if {
 public:
  Sram(sc_core::sc_module_name name, Operand operand);
  Operand operand() const { return operand_; }

  // A new layer (between simulation runs): sizes, layout, trace sink; counters reset.
  void configure(const SramSetup& s);
  const SramCounts& counts() const { return counts_; }

  // sram_array_if
  void begin_fold(int64_t repeat) override;
  int64_t access(int64_t cycle, std::span<const LaneAccess> lanes, Access kind) override;
  void count(int64_t elements, Access kind) override;
  void end_fold(bool final_outputs) override;
  // sram_dram_if
  void fill(int64_t fold, int64_t bytes, bool psum) override;
  void drain(int64_t fold, int64_t bytes, bool psum) override;

 private:
  int64_t address(const LaneAccess& a, int64_t element) const;  // element `element` of the access (-1: padding)
  int64_t bank_conflicts(std::span<const LaneAccess> lanes);
  void trace_row(std::string& out, int64_t cycle, std::span<const LaneAccess> lanes) const;

  Operand operand_;
  SramSetup setup_;
  SramCounts counts_;
  int64_t repeat_ = 0;
  int64_t fold_elems_[3] = {0, 0, 0};  // per Access kind, current fold
  std::vector<int64_t> words_;         // scratch: (bank, word) keys of one cycle
};

}  // namespace qsim
