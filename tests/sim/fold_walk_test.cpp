// The fold walk (sim/program.h): the stages a controller executes, their
// dependencies, and the analytical backend's fold classes that sum them in O(1)
// (sim/analytical/fold_classes.h).
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "sim/analytical/analytical_backend.h"
#include "sim/analytical/fold_classes.h"
#include "sim/program.h"
#include "tests/sim/sim_test_util.h"

namespace qsim {
namespace {

Schedule map_gemm(HwSpec& hw, int64_t M, int64_t N, int64_t K, int64_t repeats = 1) {
  return map_with_fitting_buffers({{M, N, K, repeats}, 0, 8, 8, 8}, hw);
}

TEST(FoldWalk, DoubleBufferedStagesPrefetchTheNextFoldAndDrainThePrevious) {
  // OS, 2x2 array, M=4 N=2 K=3: 2 folds (row folds), each 2+2+3-2 = 5 cycles.
  HwSpec hw = small_hw(Dataflow::kOS, 2, 2);
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 2.0;
  hw.memory.dram_latency_cycles = 7;
  const Schedule s = map_gemm(hw, 4, 2, 3);
  ASSERT_EQ(s.folds(), 2);
  const FoldWalk w(s, hw.memory);
  ASSERT_EQ(w.overlap(), Overlap::kDoubleBuffer);
  ASSERT_EQ(w.stages(), 4);
  const FoldStep f0 = s.fold(0), f1 = s.fold(1);
  // Fill: fold 0's inputs, the latency paid once.
  const FoldStage fill = w.stage(0);
  EXPECT_EQ(fill.fold, -1);
  EXPECT_EQ(fill.in_fold, 0);
  EXPECT_EQ(fill.dram_in, f0.dram_in());
  EXPECT_TRUE(fill.latency);
  EXPECT_EQ(w.stage_cycles(fill), 7 + (f0.dram_in() + 1) / 2);
  // Fold 0 computes while fold 1's inputs arrive; nothing has finished yet to drain.
  const FoldStage s0 = w.stage(1);
  EXPECT_EQ(s0.fold, 0);
  EXPECT_EQ(s0.compute_cycles, 5);
  EXPECT_EQ(s0.in_fold, 1);
  EXPECT_EQ(s0.dram_in, f1.dram_in());
  EXPECT_EQ(s0.out_fold, -1);
  EXPECT_FALSE(s0.latency);
  // Fold 1 computes while fold 0's outputs leave; nothing left to prefetch.
  const FoldStage s1 = w.stage(2);
  EXPECT_EQ(s1.fold, 1);
  EXPECT_EQ(s1.in_fold, -1);
  EXPECT_EQ(s1.out_fold, 0);
  EXPECT_EQ(s1.dram_out, f0.dram_out());
  // Drain: the last fold's outputs.
  const FoldStage drain = w.stage(3);
  EXPECT_EQ(drain.fold, -1);
  EXPECT_EQ(drain.out_fold, 1);
  EXPECT_EQ(drain.dram_out, f1.dram_out());
  EXPECT_EQ(w.total_cycles(), time_schedule(s, hw, "L").total_cycles);
}

TEST(FoldWalk, SerialAndUnlimitedStages) {
  HwSpec hw = small_hw(Dataflow::kWS, 2, 2);
  const Schedule u = map_gemm(hw, 3, 3, 3);
  const FoldWalk none(u, hw.memory);
  EXPECT_EQ(none.overlap(), Overlap::kNone);
  EXPECT_EQ(none.stages(), u.folds());
  EXPECT_EQ(none.total_cycles(), u.compute_cycles());  // transfers take no time
  hw.memory.dram_unlimited = false;
  hw.memory.double_buffer = false;
  hw.memory.dram_bytes_per_cycle = 1.0;
  hw.memory.dram_latency_cycles = 3;
  const Schedule s = map_gemm(hw, 3, 3, 3);
  const FoldWalk w(s, hw.memory);
  ASSERT_EQ(w.overlap(), Overlap::kSerial);
  ASSERT_EQ(w.stages(), 3 * s.folds());
  for (int64_t f = 0; f < s.folds(); ++f) {
    const FoldStep k = s.fold(f);
    const FoldStage load = w.stage(3 * f), run = w.stage(3 * f + 1), store = w.stage(3 * f + 2);
    EXPECT_EQ(load.in_fold, f);
    EXPECT_EQ(load.latency, k.dram_in() > 0);
    EXPECT_EQ(run.fold, f);
    EXPECT_EQ(run.dram_in + run.dram_out, 0);
    EXPECT_EQ(store.out_fold, f);
    EXPECT_EQ(w.stage_cycles(load) + w.stage_cycles(run) + w.stage_cycles(store),
              (k.dram_in() > 0 ? 3 : 0) + k.dram_in() + k.cycles + k.dram_out());
  }
  EXPECT_EQ(w.total_cycles(), time_schedule(s, hw, "L").total_cycles);
}

// Whatever the schedule: every fold computes exactly once, after the stage that
// brought its inputs and before the stage that takes its outputs away; every DRAM
// byte of every fold moves exactly once; the walk's cycles are the closed form's.
TEST(FoldWalk, DependenciesHoldAndTheClosedFormSumsTheWalk) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 300; ++trial) {
    HwSpec hw = small_hw(static_cast<Dataflow>(pick(0, 2)), pick(1, 4), pick(1, 4), 0.5 * pick(1, 4));
    hw.memory.dram_unlimited = pick(0, 3) == 0;
    hw.memory.double_buffer = pick(0, 1);
    hw.memory.dram_bytes_per_cycle = 0.5 * pick(1, 6);
    hw.memory.dram_latency_cycles = pick(0, 1) * 9;
    hw.mapping.chunking = pick(0, 1);
    const Schedule s = map_gemm(hw, pick(1, 24), pick(1, 24), pick(1, 24), pick(1, 3));
    SCOPED_TRACE(trial);
    const FoldWalk w(s, hw.memory);
    const int64_t F = s.folds();
    std::vector<int64_t> in_at(static_cast<std::size_t>(F), -1), run_at(in_at), out_at(in_at);
    int64_t in_bytes = 0, out_bytes = 0, want_in = 0, want_out = 0, i = 0;
    w.for_each_stage([&](const FoldStage& st) {
      if (st.fold >= 0) {
        EXPECT_EQ(run_at[static_cast<std::size_t>(st.fold)], -1);
        run_at[static_cast<std::size_t>(st.fold)] = i;
      }
      if (st.in_fold >= 0) in_at[static_cast<std::size_t>(st.in_fold)] = i;
      if (st.out_fold >= 0) out_at[static_cast<std::size_t>(st.out_fold)] = i;
      in_bytes += st.dram_in;
      out_bytes += st.dram_out;
      ++i;
    });
    EXPECT_EQ(i, w.stages());
    for (int64_t f = 0; f < F; ++f) {
      const auto u = static_cast<std::size_t>(f);
      ASSERT_GE(run_at[u], 0);
      if (w.overlap() == Overlap::kNone) continue;  // transfers take no time
      EXPECT_LT(in_at[u], run_at[u]);
      EXPECT_GT(out_at[u], run_at[u]);
      if (f > 0) {
        EXPECT_GE(in_at[u], run_at[u - 1]);  // fetched while (or after) the previous fold runs
      }
      want_in += s.fold(f).dram_in();
      want_out += s.fold(f).dram_out();
    }
    if (w.overlap() != Overlap::kNone) {
      EXPECT_EQ(in_bytes, want_in);
      EXPECT_EQ(out_bytes, want_out);
    }
    const LayerTiming t = time_schedule(s, hw, "L");
    EXPECT_EQ(t.total_cycles, w.total_cycles());
  }
}

// The classes partition the folds, and each class's members share their own and
// their neighbours' transfers (what the analytical sum relies on).
TEST(Mapping, FoldClassesPartitionFoldsWithIdenticalNeighbourhoods) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto same_transfers = [](const FoldStep& a, const FoldStep& b) {
    return a.cycles == b.cycles && a.dram_in() == b.dram_in() && a.dram_out() == b.dram_out() &&
           a.ifmap_sram_read == b.ifmap_sram_read &&
           a.filter_sram_read == b.filter_sram_read && a.ofmap_sram_write == b.ofmap_sram_write &&
           a.psum_sram_read == b.psum_sram_read;
  };
  for (int trial = 0; trial < 300; ++trial) {
    const Dataflow df = static_cast<Dataflow>(pick(0, 2));
    HwSpec hw = small_hw(df, pick(1, 4), pick(1, 4), pick(0, 3) * 0.05);
    hw.memory.dram_unlimited = pick(0, 1);
    hw.memory.dram_bytes_per_cycle = 2.0;  // finite links let the mapper chunk
    const Schedule s = map_gemm(hw, pick(1, 20), pick(1, 20), pick(1, 20), pick(1, 6));
    SCOPED_TRACE(trial);
    const FoldClasses classes = fold_classes(s);
    std::vector<int> owner(static_cast<std::size_t>(s.folds()), -1);
    int64_t total = 0;
    for (int c = 0; c < classes.size; ++c) total += classes.items[c].count;
    ASSERT_EQ(total, s.folds());
    // Assign every fold to the class whose representative has the same neighbourhood.
    for (int64_t f = 0; f < s.folds(); ++f) {
      const FoldStep cur = s.fold(f);
      bool found = false;
      for (int c = 0; c < classes.size && !found; ++c) {
        const int64_t r = classes.items[c].index;
        const bool prev_ok = (f == 0) == (r == 0) && (f == 0 || same_transfers(s.fold(f - 1), s.fold(r - 1)));
        const bool next_ok = (f + 1 == s.folds()) == (r + 1 == s.folds()) &&
                             (f + 1 == s.folds() || same_transfers(s.fold(f + 1), s.fold(r + 1)));
        if (same_transfers(cur, s.fold(r)) && prev_ok && next_ok) found = true;
      }
      ASSERT_TRUE(found) << "fold " << f << " has no class with its neighbourhood";
    }
    // Counts: a nonlinear function of (previous, own, next) transfers summed over
    // the classes equals its sum over every fold.
    auto h = [&](int64_t f) {
      const int64_t in_next = f + 1 < s.folds() ? s.fold(f + 1).dram_in() : 0;
      const int64_t out_prev = f > 0 ? s.fold(f - 1).dram_out() : 0;
      const FoldStep cur = s.fold(f);
      return (in_next + 1) * (out_prev + 3) * (cur.dram_in() + 7) * (cur.psum_sram_read + cur.ofmap_sram_write + 1) *
             cur.cycles;
    };
    int64_t by_class = 0, by_fold = 0;
    for (const FoldClass& c : classes) by_class += c.count * h(c.index);
    for (int64_t f = 0; f < s.folds(); ++f) by_fold += h(f);
    EXPECT_EQ(by_class, by_fold);
  }
}

}  // namespace
}  // namespace qsim
