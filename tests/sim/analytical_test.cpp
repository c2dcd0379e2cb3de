// The analytical backend: hand-computed cases for each dataflow, each PE model,
// a memory-bound layer, energy, requantization and vector-unit rows; and the
// closed form against a brute-force walk of every fold.
#include "sim/analytical/analytical_backend.h"
#include "tests/sim/graph_builder.h"
#include "tests/sim/sim_test_util.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/scalesim_topology.h"

namespace qsim {
namespace {

// small_hw with narrow operands packed and 8 vector lanes (the analytical tests' hardware).
HwSpec hw_spec(Dataflow df, int64_t rows, int64_t cols) {
  HwSpec hw = small_hw(df, rows, cols);
  hw.memory.pack_narrow = true;
  hw.vector.lanes = 8;
  return hw;
}

LayerTiming time_gemm(const HwSpec& hw, int64_t M, int64_t N, int64_t K, int w = 8, int a = 8) {
  return time_schedule(map_layer({{M, N, K, 1}, 0, w, a, a}, hw, "L"), hw, "L");
}

void expect_bytes(const OperandBytes& got, int64_t ifmap, int64_t filter, int64_t ofmap, const char* what) {
  EXPECT_EQ(got.ifmap, ifmap) << what;
  EXPECT_EQ(got.filter, filter) << what;
  EXPECT_EQ(got.ofmap, ofmap) << what;
}

// ---- hand-computed small cases, GEMM M=5 N=3 K=4 on a 2x2 array, 8-bit, large buffers ----

TEST(Analytical, OutputStationaryByHand) {
  const LayerTiming t = time_gemm(hw_spec(Dataflow::kOS, 2, 2), 5, 3, 4);
  // folds ceil(5/2)*ceil(3/2) = 6, cycles/fold 2+2+4-2 = 6.
  EXPECT_EQ(t.folds, 6);
  EXPECT_EQ(t.compute_cycles, 36);
  EXPECT_EQ(t.stall_cycles, 0);  // unlimited DRAM
  EXPECT_EQ(t.total_cycles, 36);
  // Array reads: A rows once per column fold, M*K*ceil(N/C) = 40; B columns once
  // per row fold, K*N*ceil(M/R) = 36; Y written once, 15. A (20 B) stays resident
  // after the first column fold; each B column tile stays over its row folds.
  expect_bytes(t.sram_read, 40, 36, 15, "sram_read");  // ofmap: drained to DRAM
  expect_bytes(t.sram_write, 20, 12, 15, "sram_write");
  expect_bytes(t.dram_read, 20, 12, 0, "dram_read");
  expect_bytes(t.dram_write, 0, 0, 15, "dram_write");
  EXPECT_DOUBLE_EQ(t.utilization, 60.0 / (4.0 * 36.0));  // 60 MACs on 4 PEs over 36 cycles
  EXPECT_EQ(t.bound, Bound::kCompute);
}

TEST(Analytical, WeightStationaryByHand) {
  const LayerTiming t = time_gemm(hw_spec(Dataflow::kWS, 2, 2), 5, 3, 4);
  // folds ceil(4/2)*ceil(3/2) = 4, cycles/fold 2*2+2+5-2 = 9.
  EXPECT_EQ(t.compute_cycles, 36);
  // A streamed per column fold: 5*4*2 = 40; B once: 12. K spans 2 row folds, so
  // each column tile (5 x cols) accumulates in the ofmap SRAM at 32 bits:
  // row fold 0 writes partials (10+5 elems x 4 B = 60), row fold 1 reads them
  // back (60) and writes finals (15). Drains read 15 more.
  expect_bytes(t.sram_read, 40, 12, 60 + 15, "sram_read");
  expect_bytes(t.sram_write, 20, 12, 60 + 15, "sram_write");
  expect_bytes(t.dram_read, 20, 12, 0, "dram_read");
  expect_bytes(t.dram_write, 0, 0, 15, "dram_write");
  EXPECT_DOUBLE_EQ(t.mapping_efficiency, 12.0 / 16.0);
}

TEST(Analytical, InputStationaryByHand) {
  const LayerTiming t = time_gemm(hw_spec(Dataflow::kIS, 2, 2), 5, 3, 4);
  // folds ceil(4/2)*ceil(5/2) = 6, cycles/fold 2*2+2+3-2 = 7.
  EXPECT_EQ(t.compute_cycles, 42);
  // A tiles stationary, each once: 20; B rows streamed per column fold:
  // 4*3*ceil(5/2) = 36. Partials of tiles (2,2,1 rows x 3) at 4 B: 60.
  expect_bytes(t.sram_read, 20, 36, 60 + 15, "sram_read");
  expect_bytes(t.sram_write, 20, 12, 60 + 15, "sram_write");
  expect_bytes(t.dram_read, 20, 12, 0, "dram_read");
}

// ---- a memory-bound layer ----

// OS, GEMM M=4 N=4 K=8 on 2x2, 1 byte/cycle, no latency. Folds in SCALE-Sim's
// order (column fold outer): f0=(r0,c0) f1=(r1,c0) f2=(r0,c1) f3=(r1,c1), 10
// cycles each. Fetches: A row tiles (16 B) in the first column pass (f0, f1);
// B column tiles (16 B) when a column starts (f0, f2). Each fold writes 4 B.
//   in  = 32, 16, 16, 0      out = 4, 4, 4, 4
HwSpec bound_hw() {
  HwSpec hw = hw_spec(Dataflow::kOS, 2, 2);
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 1.0;
  hw.memory.dram_latency_cycles = 0;
  return hw;
}

TEST(Analytical, MemoryBoundDoubleBuffered) {
  const LayerTiming t = time_gemm(bound_hw(), 4, 4, 8);
  // fill 32; fold f: max(10, in[f+1] + out[f-1]): 16, 20, 10, 10; drain 4.
  EXPECT_EQ(t.compute_cycles, 40);
  EXPECT_EQ(t.total_cycles, 32 + 16 + 20 + 10 + 10 + 4);
  EXPECT_EQ(t.stall_cycles, 92 - 40);
  EXPECT_EQ(t.bound, Bound::kMemory);  // 80 bytes need 80 cycles > 40
  HwSpec lat = bound_hw();
  lat.memory.dram_latency_cycles = 5;  // hidden except on the first fill
  EXPECT_EQ(time_gemm(lat, 4, 4, 8).total_cycles, 97);
}

TEST(Analytical, MemoryBoundSingleBuffered) {
  HwSpec hw = bound_hw();
  hw.memory.double_buffer = false;
  // Each fold: load, compute, store in turn: (32+10+4) + (16+10+4) + (16+10+4) + (0+10+4).
  EXPECT_EQ(time_gemm(hw, 4, 4, 8).total_cycles, 120);
  hw.memory.dram_latency_cycles = 5;  // paid by every fold that loads (3 of them)
  EXPECT_EQ(time_gemm(hw, 4, 4, 8).total_cycles, 135);
}

TEST(Analytical, NarrowActivationsCutStallsNotComputeOnAFixedPe) {
  // Same layer with 4-bit activations on the fixed 8-bit PE, packed two per byte:
  // A tiles 8 B, outputs 2 B per fold. in = 24, 8, 16, 0; out = 2 each.
  // fill 24; folds max(10, 8), max(10, 18), max(10, 2), max(10, 2); drain 2.
  const LayerTiming a8 = time_gemm(bound_hw(), 4, 4, 8, 8, 8);
  const LayerTiming a4 = time_gemm(bound_hw(), 4, 4, 8, 8, 4);
  EXPECT_EQ(a4.compute_cycles, a8.compute_cycles);  // fixed PE: no faster MACs
  EXPECT_EQ(a4.total_cycles, 24 + 10 + 18 + 10 + 10 + 2);
  EXPECT_LT(a4.stall_cycles, a8.stall_cycles);
  EXPECT_EQ(a4.dram_read.ifmap * 2, a8.dram_read.ifmap);
  EXPECT_EQ(a4.dram_write.ofmap * 2, a8.dram_write.ofmap);
  // Without packing, narrow values take whole bytes: no gain at all.
  HwSpec unpacked = bound_hw();
  unpacked.memory.pack_narrow = false;
  EXPECT_EQ(time_gemm(unpacked, 4, 4, 8, 8, 4).total_cycles, a8.total_cycles);
}

TEST(Analytical, ChunkingKeepsPartialSumsOnChip) {
  // WS, GEMM M=64 N=2 K=8 on 2x2: 4 row folds (K), 1 column fold. 0.25 KiB
  // buffers: 128 B working halves; 32 partial sums of 4 B fit.
  HwSpec hw = hw_spec(Dataflow::kWS, 2, 2);
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 0.25;
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 4.0;
  hw.mapping.chunking = true;
  // Unchunked: 4 folds x (2*2+2-2 + 64) = 272 cycles, but a column's 64x2
  // partial sums (512 B) keep 75% off chip: 2*3*0.75*512 = 2304 B of spill
  // traffic, ~2960 B in all: ~740 cycles at 4 B/cycle.
  // Chunks of 16 rows (16x2 sums = 128 B fit): 4 chunks x 4 folds x (4 + 16) =
  // 320 cycles and 656 B (A 512, B 16 once -- it stays resident -- Y 128).
  const Schedule s = map_layer({{64, 2, 8, 1}, 0, 8, 8, 8}, hw, "L");
  EXPECT_EQ(s.chunks, 4);
  EXPECT_EQ(s.chunk_len, 16);
  EXPECT_EQ(s.psum_rule, PsumRule::kOnChip);
  const LayerTiming t = time_schedule(s, hw, "L");
  EXPECT_EQ(t.folds, 16);
  EXPECT_EQ(t.compute_cycles, 320);
  EXPECT_EQ(t.dram_read.ifmap, 512);
  EXPECT_EQ(t.dram_read.filter, 16);
  EXPECT_EQ(t.dram_read.ofmap, 0);
  EXPECT_EQ(t.dram_write.ofmap, 128);
  EXPECT_EQ(t.bound, Bound::kCompute);
  // mapping.chunking off (the default): SCALE-Sim's folds whatever the bandwidth,
  // so compute cycles stay SCALE-Sim's and the spilled partial sums stall instead.
  hw.mapping.chunking = false;
  const Schedule off = map_layer({{64, 2, 8, 1}, 0, 8, 8, 8}, hw, "L");
  EXPECT_EQ(off.chunks, 1);
  EXPECT_EQ(off.compute_cycles(), 272);
  EXPECT_EQ(off.psum_rule, PsumRule::kSpill);
  EXPECT_GT(time_schedule(off, hw, "L").stall_cycles, 0);
  // With unlimited bandwidth nothing is gained by chunking: SCALE-Sim's folds.
  hw.mapping.chunking = true;
  hw.memory.dram_unlimited = true;
  const Schedule u = map_layer({{64, 2, 8, 1}, 0, 8, 8, 8}, hw, "L");
  EXPECT_EQ(u.chunks, 1);
  EXPECT_EQ(u.compute_cycles(), 272);
  EXPECT_EQ(u.psum_rule, PsumRule::kSpill);
}

// ---- PE models ----

HwSpec bitfusion_hw(Dataflow df) {
  HwSpec hw = hw_spec(df, 2, 2);
  hw.pe.precision = PeModel::kBitFusion;
  hw.pe.widths = {2, 4, 8};
  return hw;
}

TEST(Analytical, BitFusionFourBitIsFasterThanEightBit) {
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS}) {
    SCOPED_TRACE(dataflow_name(df));
    const HwSpec hw = bitfusion_hw(df);
    const LayerTiming b8 = time_gemm(hw, 16, 16, 64, 8, 8);
    const LayerTiming b4 = time_gemm(hw, 16, 16, 64, 4, 4);
    const LayerTiming b2 = time_gemm(hw, 16, 16, 64, 2, 2);
    EXPECT_LT(b4.compute_cycles, b8.compute_cycles);
    EXPECT_LT(b2.compute_cycles, b4.compute_cycles);
  }
  // OS by hand: w4a4 packs 4 products per PE-cycle: K = 64 streams in 16 steps.
  // folds 8*8 = 64 at 2+2+16-2 = 18 cycles (8-bit: 2+2+64-2 = 66).
  const HwSpec os = bitfusion_hw(Dataflow::kOS);
  EXPECT_EQ(time_gemm(os, 16, 16, 64, 4, 4).compute_cycles, 64 * 18);
  EXPECT_EQ(time_gemm(os, 16, 16, 64, 8, 8).compute_cycles, 64 * 66);
  // Utilisation counts the 4x MAC slots: 16384 MACs / (4 PEs * 4 * 1152 cycles).
  EXPECT_DOUBLE_EQ(time_gemm(os, 16, 16, 64, 4, 4).utilization, 16384.0 / (16.0 * 1152.0));
}

TEST(Analytical, BitSerialCyclesGrowWithBits) {
  HwSpec hw = hw_spec(Dataflow::kOS, 2, 2);
  hw.pe.precision = PeModel::kBitSerial;
  hw.pe.widths = {1, 2, 3, 4, 5, 6, 7, 8};
  hw.pe.serial = SerialOperand::kActivation;
  // 4 folds of 2+2-2 + 8 steps * abits cycles.
  EXPECT_EQ(time_gemm(hw, 4, 4, 8, 8, 4).compute_cycles, 4 * (2 + 8 * 4));
  EXPECT_EQ(time_gemm(hw, 4, 4, 8, 2, 4).compute_cycles, 4 * (2 + 8 * 4));  // weights parallel
  EXPECT_EQ(time_gemm(hw, 4, 4, 8, 8, 1).compute_cycles, 4 * (2 + 8 * 1));
  hw.pe.serial = SerialOperand::kBoth;
  EXPECT_EQ(time_gemm(hw, 4, 4, 8, 2, 4).compute_cycles, 4 * (2 + 8 * 8));
}

TEST(Analytical, FixedPeGainsNothingFromNarrowOperands) {
  HwSpec hw = hw_spec(Dataflow::kWS, 2, 2);
  hw.energy.mac_pj = {{8, 0.25}};
  const LayerTiming a = time_gemm(hw, 16, 16, 64, 8, 8);
  const LayerTiming b = time_gemm(hw, 16, 16, 64, 2, 2);
  EXPECT_EQ(a.compute_cycles, b.compute_cycles);
  EXPECT_DOUBLE_EQ(a.energy.mac, b.energy.mac);  // runs at 8x8
}

// ---- energy ----

TEST(Analytical, EnergyByHand) {
  HwSpec hw = hw_spec(Dataflow::kOS, 2, 2);
  hw.energy.mac_pj = {{8, 0.25}};
  hw.energy.sram_read_pj_per_byte = 1.0;
  hw.energy.sram_write_pj_per_byte = 2.0;
  hw.energy.dram_pj_per_byte = 10.0;
  hw.energy.vector_op_pj = 3.0;
  const LayerTiming t = time_gemm(hw, 4, 4, 8);
  // 128 MACs x 0.25. SRAM reads: A 32*2 + B 32*2 + drains 16 = 144 B; writes:
  // fills 32 + 32 + outputs 16 = 80 B. DRAM: 32 + 32 + 16 = 80 B.
  EXPECT_DOUBLE_EQ(t.energy.mac, 32.0);
  EXPECT_DOUBLE_EQ(t.energy.sram, 144.0 * 1.0 + 80.0 * 2.0);
  EXPECT_DOUBLE_EQ(t.energy.dram, 800.0);
  EXPECT_DOUBLE_EQ(t.energy.vector, 0.0);
  EXPECT_DOUBLE_EQ(t.energy_pj(), 1136.0);

  // Mixed pair: w4 x a8 = sqrt(mac_pj[4] * mac_pj[8]) unless the pair is given.
  HwSpec bf = bitfusion_hw(Dataflow::kOS);
  bf.energy.mac_pj = {{2, 0.01}, {4, 0.09}, {8, 0.25}};
  EXPECT_NEAR(time_gemm(bf, 4, 4, 8, 4, 8).energy.mac, 128 * 0.15, 1e-12);
  bf.energy.mac_pj_pair[{4, 8}] = 0.2;
  EXPECT_NEAR(time_gemm(bf, 4, 4, 8, 4, 8).energy.mac, 128 * 0.2, 1e-12);
  // A needed width without an entry is an error naming the layer.
  bf.energy.mac_pj = {{8, 0.25}};
  bf.energy.mac_pj_pair.clear();
  EXPECT_THROW(time_gemm(bf, 4, 4, 8, 2, 2), Error);
}

// ---- the closed form equals a brute-force walk of every fold ----

struct Walked {
  int64_t compute = 0;
  int64_t total = 0;
  OperandBytes sram_read, sram_write, dram_read, dram_write;
};

// The timing rules of docs/timing-model.md, applied fold by fold.
Walked walk(const Schedule& s, const HwSpec& hw) {
  std::vector<FoldStep> f;
  s.for_each_fold([&](const FoldStep& x) { f.push_back(x); });
  const int64_t F = static_cast<int64_t>(f.size());
  const double bw = hw.memory.dram_bytes_per_cycle;
  const int64_t L = hw.memory.dram_latency_cycles;
  auto x = [&](int64_t b) { return dram_transfer_cycles(b, bw); };
  Walked w;
  for (int64_t i = 0; i < F; ++i) {
    const FoldStep& k = f[static_cast<std::size_t>(i)];
    const int64_t c = k.cycles;
    w.compute += c;
    w.sram_read.ifmap += k.ifmap_sram_read;
    w.sram_read.filter += k.filter_sram_read;
    w.sram_read.ofmap += k.psum_sram_read + k.dram_out();
    w.sram_write.ifmap += k.ifmap_dram_in;
    w.sram_write.filter += k.filter_dram_in;
    w.sram_write.ofmap += k.ofmap_sram_write + k.psum_dram_in;
    w.dram_read.ifmap += k.ifmap_dram_in;
    w.dram_read.filter += k.filter_dram_in;
    w.dram_read.ofmap += k.psum_dram_in;
    w.dram_write.ofmap += k.dram_out();
    if (hw.memory.dram_unlimited) {
      w.total += c;
    } else if (hw.memory.double_buffer) {
      const int64_t in_next = i + 1 < F ? f[static_cast<std::size_t>(i + 1)].dram_in() : 0;
      const int64_t out_prev = i > 0 ? f[static_cast<std::size_t>(i - 1)].dram_out() : 0;
      w.total += std::max(c, x(in_next + out_prev));
    } else {
      w.total += (k.dram_in() > 0 ? L : 0) + x(k.dram_in()) + c + x(k.dram_out());
    }
  }
  if (!hw.memory.dram_unlimited && hw.memory.double_buffer)
    w.total += (f.front().dram_in() > 0 ? L : 0) + x(f.front().dram_in()) + x(f.back().dram_out());
  return w;
}

TEST(Analytical, ClosedFormEqualsFoldByFoldWalk) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int bits[] = {2, 4, 8};
  int chunked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    HwSpec hw = hw_spec(static_cast<Dataflow>(pick(0, 2)), pick(1, 5), pick(1, 5));
    hw.pe.precision = static_cast<PeModel>(pick(0, 2));
    hw.pe.widths = hw.pe.precision == PeModel::kFixed ? std::vector<int>{8} : std::vector<int>{2, 4, 8};
    hw.pe.serial = pick(0, 1) ? SerialOperand::kActivation : SerialOperand::kBoth;
    const double kib[] = {0.02, 0.05, 0.2, 2.0};
    hw.memory.ifmap_kib = kib[pick(0, 3)];
    hw.memory.filter_kib = kib[pick(0, 3)];
    hw.memory.ofmap_kib = kib[pick(0, 3)];
    hw.memory.double_buffer = pick(0, 1);
    hw.memory.dram_unlimited = pick(0, 4) == 0;
    const double bws[] = {0.5, 1.0, 3.0, 7.5};
    hw.memory.dram_bytes_per_cycle = bws[pick(0, 3)];
    hw.memory.dram_latency_cycles = pick(0, 1) * 13;
    hw.memory.word_bits = pick(0, 1) ? 8 : 16;
    hw.memory.pack_narrow = pick(0, 1);
    hw.mapping.chunking = pick(0, 3) != 0;
    const GemmView g{pick(1, 30), pick(1, 30), pick(1, 30), pick(1, 4)};
    const int64_t unique = pick(0, 1) ? 0 : std::max<int64_t>(1, g.M * g.K * g.repeats / pick(1, 9));
    const int w = bits[pick(0, 2)], a = bits[pick(0, 2)];
    SCOPED_TRACE(::testing::Message() << "trial " << trial);
    const Schedule s = map_with_fitting_buffers({g, unique, w, a, bits[pick(0, 2)]}, hw);
    const LayerTiming t = time_schedule(s, hw, "L");
    const Walked ref = walk(s, hw);
    EXPECT_EQ(FoldWalk(s, hw.memory).total_cycles(), ref.total);
    EXPECT_EQ(t.compute_cycles, ref.compute);
    EXPECT_EQ(t.total_cycles, ref.total);
    EXPECT_EQ(t.compute_cycles + t.stall_cycles, ref.total);
    chunked += s.chunks > 1 ? 1 : 0;
    for (auto [got, want] : {std::pair{t.sram_read, ref.sram_read}, std::pair{t.sram_write, ref.sram_write},
                             std::pair{t.dram_read, ref.dram_read}, std::pair{t.dram_write, ref.dram_write}}) {
      EXPECT_EQ(got.ifmap, want.ifmap);
      EXPECT_EQ(got.filter, want.filter);
      EXPECT_EQ(got.ofmap, want.ofmap);
    }
  }
  EXPECT_GT(chunked, 10);  // the chunked schedules were exercised too
}

// ---- graph level: requantization and vector-unit rows ----

std::vector<LayerPrecision> widths(std::initializer_list<std::pair<int, int>> wa) {
  std::vector<LayerPrecision> p;
  for (auto [w, a] : wa) p.push_back({w, a, false});
  return p;
}

HwSpec graph_hw() {
  HwSpec hw = bitfusion_hw(Dataflow::kOS);
  hw.energy.mac_pj = {{2, 0.01}, {4, 0.05}, {8, 0.2}};
  hw.energy.dram_pj_per_byte = 10.0;
  hw.energy.vector_op_pj = 3.0;
  hw.vector.lanes = 8;
  return hw;
}

TEST(AnalyticalGraph, RequantizationIsChargedWherePrecisionChanges) {
  // x(1x2x4x4) -> conv1 -> h(1x4x4x4) -> conv2 -> y
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 2, 4, 4});
  const ValueId h = b.conv1x1("conv1", x, 4);
  const ValueId y = b.conv1x1("conv2", h, 4);
  b.g.set_inputs({x});
  b.g.set_outputs({y});
  b.g.finalize();
  const HwSpec hw = graph_hw();
  const AnalyticalBackend be;

  const TimingReport same = be.run(b.g, widths({{8, 8}, {8, 8}}), hw);
  EXPECT_EQ(same.requant_boundaries(), 0);
  EXPECT_EQ(same.layers.size(), 2u);

  // conv1 writes h at 8 bits; conv2 reads 4-bit activations: one requantization
  // pass over h's 64 elements on 8 lanes = 8 cycles, reading 64 B and writing
  // 32 B, 64 vector ops at 3 pJ, 96 DRAM bytes at 10 pJ.
  const TimingReport mixed = be.run(b.g, widths({{8, 8}, {4, 4}}), hw);
  ASSERT_EQ(mixed.layers.size(), 3u);
  EXPECT_EQ(mixed.requant_boundaries(), 1);
  const LayerTiming& r = mixed.layers[1];
  EXPECT_EQ(r.name, "conv2.requant");
  EXPECT_EQ(r.op, "Requantize");
  EXPECT_FALSE(r.is_compute);
  EXPECT_TRUE(r.requant);
  EXPECT_EQ(r.wbits, 8);  // read width
  EXPECT_EQ(r.abits, 4);  // written width
  EXPECT_EQ(r.vector_ops, 64);
  EXPECT_EQ(r.vector_cycles, 8);
  EXPECT_EQ(r.total_cycles, 8);
  EXPECT_EQ(r.dram_read.ifmap, 64);
  EXPECT_EQ(r.dram_write.ofmap, 32);
  EXPECT_DOUBLE_EQ(r.energy.vector, 192.0);
  EXPECT_DOUBLE_EQ(r.energy.dram, 960.0);
  EXPECT_EQ(mixed.layers[2].name, "conv2");
  EXPECT_EQ(mixed.layers[2].dram_read.ifmap, 32);  // conv2 reads the 4-bit copy
  EXPECT_EQ(mixed.vector_cycles(), 8);

  // A finite link: 96 B at 4 B/cycle = 24 cycles (+10 latency) against 8 cycles of work.
  HwSpec slow = hw;
  slow.memory.dram_unlimited = false;
  slow.memory.dram_bytes_per_cycle = 4.0;
  slow.memory.dram_latency_cycles = 10;
  const LayerTiming rs = be.run(b.g, widths({{8, 8}, {4, 4}}), slow).layers[1];
  EXPECT_EQ(rs.total_cycles, 10 + 24);
  EXPECT_EQ(rs.stall_cycles, 26);
  EXPECT_EQ(rs.bound, Bound::kMemory);

  // Weights alone changing width is no activation boundary.
  EXPECT_EQ(be.run(b.g, widths({{8, 8}, {2, 8}}), hw).requant_boundaries(), 0);
}

TEST(AnalyticalGraph, OneRequantizationPerTensorAndWidth) {
  // h feeds three convolutions: two at 4 bits share one conversion; the 2-bit one needs its own.
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 2, 4, 4});
  const ValueId h = b.conv1x1("c0", x, 4);
  const ValueId y1 = b.conv1x1("c1", h, 4);
  const ValueId y2 = b.conv1x1("c2", h, 4);
  const ValueId y3 = b.conv1x1("c3", h, 4);
  b.g.set_inputs({x});
  b.g.set_outputs({y1, y2, y3});
  b.g.finalize();
  const TimingReport rep = AnalyticalBackend().run(b.g, widths({{8, 8}, {4, 4}, {4, 4}, {2, 2}}), graph_hw());
  EXPECT_EQ(rep.requant_boundaries(), 2);
  EXPECT_EQ(rep.layers.size(), 6u);
}

TEST(AnalyticalGraph, StandaloneOpsRunOnTheVectorUnit) {
  // x -> conv1 -> h -> MaxPool 2x2/2 -> p(1x4x2x2) -> conv2 -> q ; Add(q, q2) with q2 = conv3(p)
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 2, 4, 4});
  const ValueId h = b.conv1x1("conv1", x, 4);
  const ValueId p = b.op("pool", OpKind::kMaxPool, {h}, {1, 4, 2, 2},
                         PoolAttrs{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, false, false, 0});
  const ValueId q = b.conv1x1("conv2", p, 4);
  const ValueId q2 = b.conv1x1("conv3", p, 4);
  const ValueId s = b.op("add", OpKind::kAdd, {q, q2}, {1, 4, 2, 2});
  const ValueId f = b.op("flat", OpKind::kFlatten, {s}, {1, 16});
  b.g.set_inputs({x});
  b.g.set_outputs({f});
  b.g.finalize();
  HwSpec hw = graph_hw();
  const AnalyticalBackend be;
  const auto prec = widths({{8, 8}, {8, 8}, {8, 8}});

  const TimingReport fused = be.run(b.g, prec, hw);
  // conv1, pool, conv2, conv3: the Add rides in conv3's output stage, Flatten is a view.
  ASSERT_EQ(fused.layers.size(), 4u);
  const LayerTiming& pool = fused.layers[1];
  EXPECT_EQ(pool.name, "pool");
  EXPECT_EQ(pool.op, "MaxPool");
  EXPECT_FALSE(pool.is_compute);
  EXPECT_FALSE(pool.requant);
  // 16 outputs x 4-element windows = 64 ops on 8 lanes; reads h (64 B), writes p (16 B).
  EXPECT_EQ(pool.vector_ops, 64);
  EXPECT_EQ(pool.vector_cycles, 8);
  EXPECT_EQ(pool.dram_read.ifmap, 64);
  EXPECT_EQ(pool.dram_write.ofmap, 16);
  EXPECT_DOUBLE_EQ(pool.energy.vector, 64 * 3.0);
  EXPECT_EQ(fused.requant_boundaries(), 0);

  hw.vector.fuse_elementwise = false;
  const TimingReport unfused = be.run(b.g, prec, hw);
  ASSERT_EQ(unfused.layers.size(), 5u);
  const LayerTiming& add = unfused.layers[4];
  EXPECT_EQ(add.name, "add");
  EXPECT_EQ(add.vector_ops, 16);
  EXPECT_EQ(add.vector_cycles, 2);
  EXPECT_EQ(add.dram_read.ifmap, 32);  // both inputs
  EXPECT_EQ(add.dram_write.ofmap, 16);

  // Any vector work needs lanes.
  hw.vector.lanes = 0;
  try {
    be.run(b.g, prec, hw);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vector.lanes"), std::string::npos) << e.what();
  }
}

TEST(AnalyticalGraph, BadInputIsAnError) {
  LayerGraph g = import_scalesim_topology_text("Layer,M,N,K,\nG,8,8,8,\n", "t.csv");
  const AnalyticalBackend be;
  HwSpec hw = graph_hw();
  EXPECT_THROW(be.run(g, widths({}), hw), Error);  // one entry per compute layer
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 0.0;
  EXPECT_THROW(be.run(g, widths({{8, 8}}), hw), Error);
  hw = graph_hw();
  try {
    be.run(g, widths({{16, 8}}), hw);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'G'"), std::string::npos) << e.what();
  }
}

TEST(AnalyticalGraph, MemoryBoundLayerGainsFromNarrowActivationsThroughTraffic) {
  // A fully-connected layer on a narrow link: 256x256 weights, batch 64, on an
  // 8x8 OS fixed array with 4 KiB buffers and 2 B/cycle.
  LayerGraph g = import_scalesim_topology_text("Layer,M,N,K,\nFC,64,256,256,\n", "fc.csv");
  HwSpec hw = hw_spec(Dataflow::kOS, 8, 8);
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 4.0;
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 2.0;
  const AnalyticalBackend be;
  const LayerTiming a8 = be.run(g, widths({{8, 8}}), hw).layers[0];
  const LayerTiming a4 = be.run(g, widths({{8, 4}}), hw).layers[0];
  EXPECT_EQ(a8.bound, Bound::kMemory);
  EXPECT_EQ(a4.compute_cycles, a8.compute_cycles);
  EXPECT_LT(a4.stall_cycles, a8.stall_cycles);
  EXPECT_LT(a4.dram_bytes(), a8.dram_bytes());
}

}  // namespace
}  // namespace qsim
