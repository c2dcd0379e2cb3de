// The RTL array (rtl/, verilated) against the SystemC model's array on the same
// tile vectors: every lane read, every output value and the fold cycle of each, and
// every fold's length, with folds of mixed dataflows, modes and array sizes run
// back to back and idle lanes carrying random data.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

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

// What a tile's output must hold, from the operands alone: the stored partial sum
// (when the fold accumulates) plus the plain integer dot product over the fold's k
// range, wrapped to acc_bits (wrapping is a ring homomorphism, so the order of the
// additions inside the array does not matter).
int64_t exact_output(const TileVector& t, int64_t m, int64_t n) {
  int64_t sum = t.fold.first_k ? 0 : t.y[static_cast<std::size_t>(m * t.N + n)];
  for (int64_t k = t.fold.k.begin; k < t.fold.k.end; ++k)
    sum += intarith::product(t.b[static_cast<std::size_t>(k * t.N + n)], t.a[static_cast<std::size_t>(m * t.K + k)]);
  return intarith::wrap(sum, t.pe.acc_bits);
}

// The generator covers what the cross-check claims: every precision mode with every
// signedness of weights and activations, extremes of each, and wrapping sums.
void expect_coverage(const std::vector<TileVector>& tiles) {
  std::set<std::tuple<int, int, int, bool, bool>> modes;  // model, wbits, abits, w_signed, a_signed
  std::set<std::tuple<bool, bool, int32_t, int32_t>> extremes;  // signs, the first weight and activation
  std::set<std::tuple<Dataflow, bool, bool>> flows;
  int64_t wrapped = 0;
  for (const TileVector& t : tiles) {
    modes.insert({static_cast<int>(t.pe.model), t.pe.wbits, t.pe.abits, t.pe.w_signed, t.pe.a_signed});
    flows.insert({t.dataflow, t.pe.w_signed, t.pe.a_signed});
    const auto wr = intarith::qrange(t.pe.wbits, t.pe.w_signed), ar = intarith::qrange(t.pe.abits, t.pe.a_signed);
    const int32_t w = t.b[static_cast<std::size_t>(t.fold.k.begin * t.N + t.fold.n.begin)];
    const int32_t a = t.a[static_cast<std::size_t>(t.fold.m.begin * t.K + t.fold.k.begin)];
    if ((w == wr.lo || w == wr.hi) && (a == ar.lo || a == ar.hi) && std::all_of(t.b.begin(), t.b.end(), [&](int32_t x) { return x == w; }) &&
        std::all_of(t.a.begin(), t.a.end(), [&](int32_t x) { return x == a; }))
      extremes.insert({t.pe.w_signed, t.pe.a_signed, w, a});
    // A sum that leaves the accumulator's range somewhere in the tile.
    for (int64_t m = t.fold.m.begin; m < t.fold.m.end; ++m) {
      int64_t sum = t.fold.first_k ? 0 : t.y[static_cast<std::size_t>(m * t.N + t.fold.n.begin)];
      for (int64_t k = t.fold.k.begin; k < t.fold.k.end; ++k)
        sum += intarith::product(t.b[static_cast<std::size_t>(k * t.N + t.fold.n.begin)], t.a[static_cast<std::size_t>(m * t.K + k)]);
      if (!intarith::fits_acc(sum, t.pe.acc_bits)) {
        ++wrapped;
        break;
      }
    }
  }
  EXPECT_EQ(modes.size(), 4u * (9 + 1)) << "every Bit Fusion mode and the fixed PE, four signedness combinations";
  EXPECT_EQ(flows.size(), 3u * 4) << "every dataflow with every signedness combination";
  // Per signedness combination, the four corners (weight lo/hi x activation lo/hi),
  // at some width (unsigned lo is 0).
  std::set<std::tuple<bool, bool, bool, bool>> corners;
  for (const auto& [ws, as, w, a] : extremes) corners.insert({ws, as, w > 0, a > 0});
  EXPECT_EQ(corners.size(), 16u);
  EXPECT_GT(wrapped, 10) << "tiles whose sums wrap the accumulator";
}

// The SystemC array's outputs equal the plain wrapped dot products for every tile
// (so the RTL, equal to it event for event, computes them too).
void expect_exact_outputs(const std::vector<TileVector>& tiles) {
  for (const TileVector& t : tiles) {
    int64_t outputs = 0;
    for (const TileEvent& e : reference_trace(t).events)
      if (e.kind == LaneKind::kOfmap) {
        ASSERT_EQ(e.value, exact_output(t, e.at.row, e.at.col)) << t.describe();
        ++outputs;
      }
    ASSERT_EQ(outputs, t.fold.m.size() * t.fold.n.size()) << t.describe();
  }
}

TEST(RtlArray, FourByFourWith16BitAccumulatorsEqualsTheSystemcArray) {
  TileGenSpec spec;
  spec.max_rows = spec.max_cols = 4;
  spec.acc_bits = 16;
  spec.count = 600;
  spec.seed = 13;
  const std::vector<TileVector> tiles = generate_tiles(spec);
  expect_coverage(tiles);
  expect_exact_outputs(tiles);
  int64_t events = 0;
  EXPECT_EQ(cross_check("4x4_a16", tiles, 40, &events), 600);
  EXPECT_GT(events, 600 * 20);
}

TEST(RtlArray, EightByEightWith32BitAccumulatorsEqualsTheSystemcArray) {
  TileGenSpec spec;
  spec.max_rows = spec.max_cols = 8;
  spec.acc_bits = 32;
  spec.count = 480;
  spec.seed = 31;
  const std::vector<TileVector> tiles = generate_tiles(spec);
  expect_coverage(tiles);
  expect_exact_outputs(tiles);
  int64_t events = 0;
  EXPECT_EQ(cross_check("8x8_a32", tiles, 40, &events), 480);
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

// Unsigned weights at their largest value: 34000 * 255 * 255 > 2^31 - 1 wraps the
// 32-bit accumulators; and 2-bit unsigned weights against the most negative 8-bit
// activations on the Bit Fusion PE with 16-bit accumulators.
TEST(RtlArray, UnsignedWeightExtremesWrapInLongReductions) {
  TileVector t;
  t.dataflow = Dataflow::kOS;
  t.rows = t.cols = 8;
  t.pe = {PeModel::kFixed, 8, 8, false, 1, 1, false, 32, /*w_signed=*/false};
  t.fold.rows_used = 2;
  t.fold.cols_used = 3;
  t.M = 2;
  t.N = 3;
  t.K = 34000;
  t.fold.m = {0, 2};
  t.fold.n = {0, 3};
  t.fold.k = {0, t.K};
  t.a.assign(static_cast<std::size_t>(t.M * t.K), 255);
  t.b.assign(static_cast<std::size_t>(t.K * t.N), 255);
  t.y.assign(6, 0);
  const int64_t want = intarith::wrap(int64_t{34000} * 255 * 255, 32);
  ASSERT_LT(want, 0);  // wrapped
  int64_t outputs = 0;
  for (const TileEvent& e : reference_trace(t).events)
    if (e.kind == LaneKind::kOfmap) {
      EXPECT_EQ(e.value, want);
      ++outputs;
    }
  EXPECT_EQ(outputs, 6);
  EXPECT_EQ(cross_check("8x8_a32", {t}, 1), 1);

  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS}) {
    TileVector u;
    u.dataflow = df;
    u.rows = u.cols = 4;
    u.pe = {PeModel::kBitFusion, 2, 8, true, 4, 1, false, 16, /*w_signed=*/false};
    const int64_t kt = df == Dataflow::kOS ? 4 * 200 : 4 * 4;  // os: 200 packs; ws/is: every row
    const int64_t stream = df == Dataflow::kOS ? 4 : 20;
    u.fold.rows_used = 4;
    u.fold.cols_used = 4;
    u.fold.first_k = df == Dataflow::kOS;
    u.M = df == Dataflow::kIS ? 4 : stream;
    u.N = df == Dataflow::kWS ? 4 : (df == Dataflow::kOS ? 4 : stream);
    u.K = kt;
    u.fold.m = {0, u.M};
    u.fold.n = {0, u.N};
    u.fold.k = {0, kt};
    u.a.assign(static_cast<std::size_t>(u.M * u.K), -128);
    u.b.assign(static_cast<std::size_t>(u.K * u.N), 3);
    u.y.assign(static_cast<std::size_t>(u.M * u.N), -32768 + 5);  // read back and wrapped by ws/is
    for (const TileEvent& e : reference_trace(u).events) {
      if (e.kind == LaneKind::kOfmap) {
        EXPECT_EQ(e.value, exact_output(u, e.at.row, e.at.col)) << u.describe();
      }
    }
    EXPECT_EQ(cross_check("4x4_a16", {u}, 1), 1) << u.describe();
  }
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
