// The rtl timing backend (sim/rtl/rtl_backend.h) on SCALE-Sim topologies: compute
// cycles equal the analytical backend's on every dataflow, the models it picks and
// refuses, and the run-time estimate behind the "more than a minute" notice.
#include "sim/rtl/rtl_backend.h"

#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/scalesim_topology.h"
#include "sim/analytical/analytical_backend.h"

namespace qsim {
namespace {

const char* kTopology =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
    "conv1,10,10,3,3,3,20,1,\n"
    "conv2,8,8,3,3,20,9,2,\n";

HwSpec hw(Dataflow df, int64_t rows, int64_t cols, PeModel pe) {
  HwSpec h;
  h.name = std::string("t");  // (assigning the literal itself trips GCC 12's false -Wrestrict)
  h.source = std::string("t.yaml");
  h.array = {rows, cols, df, 200.0};
  h.pe.precision = pe;
  h.pe.widths = pe == PeModel::kFixed ? std::vector<int>{8} : std::vector<int>{2, 4, 8};
  h.memory.ifmap_kib = h.memory.filter_kib = h.memory.ofmap_kib = 64;
  h.memory.dram_unlimited = true;
  h.energy = default_energy_spec(h.pe);
  h.vector.lanes = cols;
  return h;
}

TEST(RtlBackend, ComputeCyclesEqualTheAnalyticalOnes) {
  const LayerGraph g = import_scalesim_topology_text(kTopology, "t.csv");
  for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS})
    for (PeModel pe : {PeModel::kFixed, PeModel::kBitFusion})
      for (int bits : {8, 2}) {
        if (pe == PeModel::kFixed && bits != 8) continue;
        const HwSpec h = hw(df, 7, 5, pe);
        const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{bits, bits, false});
        const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), h);
        RtlBackend rtl;
        const TimingReport r = rtl.run(g, std::span<const LayerPrecision>(p), h);
        ASSERT_EQ(r.layers.size(), a.layers.size());
        for (std::size_t i = 0; i < a.layers.size(); ++i) {
          EXPECT_EQ(r.layers[i].compute_cycles, a.layers[i].compute_cycles)
              << dataflow_name(df) << " " << pe_model_name(pe) << " " << bits << " " << a.layers[i].name;
          EXPECT_EQ(r.layers[i].total_cycles, a.layers[i].total_cycles);
        }
        EXPECT_EQ(r.backend, "rtl");
        EXPECT_EQ(rtl.last_stats().model, "8x8_a32");  // 7 x 5 runs as the active part of 8 x 8
        EXPECT_EQ(rtl.last_stats().layers, 2);
      }
}

TEST(RtlBackend, RefusesWhatNoModelCanRun) {
  EXPECT_EQ(RtlBackend::check_hw(hw(Dataflow::kWS, 16, 16, PeModel::kBitFusion)), "16x16_a32");
  EXPECT_THROW(RtlBackend::check_hw(hw(Dataflow::kWS, 17, 4, PeModel::kBitFusion)), Error);
  EXPECT_THROW(RtlBackend::check_hw(hw(Dataflow::kWS, 4, 4, PeModel::kBitSerial)), Error);
  HwSpec acc = hw(Dataflow::kWS, 4, 4, PeModel::kFixed);
  acc.pe.acc_bits = 16;  // the 4x4 model's accumulators
  EXPECT_EQ(RtlBackend::check_hw(acc), "4x4_a16");
  acc.pe.acc_bits = 20;
  EXPECT_THROW(RtlBackend::check_hw(acc), Error);
}

TEST(RtlBackend, EstimatesTheRunTimeAndSaysWhenItIsLong) {
  const LayerGraph small = import_scalesim_topology_text(kTopology, "t.csv");
  const LayerGraph big = import_scalesim_topology_text(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "huge,230,230,7,7,64,256,1,\n",
      "big.csv");
  const HwSpec h = hw(Dataflow::kWS, 16, 16, PeModel::kFixed);
  std::vector<std::string> notices;
  RtlOptions o;
  o.notice = [&](const std::string& m) { notices.push_back(m); };
  const RtlBackend rtl(o);
  const std::vector<LayerPrecision> p1(2, LayerPrecision{8, 8, false}), p2(1, LayerPrecision{8, 8, false});
  EXPECT_LT(rtl.estimate_seconds(small, std::span<const LayerPrecision>(p1), h), 1.0);
  EXPECT_GT(rtl.estimate_seconds(big, std::span<const LayerPrecision>(p2), h), 60.0);
  rtl.run(small, std::span<const LayerPrecision>(p1), h);
  EXPECT_TRUE(notices.empty());
}

}  // namespace
}  // namespace qsim
