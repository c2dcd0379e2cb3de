// The SystemC backend end to end on small networks: compute cycles equal the
// analytical model's on every layer, traffic equals the plan's, total cycles agree
// (exactly single-buffered; within the documented effects double-buffered), values
// are the exact wrapped products, and one elaborated model runs many layers and
// networks, also from several threads.
#include "sim/systemc/systemc_backend.h"

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "arith/int_arith.h"
#include "graph/scalesim_topology.h"
#include "sim/mapping.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/systemc/cross_check.h"
#include "tests/sim/graph_builder.h"
#include "tests/systemc/vector_test_util.h"

namespace qsim {
namespace {

HwSpec hw_of(Dataflow df, int64_t rows, int64_t cols) {
  HwSpec hw;
  hw.name = std::string(8, 't');
  hw.source = hw.name + ".yaml";
  hw.array = {rows, cols, df, 100.0};
  hw.pe.precision = PeModel::kFixed;
  hw.pe.widths = {8};
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 1;
  hw.memory.dram_unlimited = true;
  hw.vector.lanes = cols;
  hw.energy = default_energy_spec(hw.pe);
  return hw;
}

LayerGraph gemms() {
  return import_scalesim_topology_text("Layer,M,N,K,\nG4,4,4,4,\nG8,8,8,8,\nG10,10,6,7,\nG33,33,17,45,\n", "g.csv");
}

LayerGraph convs() {
  return import_scalesim_topology_text(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "C1,12,12,3,3,3,8,1,\nC2,10,10,3,3,8,16,2,\nC3DP,6,6,3,3,4,4,1,\n",
      "c.csv");
}

std::vector<LayerPrecision> uniform(const LayerGraph& g, int w, int a) {
  return std::vector<LayerPrecision>(g.compute_layers().size(), LayerPrecision{w, a, false});
}

void expect_same_bytes(const OperandBytes& s, const OperandBytes& a, std::string_view what, const std::string& row) {
  EXPECT_EQ(s.ifmap, a.ifmap) << row << " " << what << " ifmap";
  EXPECT_EQ(s.filter, a.filter) << row << " " << what << " filter";
  EXPECT_EQ(s.ofmap, a.ofmap) << row << " " << what << " ofmap";
}

void expect_same_traffic(const LayerTiming& s, const LayerTiming& a) {
  expect_same_bytes(s.sram_read, a.sram_read, "SRAM read", s.name);
  expect_same_bytes(s.sram_write, a.sram_write, "SRAM write", s.name);
  expect_same_bytes(s.dram_read, a.dram_read, "DRAM read", s.name);
  expect_same_bytes(s.dram_write, a.dram_write, "DRAM write", s.name);
}

TEST(SystemcBackend, UnlimitedBandwidthGivesTheAnalyticalCyclesOnEveryDataflow) {
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (const LayerGraph& g : {gemms(), convs()}) {
      const HwSpec hw = hw_of(df, 4, 4);
      const auto p = uniform(g, 8, 8);
      const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
      const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
      ASSERT_EQ(s.layers.size(), a.layers.size());
      for (std::size_t i = 0; i < a.layers.size(); ++i) {
        EXPECT_EQ(s.layers[i].compute_cycles, a.layers[i].compute_cycles) << a.layers[i].name;
        EXPECT_EQ(s.layers[i].total_cycles, a.layers[i].total_cycles) << a.layers[i].name;
        expect_same_traffic(s.layers[i], a.layers[i]);
      }
      EXPECT_EQ(s.backend, "systemc");
    }
}

TEST(SystemcBackend, SingleBufferedTimingIsTheAnalyticalSum) {
  std::mt19937 rng(3);
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (int iter = 0; iter < 6; ++iter) {
      HwSpec hw = hw_of(df, 2 + static_cast<int64_t>(rng() % 5), 2 + static_cast<int64_t>(rng() % 5));
      hw.memory.dram_unlimited = false;
      hw.memory.double_buffer = false;
      hw.memory.dram_bytes_per_cycle = 1 + static_cast<double>(rng() % 8);
      hw.memory.dram_latency_cycles = static_cast<int64_t>(rng() % 20);
      for (const LayerGraph& g : {gemms(), convs()}) {
        const auto p = uniform(g, 8, 8);
        const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
        const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
        for (std::size_t i = 0; i < a.layers.size(); ++i) {
          EXPECT_EQ(s.layers[i].compute_cycles, a.layers[i].compute_cycles) << a.layers[i].name;
          EXPECT_EQ(s.layers[i].total_cycles, a.layers[i].total_cycles) << a.layers[i].name;
          expect_same_traffic(s.layers[i], a.layers[i]);
        }
      }
    }
}

// With DRAM latency the channel hides it behind the transfers ahead (reads are
// issued a fold early); it shows only where a fold is shorter than the latency and
// the channel ran dry.
TEST(SystemcBackend, DoubleBufferedLatencyIsHiddenBehindLongFolds) {
  std::mt19937 rng(7);
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (int iter = 0; iter < 8; ++iter) {
      HwSpec hw = hw_of(df, 2 + static_cast<int64_t>(rng() % 5), 2 + static_cast<int64_t>(rng() % 5));
      hw.memory.dram_unlimited = false;
      hw.memory.dram_bytes_per_cycle = 1 + static_cast<double>(rng() % 8);
      hw.memory.dram_latency_cycles = 1 + static_cast<int64_t>(rng() % 40);
      for (const LayerGraph& g : {gemms(), convs()}) {
        const auto p = uniform(g, 8, 8);
        const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
        const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
        for (std::size_t i = 0; i < a.layers.size(); ++i) {
          const LayerTiming &x = s.layers[i], &y = a.layers[i];
          EXPECT_EQ(x.compute_cycles, y.compute_cycles);
          const Schedule sch = map_layer({g.stats(g.compute_layers()[i]).gemm, 0, 8, 8, 8}, hw, "L");
          const int64_t exposed = std::max<int64_t>(0, hw.memory.dram_latency_cycles - sch.fold_cycles);
          EXPECT_LE(x.total_cycles, y.total_cycles + exposed * y.folds) << y.name;
          EXPECT_GE(x.total_cycles, y.total_cycles - y.folds) << y.name;
          if (exposed == 0) {
            EXPECT_LE(x.total_cycles, y.total_cycles) << y.name << " " << dataflow_name(df);
          }
        }
      }
    }
}

TEST(SystemcBackend, DoubleBufferedTimingStaysCloseToTheAnalyticalSum) {
  std::mt19937 rng(5);
  double worst = 0;
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (int iter = 0; iter < 8; ++iter) {
      HwSpec hw = hw_of(df, 2 + static_cast<int64_t>(rng() % 5), 2 + static_cast<int64_t>(rng() % 5));
      hw.memory.dram_unlimited = false;
      hw.memory.dram_bytes_per_cycle = 1 + static_cast<double>(rng() % 8);
      for (const LayerGraph& g : {gemms(), convs()}) {
        const auto p = uniform(g, 8, 8);
        const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
        const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
        for (std::size_t i = 0; i < a.layers.size(); ++i) {
          EXPECT_EQ(s.layers[i].compute_cycles, a.layers[i].compute_cycles) << a.layers[i].name;
          expect_same_traffic(s.layers[i], a.layers[i]);
          // The channel carries fractional bytes across requests where the analytical
          // model rounds each fold's batch up: never slower, at most a cycle per fold faster.
          EXPECT_LE(s.layers[i].total_cycles, a.layers[i].total_cycles)
              << a.layers[i].name << " " << dataflow_name(df) << " " << hw.array.rows << "x" << hw.array.cols << " bw "
              << hw.memory.dram_bytes_per_cycle;
          EXPECT_GE(s.layers[i].total_cycles, a.layers[i].total_cycles - a.layers[i].folds)
              << a.layers[i].name << " " << dataflow_name(df) << " " << hw.array.rows << "x" << hw.array.cols << " bw "
              << hw.memory.dram_bytes_per_cycle;
          worst = std::max(worst, 1.0 - static_cast<double>(s.layers[i].total_cycles) / a.layers[i].total_cycles);
        }
      }
    }
  RecordProperty("worst_relative_difference", std::to_string(worst));
}

// The model is elaborated once; layers and networks follow each other on it, and
// concurrent callers are serialised.
TEST(SystemcBackend, OneModelRunsManyNetworksAlsoFromSeveralThreads) {
  HwSpec hw = hw_of(Dataflow::kWS, 4, 3);
  hw.memory.dram_unlimited = false;
  hw.memory.dram_bytes_per_cycle = 3;
  hw.memory.dram_latency_cycles = 7;
  const LayerGraph g = convs();
  const auto p = uniform(g, 8, 8);
  const SystemcBackend backend;
  const TimingReport first = backend.run(g, std::span<const LayerPrecision>(p), hw);
  TimingReport r1, r2;
  std::thread t1([&] { r1 = backend.run(g, std::span<const LayerPrecision>(p), hw); });
  std::thread t2([&] { r2 = backend.run(g, std::span<const LayerPrecision>(p), hw); });
  t1.join();
  t2.join();
  for (const TimingReport* r : {&r1, &r2}) {
    ASSERT_EQ(r->layers.size(), first.layers.size());
    for (std::size_t i = 0; i < first.layers.size(); ++i)
      EXPECT_EQ(r->layers[i].total_cycles, first.layers[i].total_cycles);
  }
}

// Real operands: the accumulators are the exact products wrapped to acc_bits.
class Collect : public LayerValueSource {
 public:
  std::vector<GemmValues> in;
  std::vector<std::vector<int64_t>> out;
  const GemmValues* operands(std::size_t i) override { return &in[i]; }
  void accumulators(std::size_t i, std::span<const int64_t> y) override { out[i].assign(y.begin(), y.end()); }
};

TEST(SystemcBackend, ComputesExactAccumulators) {
  std::mt19937 rng(9);
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS}) {
    HwSpec hw = hw_of(df, 3, 5);
    hw.pe.precision = PeModel::kBitFusion;
    hw.pe.widths = {2, 4, 8};
    hw.pe.acc_bits = 20;
    hw.energy = default_energy_spec(hw.pe);
    const LayerGraph g = convs();
    const auto p = uniform(g, 4, 4);
    Collect c;
    for (NodeId id : g.compute_layers()) {
      const GemmView gv = g.stats(id).gemm;
      GemmValues v;
      v.a_signed = false;
      for (int64_t i = 0; i < gv.repeats * gv.M * gv.K; ++i) v.a.push_back(static_cast<int32_t>(rng() % 16));
      for (int64_t i = 0; i < gv.repeats * gv.K * gv.N; ++i) v.b.push_back(static_cast<int32_t>(rng() % 16) - 8);
      c.in.push_back(std::move(v));
    }
    c.out.resize(c.in.size());
    SystemcOptions o;
    o.values = &c;
    SystemcBackend(o).run(g, std::span<const LayerPrecision>(p), hw);
    for (std::size_t l = 0; l < c.in.size(); ++l) {
      const GemmView gv = g.stats(g.compute_layers()[l]).gemm;
      const GemmValues& v = c.in[l];
      ASSERT_EQ(static_cast<int64_t>(c.out[l].size()), gv.repeats * gv.M * gv.N);
      for (int64_t r = 0; r < gv.repeats; ++r)
        for (int64_t m = 0; m < gv.M; ++m)
          for (int64_t n = 0; n < gv.N; ++n) {
            int64_t want = 0;
            for (int64_t k = 0; k < gv.K; ++k)
              want += static_cast<int64_t>(v.a[static_cast<std::size_t>((r * gv.M + m) * gv.K + k)]) *
                      v.b[static_cast<std::size_t>((r * gv.K + k) * gv.N + n)];
            ASSERT_EQ(c.out[l][static_cast<std::size_t>((r * gv.M + m) * gv.N + n)], intarith::wrap(want, 20))
                << dataflow_name(df) << " layer " << l;
          }
    }
  }
}

}  // namespace
}  // namespace qsim

namespace qsim {
namespace {

// The whole backend both ways: fast-forwarding the steady streams changes neither the
// reports nor the accumulators, only how many cycles are stepped one by one.
TEST(SystemcBackend, FastForwardChangesNothingButTheWork) {
  std::mt19937 rng(11);
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS}) {
    HwSpec hw = hw_of(df, 4, 3);
    hw.memory.dram_unlimited = false;
    hw.memory.dram_bytes_per_cycle = 2.5;
    hw.memory.dram_latency_cycles = 9;
    const LayerGraph g = convs();
    const auto p = uniform(g, 8, 8);
    Collect c[2];
    for (Collect& x : c) {
      for (NodeId id : g.compute_layers()) {
        const GemmView gv = g.stats(id).gemm;
        GemmValues v;
        for (int64_t i = 0; i < gv.repeats * gv.M * gv.K; ++i) v.a.push_back(static_cast<int32_t>(rng() % 256));
        for (int64_t i = 0; i < gv.repeats * gv.K * gv.N; ++i) v.b.push_back(static_cast<int32_t>(rng() % 255) - 127);
        x.in.push_back(std::move(v));
      }
      x.out.resize(x.in.size());
    }
    c[1].in = c[0].in;
    TimingReport r[2];
    SystemcStats st[2];
    for (int ff = 0; ff < 2; ++ff) {
      SystemcOptions o;
      o.values = &c[ff];
      o.fast_forward = ff == 1;
      const SystemcBackend b(o);
      r[ff] = b.run(g, std::span<const LayerPrecision>(p), hw);
      st[ff] = b.last_stats();
    }
    ASSERT_EQ(r[0].layers.size(), r[1].layers.size());
    for (std::size_t i = 0; i < r[0].layers.size(); ++i) {
      EXPECT_EQ(r[0].layers[i].compute_cycles, r[1].layers[i].compute_cycles);
      EXPECT_EQ(r[0].layers[i].total_cycles, r[1].layers[i].total_cycles);
    }
    EXPECT_EQ(c[0].out, c[1].out);
    EXPECT_EQ(st[0].forwarded_cycles, 0);
    EXPECT_GT(st[1].forwarded_cycles, 0);
    EXPECT_EQ(st[0].stepped_cycles, st[1].stepped_cycles + st[1].forwarded_cycles);
  }
}

// memory.banks: with one bank the port is as wide as the edge and never conflicts;
// with more, a cycle's accesses crowding one bank stall the array (stalls, not
// compute), and traffic and values stay the same.
TEST(SystemcBackend, BankConflictsStallTheArray) {
  const LayerGraph g = gemms();
  const auto p = uniform(g, 8, 8);
  HwSpec hw = hw_of(Dataflow::kOS, 4, 4);
  const TimingReport one = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
  hw.memory.banks = 4;
  const SystemcBackend b;
  const TimingReport four = b.run(g, std::span<const LayerPrecision>(p), hw);
  EXPECT_GT(b.last_stats().conflict_cycles, 0);
  int64_t extra = 0;
  for (std::size_t i = 0; i < one.layers.size(); ++i) {
    EXPECT_EQ(four.layers[i].compute_cycles, one.layers[i].compute_cycles);
    EXPECT_GE(four.layers[i].total_cycles, one.layers[i].total_cycles);
    EXPECT_EQ(four.layers[i].stall_cycles - one.layers[i].stall_cycles,
              four.layers[i].total_cycles - one.layers[i].total_cycles);
    expect_same_traffic(four.layers[i], one.layers[i]);
    extra += four.layers[i].total_cycles - one.layers[i].total_cycles;
  }
  EXPECT_EQ(extra, b.last_stats().conflict_cycles);
}

// x -> conv1 -> h -> MaxPool 2x2/2 -> p -> conv2 (4 bits: p is requantized) -> q
LayerGraph pool_net() {
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 8, 16, 16});
  const ValueId h = b.conv1x1("conv1", x, 16);
  const ValueId p = b.op("pool", OpKind::kMaxPool, {h}, {1, 16, 8, 8},
                         PoolAttrs{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, false, false, 0});
  const ValueId q = b.conv1x1("conv2", p, 8);
  b.g.set_inputs({x});
  b.g.set_outputs({q});
  b.g.finalize();
  return std::move(b.g);
}

// The Program's Requantize and Vector steps run on the vector unit, between the
// compute steps: rows measured by the simulation (tests/systemc/vector_unit_test.cpp
// has the steps alone).
TEST(SystemcBackend, RequantizeAndVectorRowsComeFromTheSimulation) {
  const LayerGraph g = pool_net();
  const std::vector<LayerPrecision> p = {{8, 8, false}, {4, 4, false}};
  for (Mode mode : {Mode::kDoubleBuffer, Mode::kSerial, Mode::kUnlimited})
    for (int64_t latency : {0, 40}) {
      HwSpec hw = vector_hw(8, mode, 4.0, latency, 4.0);
      hw.pe.precision = PeModel::kBitFusion;
      hw.pe.widths = {2, 4, 8};
      hw.memory.pack_narrow = true;
      hw.energy = default_energy_spec(hw.pe);
      const TimingReport a = AnalyticalBackend().run(g, p, hw);
      SystemcBackend be;
      const TimingReport s = be.run(g, p, hw);
      ASSERT_EQ(s.layers.size(), 4u);  // conv1, pool, conv2.requant, conv2
      EXPECT_EQ(be.last_stats().vector_steps, 2);
      const CrossCheck c = cross_check(a, s);
      EXPECT_EQ(c.compute_mismatches, 0);
      int vector_rows = 0;
      for (std::size_t i = 0; i < s.layers.size(); ++i) {
        const LayerTiming &x = s.layers[i], &y = a.layers[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.op, y.op);
        if (x.is_compute) {
          EXPECT_EQ(x.compute_cycles, y.compute_cycles) << x.name;
          continue;
        }
        ++vector_rows;
        EXPECT_EQ(x.requant, y.requant) << x.name;
        EXPECT_EQ(x.vector_ops, y.vector_ops) << x.name;
        EXPECT_EQ(x.vector_cycles, y.vector_cycles) << x.name;
        EXPECT_EQ(x.total_cycles, x.vector_cycles + x.stall_cycles) << x.name;
        EXPECT_EQ(x.dram_read.ifmap, y.dram_read.ifmap) << x.name;
        EXPECT_EQ(x.dram_write.ofmap, y.dram_write.ofmap) << x.name;
        EXPECT_DOUBLE_EQ(x.energy.vector, y.energy.vector) << x.name;
        EXPECT_DOUBLE_EQ(x.energy.dram, y.energy.dram) << x.name;
        EXPECT_GE(x.total_cycles, y.total_cycles) << x.name;
        const VectorWork w{y.vector_ops, y.dram_read.ifmap, y.dram_write.ofmap};
        EXPECT_LE(x.total_cycles, y.total_cycles + vector_step_bound(VectorStream(w, 8, hw.memory), hw)) << x.name;
        if (mode == Mode::kUnlimited) {
          EXPECT_EQ(x.total_cycles, y.total_cycles) << x.name;
        }
      }
      EXPECT_EQ(vector_rows, 2);
      // --layers: a vector row alone.
      SystemcOptions o;
      o.select = [](std::string_view row) { return row == "pool"; };
      const TimingReport only = SystemcBackend(o).run(g, p, hw);
      ASSERT_EQ(only.layers.size(), 1u);
      EXPECT_EQ(only.layers[0].total_cycles, s.layers[1].total_cycles);
    }
}

}  // namespace
}  // namespace qsim
