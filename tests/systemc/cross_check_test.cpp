// Cycles against the analytical model on real networks (the CI subset of the
// cross-check sweep, bench/systemc_crosscheck.cpp, which covers resnet18 and
// mobilenet_v2 on every shipped config and dataflow): compute cycles equal on every
// layer; total cycles within 2% per layer and 1% per network. The subset: resnet18 on
// edge-lowmem.yaml (DRAM latency 40, 4 bytes/cycle: the most memory-bound config) in
// all three dataflows, and mobilenet_v2 on eyeriss.yaml (chunked ws, Bit Fusion at 4/4).
#include <filesystem>

#include <gtest/gtest.h>

#include "graph/model_import.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/systemc/cross_check.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim {
namespace {

void expect_close(const std::string& model, const std::string& config, Dataflow df, int bits) {
  const std::string path = std::string(QSIM_MODEL_CACHE) + "/" + model + ".onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent: run scripts/export_torchvision.sh";
  OnnxImportOptions io;
  io.keep_weights = false;
  const LayerGraph g = import_model(path, io);
  HwSpec hw = load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/" + config);
  hw.array.dataflow = df;
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{bits, bits, false});
  const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
  const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
  const CrossCheck c = cross_check(a, s);
  EXPECT_EQ(c.compute_mismatches, 0);
  for (const LayerCrossCheck& l : c.layers) {
    EXPECT_EQ(l.compute_systemc, l.compute_analytical) << l.name;
    EXPECT_LE(l.error(), 0.02) << l.name << ": " << l.total_systemc << " vs " << l.total_analytical;
  }
  EXPECT_LE(c.network_error, 0.01);
  EXPECT_GT(c.layers.size(), 20u);
}

TEST(CrossCheck, Resnet18EdgeLowmemOs) { expect_close("resnet18", "edge-lowmem.yaml", Dataflow::kOS, 8); }
TEST(CrossCheck, Resnet18EdgeLowmemWs) { expect_close("resnet18", "edge-lowmem.yaml", Dataflow::kWS, 8); }
TEST(CrossCheck, Resnet18EdgeLowmemIs) { expect_close("resnet18", "edge-lowmem.yaml", Dataflow::kIS, 8); }
TEST(CrossCheck, MobilenetV2EyerissWsFourBits) { expect_close("mobilenet_v2", "eyeriss.yaml", Dataflow::kWS, 4); }

}  // namespace
}  // namespace qsim
