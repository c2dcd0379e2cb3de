// DramChannel — the one DRAM channel: memory.dram_bytes_per_cycle bytes per cycle,
// memory.dram_latency_cycles before a read's first byte.
//
// A read is issued to DRAM when it is submitted and its data can move once the
// latency has passed; a prefetch into a buffer half still in use also waits for the
// array to finish the fold using that half; a drain waits for the fold whose outputs
// it carries (for a vector step's transfers: the vector unit's chunks). Whenever the bus is free it moves the oldest request that can move
// (its dependencies met), so requests issued ahead hide their latency behind the
// transfers before them and the latency shows only where the channel runs dry.
// Bytes flow at the exact rate: a request may end in the middle of a cycle and the
// next one continue in it; a request is complete at the end of the cycle of its last
// byte. `unlimited` bandwidth (SCALE-Sim's CALC mode) moves everything at once, with
// no latency. The channel advances by whole transfers (a transfer is a steady
// stream); with a trace it records which words move in each cycle.
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

#include "sim/memory/memory_if.h"
#include "sim/systemc/layer_trace.h"
#include "sim/systolic/array_if.h"
#include "sim/vector/vector_if.h"

namespace qsim {

struct DramSetup {
  bool unlimited = false;
  double bytes_per_cycle = 1.0;
  int64_t latency_cycles = 0;
  sc_core::sc_time period;     // one cycle
  sc_core::sc_time origin;     // cycle 0 of the layer
  int element_bits[3] = {8, 8, 8};  // per operand: bits per element in DRAM (trace addresses per cycle)
  bool trace = false;
};

struct DramCounts {
  int64_t read_bytes[3] = {0, 0, 0};   // per operand (ofmap: partial sums coming back)
  int64_t write_bytes[3] = {0, 0, 0};  // per operand (ofmap: outputs and spilled partial sums)
  int64_t busy_cycles = 0;             // cycles with bytes on the bus (rounded up per transfer)
};

class DramChannel : public sc_core::sc_module, public dram_if {
 public:
  sc_core::sc_port<sram_dram_if> ifmap_sram, filter_sram, ofmap_sram;
  sc_core::sc_port<array_if> array;  // a prefetch waits for the fold that frees its half
  sc_core::sc_port<vector_if> vector;  // ... or, in a vector step, the chunk that frees it

  SC_HAS_PROCESS(DramChannel);
  explicit DramChannel(sc_core::sc_module_name name);

  void configure(const DramSetup& s);  // a new layer: counters, tickets and trace reset
  const DramCounts& counts() const { return counts_; }
  const std::vector<DramTraceRow>& trace_rows() const { return trace_; }
  bool idle() const { return queue_.empty() && !busy_; }

  // dram_if
  int64_t submit(DramRequest r) override;
  bool done(int64_t ticket) const override { return done_[static_cast<std::size_t>(ticket)] != 0; }
  const sc_core::sc_event& progress_event() const override { return progress_; }

  // Traced for waveforms: bytes of the transfer on the bus (0: idle).
  int64_t vcd_bytes = 0;
  int64_t vcd_operand = -1;

 private:
  struct Pending {
    DramRequest r;
    long double issued;  // cycle the request was submitted
    int64_t ticket;
  };
  void serve();
  long double now_cycles() const;
  long double cycles_at(const sc_core::sc_time& t) const;
  void record(const Pending& p, long double start, long double end);
  // Folds (chunks) the request's unit has finished, and when `index` of them ended.
  int64_t units_done(const DramRequest& r) const;
  sc_core::sc_time unit_end(const DramRequest& r, int64_t index) const;

  DramSetup setup_;
  std::vector<Pending> queue_;  // submission order
  sc_core::sc_event submitted_, progress_;
  std::vector<char> done_;  // per ticket
  long double bus_free_ = 0;  // cycle (fractional) at which the bus finishes what it was given
  bool busy_ = false;
  DramCounts counts_;
  std::vector<DramTraceRow> trace_;
};

}  // namespace qsim
