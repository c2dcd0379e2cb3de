// Helpers of the vector-unit tests: their hardware and the documented bound on a
// Requantize/Vector step's simulated minus analytical cycles.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sim/hw_spec.h"
#include "sim/memory/controller.h"
#include "sim/program.h"
#include "tests/sim/sim_test_util.h"

namespace qsim {

enum class Mode { kDoubleBuffer, kSerial, kUnlimited };

inline HwSpec vector_hw(int64_t lanes, Mode mode, double bytes_per_cycle, int64_t latency, double kib) {
  HwSpec hw = small_hw(Dataflow::kOS, 4, 4, kib);
  hw.vector.lanes = lanes;
  hw.memory.dram_unlimited = mode == Mode::kUnlimited;
  hw.memory.double_buffer = mode != Mode::kSerial;
  hw.memory.dram_bytes_per_cycle = bytes_per_cycle;
  hw.memory.dram_latency_cycles = latency;
  return hw;
}

// The documented bound on simulated minus analytical cycles (docs/systemc.md):
// double-buffered, one chunk's time (its compute or its transfers, whichever is
// longer) plus two cycles of rounding; single-buffered, a cycle per chunk (each
// chunk's transfers end on a whole cycle before it computes); unlimited, 0.
inline int64_t vector_step_bound(const VectorStream& s, const HwSpec& hw) {
  if (s.overlap() == Overlap::kNone) return 0;
  if (s.overlap() == Overlap::kSerial) return s.chunks();
  int64_t c = 0, t = 0;
  for (int64_t i = 0; i < s.chunks(); ++i) {
    const VectorChunk k = s.chunk(i);
    c = std::max(c, k.cycles);
    t = std::max(t, dram_transfer_cycles(k.in + k.out, hw.memory.dram_bytes_per_cycle));
  }
  return std::max(c, t) + 2;
}

}  // namespace qsim
