// VectorUnit — the post-processing unit beside the array (hw.vector.lanes lanes):
// runs the Program's Requantize and Vector steps, chunk by chunk, `lanes` element
// operations per cycle (docs/systemc.md, "The vector unit").
//
// Its own folder (sim/vector/, target qsim_vector) because it is neither the array
// (sim/systolic/: the PE grid and its dataflows) nor the memory hierarchy
// (sim/memory/): a third unit with its own spec (VectorSpec) that the controller
// drives through vector_if and the DRAM channel watches (a prefetch into a buffer
// half waits for the chunk that used it).
//
// Clocking: one SC_THREAD; a chunk of c = ceil(ops / lanes) cycles is a steady
// stream (every cycle `lanes` operations, the last cycle the rest), so with
// fast-forward the process waits the c cycles at once; without it (or when a
// waveform follows every cycle) it steps them one by one. Both end every chunk in
// the same cycle (tests/systemc/vector_unit_test.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

#include "sim/vector/vector_if.h"

namespace qsim {

struct VectorSetup {
  int64_t lanes = 1;              // element operations per cycle
  bool fast_forward = true;       // wait a chunk's cycles at once
  bool cycle_sync = false;        // simulated time advances every cycle (waveforms)
  sc_core::sc_time period;        // one cycle
};

struct VectorCounts {
  int64_t chunks = 0;
  int64_t ops = 0;               // element operations done
  int64_t busy_cycles = 0;       // cycles with operations in the lanes
  int64_t stepped_cycles = 0;
  int64_t forwarded_cycles = 0;
};

class VectorUnit : public sc_core::sc_module, public vector_if {
 public:
  SC_HAS_PROCESS(VectorUnit);
  explicit VectorUnit(sc_core::sc_module_name name);

  void configure(const VectorSetup& s);  // a new step (between simulation runs)
  const VectorCounts& counts() const { return counts_; }

  // vector_if
  void start_chunk(int64_t index, int64_t ops) override;
  int64_t chunks_done() const override { return counts_.chunks; }
  sc_core::sc_time chunk_end(int64_t index) const override { return chunk_ends_.at(static_cast<std::size_t>(index)); }
  const sc_core::sc_event& chunk_done_event() const override { return done_; }

  int64_t vcd_chunk = -1;  // the chunk in the lanes (waveforms)

 private:
  void run();

  VectorSetup setup_;
  VectorCounts counts_;
  std::vector<sc_core::sc_time> chunk_ends_;
  sc_core::sc_event start_, done_;
  bool pending_ = false;
  int64_t index_ = 0;
  int64_t ops_ = 0;
};

}  // namespace qsim
