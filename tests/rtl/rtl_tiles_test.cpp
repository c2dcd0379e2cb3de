// The RTL array (rtl/, verilated) against the SystemC model's array on the same
// tile vectors: every lane read, every output value and the fold cycle of each, and
// every fold's length, with folds of mixed dataflows, modes and array sizes run
// back to back and idle lanes carrying random data.
#include <gtest/gtest.h>

#include "sim/rtl/rtl_array.h"
#include "sim/systolic/tile_vectors.h"

namespace qsim {
namespace {

struct Collect : RtlObserver {
  std::vector<TileTrace> traces;
  void on_event(std::size_t fold, const TileEvent& e) override { traces[fold].events.push_back(e); }
};

// Runs `tiles` through `model` in streams of `per_stream` back-to-back folds;
// returns the number of tiles compared (all equal, else the test fails).
// `events` receives the number of events compared.
int64_t cross_check(const std::string& model, const std::vector<TileVector>& tiles, std::size_t per_stream,
                    int64_t* events = nullptr) {
  auto rtl = make_rtl_array(model);
  rtl->poison_idle_lanes(true);
  int64_t checked = 0;
  for (std::size_t first = 0; first < tiles.size(); first += per_stream) {
    const std::size_t n = std::min(per_stream, tiles.size() - first);
    std::vector<std::vector<int64_t>> ys(n);
    std::vector<GemmOperands> ops(n);
    std::vector<RtlFold> folds(n);
    for (std::size_t i = 0; i < n; ++i) {
      const TileVector& t = tiles[first + i];
      ys[i] = t.y;
      ops[i] = {t.a.data(), t.K, t.b.data(), t.N, ys[i].data(), t.N};
      folds[i] = {t.dataflow, t.rows, t.cols, t.pe, t.fold, &ops[i]};
    }
    Collect obs;
    obs.traces.resize(n);
    const RtlRunStats stats = rtl->run(folds, &obs);
    int64_t want_cycles = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const TileVector& t = tiles[first + i];
      const TileTrace want = reference_trace(t);
      TileTrace& got = obs.traces[i];
      got.cycles = stats.fold_cycles[i];
      sort_events(got.events);
      const std::string diff = first_difference(want, got);
      EXPECT_EQ(diff, "") << model << " tile " << first + i << ": " << t.describe();
      if (!diff.empty()) return checked;
      want_cycles += want.cycles;
      if (events) *events += static_cast<int64_t>(want.events.size());
      ++checked;
    }
    EXPECT_EQ(stats.compute_cycles, want_cycles);
  }
  return checked;
}

TEST(RtlArray, FourByFourWith16BitAccumulatorsEqualsTheSystemcArray) {
  TileGenSpec spec;
  spec.max_rows = spec.max_cols = 4;
  spec.acc_bits = 16;
  spec.count = 600;
  spec.seed = 13;
  int64_t events = 0;
  EXPECT_EQ(cross_check("4x4_a16", generate_tiles(spec), 40, &events), 600);
  EXPECT_GT(events, 600 * 20);
}

TEST(RtlArray, EightByEightWith32BitAccumulatorsEqualsTheSystemcArray) {
  TileGenSpec spec;
  spec.max_rows = spec.max_cols = 8;
  spec.acc_bits = 32;
  spec.count = 480;
  spec.seed = 31;
  int64_t events = 0;
  EXPECT_EQ(cross_check("8x8_a32", generate_tiles(spec), 40, &events), 480);
  EXPECT_GT(events, 480 * 40);
}

// Long os reductions of extreme operands: the 32-bit accumulators wrap inside the PEs.
TEST(RtlArray, ThirtyTwoBitAccumulatorsWrapInLongReductions) {
  TileVector t;
  t.dataflow = Dataflow::kOS;
  t.rows = t.cols = 8;
  t.pe = {PeModel::kFixed, 8, 8, false, 1, 1, false, 32};
  t.fold.rows_used = 3;
  t.fold.cols_used = 2;
  t.M = 3;
  t.N = 2;
  t.K = 70000;  // 70000 * 255 * -128 < -2^31
  t.fold.m = {0, 3};
  t.fold.n = {0, 2};
  t.fold.k = {0, t.K};
  t.a.assign(static_cast<std::size_t>(t.M * t.K), 255);
  t.b.assign(static_cast<std::size_t>(t.K * t.N), -128);
  t.y.assign(6, 0);
  const TileTrace want = reference_trace(t);
  int64_t outputs = 0;
  for (const TileEvent& e : want.events)
    if (e.kind == LaneKind::kOfmap) {
      EXPECT_EQ(e.value, intarith::wrap(int64_t{70000} * 255 * -128, 32));
      EXPECT_GT(e.value, 0);  // wrapped
      ++outputs;
    }
  EXPECT_EQ(outputs, 6);
  EXPECT_EQ(cross_check("8x8_a32", {t}, 1), 1);
}

// The comparison itself: a changed value, cycle or extra event is reported.
TEST(RtlArray, TraceComparisonNamesTheFirstDifference) {
  TileGenSpec spec;
  spec.count = 1;
  spec.dataflows = {Dataflow::kWS};
  const TileTrace want = reference_trace(generate_tiles(spec)[0]);
  ASSERT_FALSE(want.events.empty());
  TileTrace got = want;
  EXPECT_EQ(first_difference(want, got), "");
  got.events.back().value += 1;
  EXPECT_NE(first_difference(want, got), "");
  got = want;
  got.events.front().cycle += 1;
  EXPECT_NE(first_difference(want, got), "");
  got = want;
  got.events.pop_back();
  EXPECT_NE(first_difference(want, got).find("missing"), std::string::npos);
  got = want;
  got.cycles += 1;
  EXPECT_NE(first_difference(want, got).find("fold length"), std::string::npos);
}

// The documented slow check (docs/rtl.md): the 16 x 16 model.
TEST(RtlArraySlow, DISABLED_SixteenBySixteenEqualsTheSystemcArray) {
  TileGenSpec spec;
  spec.max_rows = spec.max_cols = 16;
  spec.acc_bits = 32;
  spec.count = 400;
  spec.max_steps = 64;
  spec.seed = 1616;
  EXPECT_EQ(cross_check("16x16_a32", generate_tiles(spec), 40), 400);
}

TEST(RtlArray, RefusesFoldsItCannotRun) {
  auto rtl = make_rtl_array("4x4_a16");
  RtlFold f;
  f.rows = f.cols = 4;
  f.work.rows_used = f.work.cols_used = 1;
  f.work.m = f.work.n = f.work.k = {0, 1};
  f.pe.acc_bits = 32;  // the model's accumulators are 16 bits
  EXPECT_THROW(rtl->run(std::span<const RtlFold>(&f, 1)), std::invalid_argument);
  f.pe.acc_bits = 16;
  f.rows = 5;
  EXPECT_THROW(rtl->run(std::span<const RtlFold>(&f, 1)), std::invalid_argument);
  f.rows = 4;
  f.pe.model = PeModel::kBitSerial;
  EXPECT_THROW(rtl->run(std::span<const RtlFold>(&f, 1)), std::invalid_argument);
  EXPECT_THROW(make_rtl_array("3x3_a8"), std::invalid_argument);
}

}  // namespace
}  // namespace qsim
