// The mapper: fold geometry per dataflow, the exact per-fold walk (tiles cover
// the GEMM once, fetches follow the residency rules), storage packing, PE rates
// and their errors, and the smallest buffers a fold can run with.
#include "sim/mapping.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "graph/error.h"
#include "tests/sim/sim_test_util.h"

namespace qsim {
namespace {

Schedule map_gemm(const HwSpec& hw, int64_t M, int64_t N, int64_t K, int64_t repeats = 1, int w = 8, int a = 8) {
  return map_layer({{M, N, K, repeats}, 0, w, a, a}, hw, "L");
}

TEST(Mapping, GeometryPerDataflowFollowsScaleSim) {
  // GEMM M=5, N=3, K=4 on a 2x2 array.
  // OS: rows span M (3 folds), cols span N (2 folds), K streams: 2+2+4-2 = 6 cycles per fold.
  Schedule os = map_gemm(small_hw(Dataflow::kOS, 2, 2), 5, 3, 4);
  EXPECT_EQ(os.row_folds, 3);
  EXPECT_EQ(os.col_folds, 2);
  EXPECT_EQ(os.fold_cycles, 6);
  EXPECT_EQ(os.compute_cycles(), 36);
  EXPECT_DOUBLE_EQ(os.mapping_efficiency(), 15.0 / 24.0);      // 5*3 used of 6 folds x 4 PEs
  EXPECT_DOUBLE_EQ(os.compute_util(), 15.0 / 24.0 * 4.0 / 6.0);  // x T / (R+C+T-2)
  // WS: rows span K (2 folds), cols span N (2), M streams: 2*2+2+5-2 = 9.
  Schedule ws = map_gemm(small_hw(Dataflow::kWS, 2, 2), 5, 3, 4);
  EXPECT_EQ(ws.folds(), 4);
  EXPECT_EQ(ws.fold_cycles, 9);
  EXPECT_DOUBLE_EQ(ws.compute_util(), 0.75 * 5.0 / 10.0);  // SCALE-Sim divides by 2R+2C+T-3 = 10
  // IS: rows span K (2 folds), cols span M (3), N streams: 2*2+2+3-2 = 7.
  Schedule is = map_gemm(small_hw(Dataflow::kIS, 2, 2), 5, 3, 4);
  EXPECT_EQ(is.row_folds, 2);
  EXPECT_EQ(is.col_folds, 3);
  EXPECT_EQ(is.fold_cycles, 7);
  // Repeats (groups) multiply the folds.
  EXPECT_EQ(map_gemm(small_hw(Dataflow::kOS, 2, 2), 5, 3, 4, 3).folds(), 18);
}

TEST(Mapping, BitFusionPacksTheReductionDimension) {
  HwSpec hw = small_hw(Dataflow::kOS, 2, 2);
  hw.pe.precision = PeModel::kBitFusion;
  hw.pe.widths = {2, 4, 8};
  // w4a4: p = (8/4)*(8/4) = 4 products per PE per cycle; OS streams ceil(8/4) = 2 packs.
  Schedule os = map_gemm(hw, 4, 4, 8, 1, 4, 4);
  EXPECT_EQ(os.pe.pack, 4);
  EXPECT_EQ(os.stream_steps, 2);
  EXPECT_EQ(os.fold_cycles, 2 + 2 + 2 - 2);
  // w2a8: p = 4*1 = 4; w3a8 rounds 3 -> 4: p = 2*1 = 2.
  EXPECT_EQ(map_gemm(hw, 4, 4, 8, 1, 2, 8).pe.pack, 4);
  EXPECT_EQ(map_gemm(hw, 4, 4, 8, 1, 3, 8).pe.pack, 2);
  EXPECT_EQ(map_gemm(hw, 4, 4, 8, 1, 3, 8).pe.wbits, 4);
  // WS maps K on the rows: 2 rows x 4 products cover K = 8 in one row fold.
  hw.array.dataflow = Dataflow::kWS;
  Schedule ws = map_gemm(hw, 4, 4, 8, 1, 4, 4);
  EXPECT_EQ(ws.row_span, 2);
  EXPECT_EQ(ws.row_folds, 1);
  const FoldStep f = ws.fold(0);
  EXPECT_EQ(f.k, (Range{0, 8}));
  EXPECT_EQ(f.rows_used, 2);
  // At 8 bits the same layer needs 4 row folds.
  EXPECT_EQ(map_gemm(hw, 4, 4, 8).row_folds, 4);
}

TEST(Mapping, BitSerialStretchesTheStream) {
  HwSpec hw = small_hw(Dataflow::kOS, 2, 2);
  hw.pe.precision = PeModel::kBitSerial;
  hw.pe.widths = {1, 2, 3, 4, 5, 6, 7, 8};
  hw.pe.serial = SerialOperand::kActivation;
  // Activation-serial, a4: every streamed step takes 4 cycles: 2+2-2 + 8*4 = 34.
  EXPECT_EQ(map_gemm(hw, 4, 4, 8, 1, 8, 4).fold_cycles, 34);
  hw.pe.serial = SerialOperand::kBoth;
  // Both serial, w4a4: 16 cycles per step: 2 + 8*16 = 130.
  EXPECT_EQ(map_gemm(hw, 4, 4, 8, 1, 4, 4).fold_cycles, 130);
}

TEST(Mapping, PeRateAgreesWithTheSharedThroughputDefinition) {
  // sim/hw_spec.h's macs_per_pe_per_cycle is what `qsim hw` prints; the mapper
  // must schedule exactly that throughput.
  for (PeModel model : {PeModel::kFixed, PeModel::kBitFusion, PeModel::kBitSerial})
    for (SerialOperand serial : {SerialOperand::kActivation, SerialOperand::kBoth}) {
      HwSpec hw = small_hw(Dataflow::kOS, 2, 2);
      hw.pe.precision = model;
      hw.pe.serial = serial;
      hw.pe.widths = model == PeModel::kFixed       ? std::vector<int>{8}
                     : model == PeModel::kBitFusion ? std::vector<int>{2, 4, 8}
                                                    : std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8};
      for (int w = 1; w <= 8; ++w)
        for (int a = 1; a <= 8; ++a) {
          const PeRate r = resolve_pe_rate(hw, w, a, "L");
          EXPECT_DOUBLE_EQ(r.macs_per_pe_cycle(), macs_per_pe_per_cycle(hw, w, a))
              << pe_model_name(model) << " w" << w << "a" << a;
        }
    }
}

TEST(Mapping, WidthsThePeCannotRunNameTheLayer) {
  HwSpec hw = small_hw(Dataflow::kOS, 2, 2);
  auto message = [&](int w, int a) {
    try {
      map_layer({{4, 4, 4, 1}, 0, w, a, a}, hw, "conv7");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // fixed 8-bit PE: 9-bit activations do not fit.
  EXPECT_NE(message(8, 9).find("conv7"), std::string::npos) << message(8, 9);
  EXPECT_NE(message(8, 9).find("test.yaml"), std::string::npos);
  hw.pe.precision = PeModel::kBitFusion;
  hw.pe.widths = {2, 4, 8};
  EXPECT_NE(message(16, 8).find("conv7"), std::string::npos) << message(16, 8);
  EXPECT_EQ(message(1, 8), "no error");  // 1 rounds up to 2
  hw.pe.widths = {4, 8};
  EXPECT_EQ(message(2, 2), "no error");  // rounds up to 4
  hw.pe.widths = {3, 8};  // 3 does not divide 8: bricks cannot fuse to it
  EXPECT_NE(message(3, 8).find("does not divide"), std::string::npos) << message(3, 8);
  hw.pe.precision = PeModel::kBitSerial;
  hw.pe.widths = {1, 2, 4, 8};
  EXPECT_NE(message(9, 4).find("conv7"), std::string::npos);
}

TEST(Mapping, StorageScalesWithBits) {
  MemorySpec m;
  m.word_bits = 8;
  m.pack_narrow = true;
  EXPECT_EQ(Storage::of(8, m).bytes(100), 100);
  EXPECT_EQ(Storage::of(4, m).bytes(100), 50);  // two per byte
  EXPECT_EQ(Storage::of(2, m).bytes(100), 25);
  EXPECT_EQ(Storage::of(3, m).bytes(100), 50);  // floor(8/3) = 2 per byte
  EXPECT_EQ(Storage::of(32, m).bytes(10), 40);
  EXPECT_EQ(Storage::of(4, m).bytes(3), 2);     // a started word counts
  m.pack_narrow = false;
  EXPECT_EQ(Storage::of(4, m).bytes(100), 100);  // rounded up to a word each
  m.word_bits = 16;
  EXPECT_EQ(Storage::of(8, m).bytes(100), 200);
  EXPECT_EQ(Storage::of(20, m).bytes(10), 40);  // two 16-bit words (4 B) each
  m.pack_narrow = true;
  EXPECT_EQ(Storage::of(8, m).bytes(100), 100);
  EXPECT_EQ(Storage::of(5, m).bytes(9), 6);  // 3 per 16-bit word: 3 words
}

// Every (m, n, k) of every repeat is computed by exactly one fold, and the
// walk's bookkeeping (indices, first/last reduction fold) is consistent.
void expect_exact_cover(const Schedule& s) {
  const int64_t M = s.gemm.M, N = s.gemm.N, K = s.gemm.K;
  std::vector<int> hits(static_cast<std::size_t>(s.gemm.repeats * M * N * K), 0);
  int64_t index = 0;
  s.for_each_fold([&](const FoldStep& f) {
    EXPECT_EQ(f.index, index++);
    ASSERT_GE(f.m.begin, 0);
    ASSERT_LE(f.m.end, M);
    ASSERT_LE(f.n.end, N);
    ASSERT_LE(f.k.end, K);
    EXPECT_LE(f.rows_used, s.rows);
    EXPECT_LE(f.cols_used, s.cols);
    for (int64_t m = f.m.begin; m < f.m.end; ++m)
      for (int64_t n = f.n.begin; n < f.n.end; ++n)
        for (int64_t k = f.k.begin; k < f.k.end; ++k)
          ++hits[static_cast<std::size_t>(((f.repeat * M + m) * N + n) * K + k)];
    EXPECT_EQ(f.first_k, s.dataflow == Dataflow::kOS || f.k.begin == 0);
    EXPECT_EQ(f.last_k, s.dataflow == Dataflow::kOS || f.k.end == K);
  });
  for (int h : hits) ASSERT_EQ(h, 1);
}

TEST(Mapping, WalkCoversEveryMacOnce) {
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (int64_t pack_bits : {8, 4, 2}) {
      HwSpec hw = small_hw(df, 3, 2, 0.01);  // tiny buffers: loop orders and chunks get exercised
      hw.pe.precision = PeModel::kBitFusion;
      hw.pe.widths = {2, 4, 8};
      hw.memory.dram_unlimited = false;
      hw.memory.dram_bytes_per_cycle = 1.0;
      for (auto [M, N, K, R] : std::vector<std::array<int64_t, 4>>{{7, 5, 9, 1}, {1, 1, 1, 2}, {6, 4, 13, 3}, {40, 3, 30, 2}}) {
        SCOPED_TRACE(::testing::Message() << dataflow_name(df) << " bits " << pack_bits << " " << M << "x" << N
                                          << "x" << K << " r" << R);
        HwSpec fit = hw;
        expect_exact_cover(map_with_fitting_buffers(
            {{M, N, K, R}, 0, static_cast<int>(pack_bits), static_cast<int>(pack_bits), static_cast<int>(pack_bits)},
            fit));
      }
    }
}

TEST(Mapping, ResidencyFollowsBufferSize) {
  // WS, GEMM 16x8x8 on 2x2: 4 row folds (K) x 4 column folds (N).
  // 1 KiB buffers (512 B working half): A (128 B) stays resident after the first
  // column pass; each column tile's partial sums (16x2 at 4 B = 128 B) stay on chip.
  const Schedule big = map_gemm(small_hw(Dataflow::kWS, 2, 2, 1.0), 16, 8, 8);
  EXPECT_EQ(big.order, LoopOrder::kColsOuter);
  EXPECT_EQ(big.ifmap_reuse.rule, FetchRule::kFirstOuter);
  EXPECT_TRUE(big.ifmap_reuse.fully_resident());
  EXPECT_EQ(big.psum_rule, PsumRule::kOnChip);
  int64_t a = 0;
  big.for_each_fold([&](const FoldStep& f) { a += f.ifmap_dram_in; });
  EXPECT_EQ(a, 128);

  // 0.1 KiB (51 B working). cols-outer: 51 of A's 128 B stay pinned, so later
  // column passes re-fetch 32 - floor(32*51/128) = 20 B of each 32 B slab;
  // 12 of a tile's 32 partial sums fit (51 B / 4 B), 20 spill (80 B) on each of
  // the 3 non-final row folds of each column. Estimated bytes: cols-outer 2471,
  // rows-outer 3104 (A slabs fit, but all of Y's partial sums stay open), so
  // SCALE-Sim's order stays.
  const Schedule small = map_gemm(small_hw(Dataflow::kWS, 2, 2, 0.1), 16, 8, 8);
  EXPECT_EQ(small.order, LoopOrder::kColsOuter);
  EXPECT_EQ(small.ifmap_reuse.set_elems, 128);
  EXPECT_EQ(small.ifmap_reuse.resident_elems, 51);
  EXPECT_EQ(small.psum_rule, PsumRule::kSpill);
  EXPECT_EQ(small.psum_reuse.resident_elems, 12);
  int64_t a2 = 0, psum_out = 0, psum_in = 0;
  small.for_each_fold([&](const FoldStep& f) {
    a2 += f.ifmap_dram_in;
    psum_out += f.psum_dram_out;
    psum_in += f.psum_dram_in;
  });
  EXPECT_EQ(a2, 4 * 32 + 12 * 20);
  EXPECT_EQ(psum_out, 12 * 80);
  EXPECT_EQ(psum_in, 12 * 80);

  // When the loops swap: OS, GEMM 8x16x64 on 2x2 (4 row folds x 8 column
  // folds), a 96 B ifmap working buffer and room for all of B (1 KiB).
  // cols-outer sweeps A (512 B) once per column fold, keeping 96 B pinned:
  // 1 + 7*(416/512) passes = 3424 B. rows-outer keeps one A row tile (128 B,
  // 96 pinned) while the 8 column folds pass: 1 + 7*(32/128) = 2.75 passes of
  // 128 B per row tile = 1408 B; B stays resident either way. So the mapper swaps.
  HwSpec hw = small_hw(Dataflow::kOS, 2, 2, 0.1875);
  hw.memory.filter_kib = 4.0;
  const Schedule os = map_gemm(hw, 8, 16, 64);
  EXPECT_EQ(os.order, LoopOrder::kRowsOuter);
  EXPECT_EQ(os.ifmap_reuse.rule, FetchRule::kFirstInner);
  EXPECT_EQ(os.filter_reuse.rule, FetchRule::kFirstOuter);
  EXPECT_TRUE(os.filter_reuse.fully_resident());
  int64_t a3 = 0, b3 = 0;
  os.for_each_fold([&](const FoldStep& f) {
    a3 += f.ifmap_dram_in;
    b3 += f.filter_dram_in;
  });
  EXPECT_EQ(a3, 4 * (128 + 7 * 32));
  EXPECT_EQ(b3, 1024);
}

TEST(Mapping, SpillShrinksSmoothlyWithTheBuffer) {
  // WS, N fits one column fold, so both loop orders are the same schedule: the
  // psum set is Y (64 x 2 at 4 B = 512 B). Spill traffic falls in proportion to
  // the buffer, without a cliff, and vanishes once Y fits.
  int64_t last = -1;
  for (int quarter_kib = 1; quarter_kib <= 8; ++quarter_kib) {
    const Schedule s = map_gemm(small_hw(Dataflow::kWS, 2, 2, quarter_kib * 0.25), 64, 2, 8);
    int64_t spill = 0;
    s.for_each_fold([&](const FoldStep& f) { spill += f.psum_dram_out; });
    // working half = quarter_kib * 128 B of Y's 512 B; 3 non-final row folds.
    const int64_t expect = 3 * std::max<int64_t>(0, 512 - quarter_kib * 128);
    EXPECT_EQ(spill, expect) << quarter_kib;
    if (last >= 0) {
      EXPECT_LE(spill, last);
    }
    last = spill;
  }
}

TEST(Mapping, ConvIfmapFetchesUniqueInputs) {
  // A 3x3 convolution's im2col A has 9x the unique input; a sweep fetches the
  // unique elements only (SCALE-Sim's DRAM IFMAP reads do the same).
  HwSpec hw = small_hw(Dataflow::kOS, 4, 4, 64.0);
  // 1x2x6x6 input, 3x3 kernel, 5 filters: M = 16, K = 18, N = 5; unique 72.
  const Schedule s = map_layer({{16, 5, 18, 1}, 72, 8, 8, 8}, hw, "c");
  int64_t a = 0;
  s.for_each_fold([&](const FoldStep& f) { a += f.ifmap_dram_in; });
  EXPECT_EQ(a, 72);
}

// A buffer smaller than what one fold holds at once is refused with the minimum
// named (sim/mapping.h): the stationary tile (WS filter, IS ifmap), the outputs an
// OS fold accumulates, and one wavefront of each streamed operand.
TEST(Mapping, BuffersSmallerThanOneFoldAreRefusedWithTheMinimum) {
  struct Case {
    Dataflow df;
    int64_t ifmap, filter, ofmap;  // bytes one fold holds of each, on a 2x2 array, GEMM 4x4x4 at 8 bits
  };
  // OS: 2-element wavefronts of A and B, 2x2 outputs. WS: 2x2 filter tile, a wavefront
  // of 2 inputs, 2 partial sums at 32 bits (K spans 2 row folds). IS: the mirror.
  for (const Case& c : {Case{Dataflow::kOS, 2, 2, 4}, Case{Dataflow::kWS, 2, 4, 8}, Case{Dataflow::kIS, 4, 2, 8}}) {
    SCOPED_TRACE(dataflow_name(c.df));
    for (bool db : {true, false}) {
      HwSpec hw = small_hw(c.df, 2, 2);
      hw.memory.double_buffer = db;
      const double k = db ? 2.0 / 1024 : 1.0 / 1024;  // KiB per working byte
      hw.memory.ifmap_kib = c.ifmap * k;
      hw.memory.filter_kib = c.filter * k;
      hw.memory.ofmap_kib = c.ofmap * k;
      EXPECT_NO_THROW(map_gemm(hw, 4, 4, 4));  // exactly the minimum
      for (int which = 0; which < 3; ++which) {
        HwSpec small = hw;
        double& kib = which == 0   ? small.memory.ifmap_kib
                      : which == 1 ? small.memory.filter_kib
                                   : small.memory.ofmap_kib;
        const char* key = which == 0 ? "memory.ifmap_kib" : which == 1 ? "memory.filter_kib" : "memory.ofmap_kib";
        const double minimum = kib;
        kib -= k;  // one working byte short
        try {
          map_gemm(small, 4, 4, 4);
          ADD_FAILURE() << key << " one byte short was accepted";
        } catch (const Error& e) {
          const std::string m = e.what();
          EXPECT_NE(m.find("test.yaml: " + std::string(key)), std::string::npos) << m;
          EXPECT_NE(m.find("layer 'L'"), std::string::npos) << m;
          EXPECT_NE(m.find(fmt::format("{} must be at least {}", key, std::ceil(minimum * 1000) / 1000)),
                    std::string::npos)
              << m;
          EXPECT_EQ(m.find('\n'), std::string::npos);
        }
      }
    }
  }
  // The case: a 4096x4096 OS array with 1-byte SRAMs. Refused (it used to
  // time exactly as with 1 GiB buffers); the ofmap buffer must take the 4096x4096
  // outputs of a fold: 16 MiB per half, 32768 KiB.
  HwSpec big = small_hw(Dataflow::kOS, 4096, 4096, 1.0 / 1024);
  big.memory.ifmap_kib = big.memory.filter_kib = 1024.0 * 1024.0;
  try {
    map_gemm(big, 4096, 4096, 64);
    ADD_FAILURE() << "1-byte ofmap buffer accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory.ofmap_kib must be at least 32768"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qsim
