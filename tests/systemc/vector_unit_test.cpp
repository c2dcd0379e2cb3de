// The vector unit and the Program's Requantize and Vector steps in the SystemC model
// (docs/systemc.md, "The vector unit"): a step alone on the Accelerator against the
// analytical closed form (time_vector_op) in every memory mode, the unit's busy
// cycles exact, the difference within the derived bound; the chunking; stepping
// every cycle against the fast-forward. Its own binary: it elaborates the
// Accelerator itself, which a process using SystemcBackend cannot do as well
// (the steps inside networks: systemc_backend_test.cpp).
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/analytical/analytical_backend.h"
#include "sim/systemc/accelerator.h"
#include "tests/systemc/vector_test_util.h"

namespace qsim {
namespace {

// The process's model (each test runs in its own process: one elaboration).
Accelerator& model() {
  static Accelerator* m = [] {
    auto* a = new Accelerator("accelerator");
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
    return a;
  }();
  return *m;
}

struct Work {
  const char* what;
  VectorWork w;
};

// Requantizations (elems in at from_bits, out at to_bits) and vector ops of the
// sizes the bundled networks have, and the extremes.
const std::vector<Work>& works() {
  static const std::vector<Work> w = {
      {"one element", {1, 1, 1}},
      {"requantize 64 8->4", {64, 64, 32}},
      {"requantize 1000 4->8", {1000, 500, 1000}},
      {"maxpool 3x3/2 56x56x64", {9 * 28 * 28 * 64, 56 * 56 * 64, 28 * 28 * 64}},
      {"global avgpool 7x7x512", {7 * 7 * 512, 7 * 7 * 512, 512}},
      {"add 28x28x128", {28 * 28 * 128, 2 * 28 * 28 * 128, 28 * 28 * 128}},
      {"compute-heavy", {200000, 3000, 3000}},
      {"memory-heavy", {100, 40000, 20000}},
      {"requantize 250 8->2", {250, 250, 63}},
  };
  return w;
}

TEST(VectorSteps, AloneTheyAreTheClosedFormWithinOneChunk) {
  Accelerator& m = model();
  int runs = 0, differ = 0;
  double worst = 0;
  for (int64_t lanes : {1, 8})
    for (Mode mode : {Mode::kDoubleBuffer, Mode::kSerial, Mode::kUnlimited})
      for (int64_t latency : {0, 40})
        for (double bw : {1.0, 4.0, 2.5})
          for (double kib : {1.0, 64.0})
            for (const Work& w : works()) {
              const HwSpec hw = vector_hw(lanes, mode, bw, latency, kib);
              const LayerTiming a = time_vector_op(w.w.ops, w.w.read_bytes, w.w.write_bytes, hw, w.what);
              VectorRun run;
              run.work = w.w;
              run.hw = &hw;
              const VectorTotals t = m.run(run);
              const VectorStream s(w.w, lanes, hw.memory);
              const std::string where = std::string(w.what) + " lanes " + std::to_string(lanes) + " mode " +
                                        std::to_string(static_cast<int>(mode)) + " latency " + std::to_string(latency) +
                                        " bw " + std::to_string(bw) + " kib " + std::to_string(kib);
              ++runs;
              EXPECT_EQ(t.vector_cycles, a.vector_cycles) << where;
              EXPECT_EQ(t.vector_cycles, (w.w.ops + lanes - 1) / lanes) << where;
              EXPECT_EQ(t.ops, w.w.ops) << where;
              EXPECT_EQ(t.dram_read, w.w.read_bytes) << where;
              EXPECT_EQ(t.dram_write, w.w.write_bytes) << where;
              EXPECT_EQ(t.chunks, s.chunks()) << where;
              EXPECT_GE(t.total_cycles, a.total_cycles) << where;
              EXPECT_LE(t.total_cycles, a.total_cycles + vector_step_bound(s, hw)) << where << ": " << s.chunks() << " chunks";
              if (mode == Mode::kUnlimited) {
                EXPECT_EQ(t.total_cycles, a.total_cycles) << where;
              }
              if (t.total_cycles != a.total_cycles) ++differ;
              worst = std::max(worst, static_cast<double>(t.total_cycles - a.total_cycles) / a.total_cycles);
            }
  EXPECT_EQ(runs, 648);
  EXPECT_GT(differ, 0);  // the chunking effect exists and is measured
  RecordProperty("worst_relative_difference", std::to_string(worst));
}

// Random steps and hardware: the bound holds everywhere, not only on the grid above.
TEST(VectorSteps, RandomStepsStayWithinTheBound) {
  Accelerator& m = model();
  std::mt19937_64 rng(11);
  for (int iter = 0; iter < 400; ++iter) {
    const Mode mode = static_cast<Mode>(rng() % 3);
    const int64_t lanes = 1 + static_cast<int64_t>(rng() % 32);
    const double bw = static_cast<double>(1 + rng() % 64) / static_cast<double>(1 + rng() % 8);
    const int64_t latency = static_cast<int64_t>(rng() % 100);
    const double kib = static_cast<double>(1 + rng() % 16) / 4.0;
    const int64_t scale = int64_t{1} << (rng() % 18);
    const VectorWork w{1 + static_cast<int64_t>(rng() % scale) * (1 + static_cast<int64_t>(rng() % 9)),
                       static_cast<int64_t>(rng() % (2 * scale)), static_cast<int64_t>(rng() % (2 * scale))};
    const HwSpec hw = vector_hw(lanes, mode, bw, latency, kib);
    const LayerTiming a = time_vector_op(w.ops, w.read_bytes, w.write_bytes, hw, "random");
    VectorRun run;
    run.work = w;
    run.hw = &hw;
    const VectorTotals t = m.run(run);
    const VectorStream s(w, lanes, hw.memory);
    const std::string where = "ops " + std::to_string(w.ops) + " in " + std::to_string(w.read_bytes) + " out " +
                              std::to_string(w.write_bytes) + " lanes " + std::to_string(lanes) + " mode " +
                              std::to_string(static_cast<int>(mode)) + " latency " + std::to_string(latency) + " bw " +
                              std::to_string(bw) + " kib " + std::to_string(kib) + " chunks " + std::to_string(s.chunks());
    EXPECT_EQ(t.vector_cycles, a.vector_cycles) << where;
    EXPECT_EQ(t.dram_read + t.dram_write, a.dram_bytes()) << where;
    EXPECT_GE(t.total_cycles, a.total_cycles) << where;
    EXPECT_LE(t.total_cycles, a.total_cycles + vector_step_bound(s, hw)) << where << " sim " << t.total_cycles << " ana " << a.total_cycles;
  }
}

// Every chunk size a buffer allows: the bound holds for many chunks or one.
TEST(VectorSteps, TheChunkingFollowsTheBuffers) {
  const VectorWork w{100000, 100000, 50000};
  // Double-buffered, large buffers: kMinChunks chunks; 1 KiB halves (512 B): the
  // inputs need 196 chunks.
  // The rings: every chunk fits the large buffers; the 1 KiB ifmap SRAM holds two
  // input chunks of up to 511 B (its halves), the ofmap SRAM four output chunks of 256 B.
  const VectorStream large(w, 8, vector_hw(8, Mode::kDoubleBuffer, 4, 0, 1024).memory);
  EXPECT_EQ(large.chunks(), VectorStream::kMinChunks);
  EXPECT_EQ(large.in_slots(), VectorStream::kMinChunks);
  EXPECT_EQ(large.out_slots(), VectorStream::kMinChunks);
  const VectorStream small(w, 8, vector_hw(8, Mode::kDoubleBuffer, 4, 0, 1).memory);
  EXPECT_EQ(small.chunks(), 196);
  EXPECT_EQ(small.in_slots(), 2);
  EXPECT_EQ(small.out_slots(), 4);
  // Single-buffered: as few as the buffer allows, one at a time.
  const VectorStream one(w, 8, vector_hw(8, Mode::kSerial, 4, 0, 1024).memory);
  EXPECT_EQ(one.chunks(), 1);
  EXPECT_EQ(VectorStream(w, 8, vector_hw(8, Mode::kSerial, 4, 0, 1).memory).chunks(), 98);
  EXPECT_EQ(VectorStream(w, 8, vector_hw(8, Mode::kSerial, 4, 0, 1).memory).in_slots(), 1);
  EXPECT_EQ(VectorStream(w, 8, vector_hw(8, Mode::kSerial, 4, 0, 1).memory).out_slots(), 1);
  // A step shorter than kMinChunks cycles: one chunk per cycle.
  EXPECT_EQ(VectorStream({20, 20, 20}, 8, vector_hw(8, Mode::kDoubleBuffer, 4, 0, 64).memory).chunks(), 3);
  // The chunks cover the step exactly, in whole lane cycles.
  const VectorStream s({1003, 777, 333}, 8, vector_hw(8, Mode::kDoubleBuffer, 4, 0, 64).memory);
  int64_t ops = 0, cycles = 0, in = 0, out = 0;
  for (int64_t i = 0; i < s.chunks(); ++i) {
    const VectorChunk c = s.chunk(i);
    EXPECT_EQ(c.cycles, (c.ops + 7) / 8);
    if (i + 1 < s.chunks()) {
      EXPECT_EQ(c.ops, 8 * c.cycles);
    }
    ops += c.ops, cycles += c.cycles, in += c.in, out += c.out;
  }
  EXPECT_EQ(ops, 1003);
  EXPECT_EQ(cycles, 126);
  EXPECT_EQ(in, 777);
  EXPECT_EQ(out, 333);
}

TEST(VectorSteps, SteppingEveryCycleGivesTheSameCycles) {
  Accelerator& m = model();
  for (Mode mode : {Mode::kDoubleBuffer, Mode::kSerial, Mode::kUnlimited})
    for (int64_t lanes : {1, 8})
      for (const Work& w : works()) {
        const HwSpec hw = vector_hw(lanes, mode, 2.5, 40, 1.0);
        VectorRun run;
        run.work = w.w;
        run.hw = &hw;
        run.fast_forward = true;
        const VectorTotals fast = m.run(run);
        run.fast_forward = false;
        const VectorTotals step = m.run(run);
        EXPECT_EQ(step.total_cycles, fast.total_cycles) << w.what;
        EXPECT_EQ(step.vector_cycles, fast.vector_cycles) << w.what;
        EXPECT_EQ(step.ops, fast.ops) << w.what;
        EXPECT_EQ(step.dram_busy_cycles, fast.dram_busy_cycles) << w.what;
        EXPECT_EQ(step.stepped_cycles, step.vector_cycles) << w.what;
        EXPECT_EQ(step.forwarded_cycles, 0) << w.what;
        EXPECT_EQ(fast.forwarded_cycles, fast.vector_cycles) << w.what;
        EXPECT_EQ(fast.stepped_cycles, 0) << w.what;
      }
}

}  // namespace
}  // namespace qsim
