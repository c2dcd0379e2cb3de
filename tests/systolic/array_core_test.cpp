// The systolic array's state machine (sim/systolic/array_core.h), without SystemC:
// every fold of random GEMMs on random arrays, all dataflows and PE models, computes
// the exact wrapped integer product; folds take the mapper's cycles; the edge
// accesses are the tiles' elements; value mode and timing mode see the same edge
// activity in the same cycles; fast-forwarding leaves exactly the state stepping does.
#include "sim/systolic/array_core.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "sim/mapping.h"

namespace qsim {
namespace {

struct Case {
  HwSpec hw;
  GemmView gemm;
  int wbits = 8, abits = 8;
  bool a_signed = false;
  bool w_signed = true;
};

Case random_case(std::mt19937& rng, Dataflow df) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  HwSpec& hw = c.hw;
  hw.name = "t";
  hw.array = {pick(1, 6), pick(1, 6), df, 100.0};
  const int model = pick(0, 3);
  hw.pe.base_bits = 8;
  hw.pe.acc_bits = pick(0, 3) == 0 ? pick(12, 20) : 32;  // narrow accumulators wrap
  const int widths[] = {2, 4, 8};
  c.wbits = widths[pick(0, 2)];
  c.abits = widths[pick(0, 2)];
  switch (model) {
    case 0:
      hw.pe.precision = PeModel::kFixed;
      hw.pe.widths = {8};
      c.wbits = c.abits = 8;
      break;
    case 1:
      hw.pe.precision = PeModel::kBitFusion;
      hw.pe.widths = {2, 4, 8};
      break;
    default:
      hw.pe.precision = PeModel::kBitSerial;
      hw.pe.widths = {2, 4, 8};
      hw.pe.serial = model == 2 ? SerialOperand::kActivation : SerialOperand::kBoth;
      break;
  }
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 64;
  hw.memory.dram_unlimited = true;
  c.gemm = {pick(1, 13), pick(1, 11), pick(1, 29), pick(1, 2)};
  c.a_signed = pick(0, 1) == 1;
  c.w_signed = pick(0, 1) == 1;
  return c;
}

std::vector<int32_t> random_values(std::mt19937& rng, int64_t n, int bits, bool is_signed) {
  const int32_t lo = is_signed ? -(1 << (bits - 1)) : 0;
  const int32_t hi = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<int32_t> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

struct Recorder : EdgeObserver {
  struct Row {
    int64_t cycle;
    std::vector<LaneAccess> ifmap, filter, ofmap, psum;
    bool operator==(const Row&) const = default;
  };
  std::vector<Row> rows;
  void on_cycle(const EdgeCycle& c) override {
    rows.push_back({c.cycle, {c.ifmap.begin(), c.ifmap.end()}, {c.filter.begin(), c.filter.end()},
                    {c.ofmap.begin(), c.ofmap.end()}, {c.psum.begin(), c.psum.end()}});
  }
};

struct Layer {
  Case c;
  Schedule s;
  std::vector<int32_t> a, b;  // per repeat: M x K, K x N
  ArrayConfig config() const {
    return {s.dataflow, s.rows, s.cols, PeArith::of(c.hw, s.pe, c.a_signed, c.w_signed)};
  }
  GemmOperands operands(int64_t repeat, std::vector<int64_t>& y) const {
    const GemmView& g = c.gemm;
    return {a.data() + repeat * g.M * g.K, g.K, b.data() + repeat * g.K * g.N, g.N, y.data() + repeat * g.M * g.N,
            g.N};
  }
};

Layer make_layer(std::mt19937& rng, Dataflow df) {
  Layer l;
  l.c = random_case(rng, df);
  l.s = map_layer({l.c.gemm, 0, l.c.wbits, l.c.abits, l.c.abits}, l.c.hw, "L");
  const GemmView& g = l.c.gemm;
  // Operands in the ranges of the widths the layer has (the PE runs them at its own).
  l.a = random_values(rng, g.repeats * g.M * g.K, l.c.abits, l.c.a_signed);
  l.b = random_values(rng, g.repeats * g.K * g.N, l.c.wbits, l.c.w_signed);
  return l;
}

const Dataflow kDataflows[] = {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS};

TEST(SystolicCore, ComputesTheWrappedProductInTheMappersCycles) {
  std::mt19937 rng(12);
  int layers = 0;
  for (Dataflow df : kDataflows)
    for (int iter = 0; iter < 120; ++iter, ++layers) {
      const Layer l = make_layer(rng, df);
      const GemmView& g = l.c.gemm;
      SystolicCore core;
      core.configure(l.config());
      std::vector<int64_t> y(static_cast<std::size_t>(g.repeats * g.M * g.N), 0);
      int64_t cycles = 0;
      for (int64_t i = 0; i < l.s.folds(); ++i) {
        const FoldStep f = l.s.fold(i);
        const GemmOperands ops = l.operands(f.repeat, y);
        core.begin_fold(FoldWork::of(f), &ops);
        ASSERT_EQ(core.fold_cycles(), f.cycles) << dataflow_name(df) << " fold " << i;
        while (!core.done()) core.step();
        cycles += core.fold_cycles();
        const EdgeCounts& n = core.counts();
        EXPECT_EQ(n.ifmap_read, f.m.size() * f.k.size());
        EXPECT_EQ(n.filter_read, f.k.size() * f.n.size());
        EXPECT_EQ(n.ofmap_write, f.m.size() * f.n.size());
        EXPECT_EQ(n.psum_read, f.first_k ? 0 : f.m.size() * f.n.size());
      }
      EXPECT_EQ(cycles, l.s.compute_cycles());
      const int acc_bits = l.c.hw.pe.acc_bits;
      for (int64_t r = 0; r < g.repeats; ++r)
        for (int64_t m = 0; m < g.M; ++m)
          for (int64_t n = 0; n < g.N; ++n) {
            int64_t want = 0;
            for (int64_t k = 0; k < g.K; ++k)
              want += static_cast<int64_t>(l.a[static_cast<std::size_t>((r * g.M + m) * g.K + k)]) *
                      l.b[static_cast<std::size_t>((r * g.K + k) * g.N + n)];
            ASSERT_EQ(y[static_cast<std::size_t>((r * g.M + m) * g.N + n)], intarith::wrap(want, acc_bits))
                << dataflow_name(df) << " " << pe_model_name(l.c.hw.pe.precision) << " repeat " << r << " m " << m
                << " n " << n;
          }
    }
  EXPECT_EQ(layers, 360);
}

TEST(SystolicCore, ValueAndTimingModesSeeTheSameEdgeActivity) {
  std::mt19937 rng(34);
  for (Dataflow df : kDataflows)
    for (int iter = 0; iter < 60; ++iter) {
      const Layer l = make_layer(rng, df);
      const GemmView& g = l.c.gemm;
      SystolicCore with_values, timing;
      with_values.configure(l.config());
      timing.configure(l.config());
      std::vector<int64_t> y(static_cast<std::size_t>(g.repeats * g.M * g.N), 0);
      for (int64_t i = 0; i < l.s.folds(); ++i) {
        const FoldStep f = l.s.fold(i);
        const GemmOperands ops = l.operands(f.repeat, y);
        Recorder rv, rt;
        with_values.begin_fold(FoldWork::of(f), &ops);
        timing.begin_fold(FoldWork::of(f), nullptr);
        while (!with_values.done()) with_values.step(&rv);
        while (!timing.done()) timing.step(&rt);
        ASSERT_EQ(rv.rows.size(), rt.rows.size());
        for (std::size_t c = 0; c < rv.rows.size(); ++c)
          ASSERT_TRUE(rv.rows[c] == rt.rows[c]) << dataflow_name(df) << " fold " << i << " cycle " << c;
        EXPECT_EQ(with_values.counts(), timing.counts());
      }
    }
}

// Stepping a fold cycle by cycle and fast-forwarding its steady stream give the same
// registers, partial sums, accumulators, outputs and counts at the same cycles.
TEST(SystolicCore, FastForwardLeavesTheStateSteppingLeaves) {
  std::mt19937 rng(56);
  int64_t forwarded = 0;
  for (Dataflow df : kDataflows)
    for (int iter = 0; iter < 150; ++iter) {
      const Layer l = make_layer(rng, df);
      const GemmView& g = l.c.gemm;
      for (bool values : {true, false}) {
        SystolicCore stepped, jumped;
        stepped.configure(l.config());
        jumped.configure(l.config());
        std::vector<int64_t> ys(static_cast<std::size_t>(g.repeats * g.M * g.N), 0), yj = ys;
        for (int64_t i = 0; i < l.s.folds(); ++i) {
          const FoldStep f = l.s.fold(i);
          const GemmOperands os = l.operands(f.repeat, ys), oj = l.operands(f.repeat, yj);
          stepped.begin_fold(FoldWork::of(f), values ? &os : nullptr);
          jumped.begin_fold(FoldWork::of(f), values ? &oj : nullptr);
          while (!jumped.done()) {
            const int64_t run = jumped.steady_run();
            if (run > 0) {
              const int64_t n = std::uniform_int_distribution<int64_t>(1, run)(rng);
              jumped.fast_forward(n);
              forwarded += n;
              for (int64_t k = 0; k < n; ++k) stepped.step();
              ASSERT_TRUE(stepped.state() == jumped.state())
                  << dataflow_name(df) << " fold " << i << " after a jump of " << n << " to cycle " << jumped.cycle();
            } else {
              jumped.step();
              stepped.step();
            }
          }
          ASSERT_TRUE(stepped.done());
          ASSERT_TRUE(stepped.state() == jumped.state());
        }
        EXPECT_EQ(ys, yj);
      }
    }
  EXPECT_GT(forwarded, 1000);
}

TEST(SystolicCore, SteadyRunCoversTheMiddleOfALongStream) {
  // 4x4 ws, one fold streaming 100 rows: the stream is steady from cycle 2R + C - 2 = 10
  // to R + T = 104 (the last injection); everything else is fill and drain.
  HwSpec hw;
  hw.array = {4, 4, Dataflow::kWS, 100.0};
  hw.pe.widths = {8};
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 64;
  hw.memory.dram_unlimited = true;
  const Schedule s = map_layer({{100, 4, 4, 1}, 0, 8, 8, 8}, hw, "L");
  ASSERT_EQ(s.folds(), 1);
  SystolicCore core;
  core.configure({s.dataflow, s.rows, s.cols, PeArith::of(hw, s.pe, false)});
  core.begin_fold(FoldWork::of(s.fold(0)), nullptr);
  while (core.steady_run() == 0) core.step();
  EXPECT_EQ(core.cycle(), 10);
  EXPECT_EQ(core.steady_run(), 94);
  core.fast_forward(94);
  EXPECT_EQ(core.steady_run(), 0);
  while (!core.done()) core.step();
  EXPECT_EQ(core.cycle(), 2 * 4 + 4 + 100 - 2);
  EXPECT_EQ(core.counts().ofmap_write, 400);
}

}  // namespace
}  // namespace qsim
