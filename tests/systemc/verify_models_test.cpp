// Values: every compute layer of every bundled model (models/fmnist_*.onnx), run on the
// SystemC array with the integer executor's quantized operands, gives the executor's
// outputs bit for bit: at 8/8, 4/4, 2/2 bits and a mixed allocation on a Bit Fusion
// config (configs/eyeriss.yaml, weight-stationary), and at 8/8 on a fixed-PE config
// (configs/scalesim-default.yaml, output-stationary). Calibration and the checked
// input come from the 100 test images bundled with the models. And the check itself
// names the layer and the first differing output when an accumulator is wrong.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/verify.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "quant/layer_operands.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim {
namespace {

const std::string kSrc = QSIM_SOURCE_DIR;
const char* kModels[] = {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"};

struct Widths {
  const char* name;
  int w, a;  // 0: the mixed allocation
};

// A mixed allocation cycling through Bit Fusion's width pairs, layer by layer.
std::string mixed_alloc(const LayerGraph& g, const std::filesystem::path& dir) {
  const int pairs[][2] = {{8, 8}, {4, 4}, {2, 4}, {4, 8}, {8, 2}, {2, 2}};
  nlohmann::json j = {{"format", "qsim-precision"}, {"version", 1}, {"layers", nlohmann::json::array()}};
  std::size_t i = 0;
  for (NodeId id : g.compute_layers()) {
    const auto& p = pairs[i++ % 6];
    j["layers"].push_back({{"name", g.node(id).name}, {"wbits", p[0]}, {"abits", p[1]}});
  }
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / (g.name + ".mixed.json");
  std::ofstream(path) << j.dump(2);
  return path.string();
}

void verify_all(const std::string& config, std::initializer_list<Widths> widths) {
  const HwSpec hw = load_hw_spec(kSrc + "/configs/" + config);
  const std::filesystem::path tmp = std::filesystem::temp_directory_path() / ("qsim_verify_" + std::to_string(::getpid()));
  for (const char* name : kModels)
    for (const Widths& wd : widths) {
      SCOPED_TRACE(std::string(name) + " " + wd.name + " on " + config);
      const LayerGraph g = import_model(kSrc + "/models/" + name + ".onnx");
      app::SimulateOptions o;
      o.data = "npy:" + kSrc + "/models/fmnist_test100.npy";
      o.backend = "systemc";
      o.verify = true;
      std::vector<LayerPrecision> p;
      if (wd.w == 0) {
        o.precision.precision = mixed_alloc(g, tmp);
        p = PrecisionAlloc::load(o.precision.precision).resolve(g, "mixed");
      } else {
        o.precision.wbits = wd.w;
        o.precision.abits = wd.a;
        p.assign(g.compute_layers().size(), LayerPrecision{wd.w, wd.a, false});
      }
      app::Verifier v(o, g, hw);
      SystemcOptions so;
      so.values = &v;
      SystemcBackend(so).run(g, std::span<const LayerPrecision>(p), hw);
      EXPECT_EQ(v.failure(), "");
      EXPECT_EQ(v.layers(), static_cast<int64_t>(g.compute_layers().size()));
      EXPECT_GT(v.outputs(), 10000);
    }
  std::filesystem::remove_all(tmp);
}

TEST(VerifyModels, BitFusionEveryWidthAndAMixedAllocation) {
  verify_all("eyeriss.yaml", {{"8/8", 8, 8}, {"4/4", 4, 4}, {"2/2", 2, 2}, {"mixed", 0, 0}});
}

TEST(VerifyModels, FixedPeAtEightBits) { verify_all("scalesim-default.yaml", {{"8/8", 8, 8}}); }

// The check is not blind: one wrong accumulator is reported with its layer position.
TEST(VerifyModels, AWrongAccumulatorIsNamed) {
  const HwSpec hw = load_hw_spec(kSrc + "/configs/eyeriss.yaml");
  const LayerGraph g = import_model(kSrc + "/models/fmnist_resnet.onnx");
  app::SimulateOptions o;
  o.data = "npy:" + kSrc + "/models/fmnist_test100.npy";
  o.verify = true;
  struct Corrupt : LayerValueSource {
    app::Verifier& v;
    explicit Corrupt(app::Verifier& x) : v(x) {}
    const GemmValues* operands(std::size_t i) override { return v.operands(i); }
    void accumulators(std::size_t i, std::span<const int64_t> y) override {
      std::vector<int64_t> bad(y.begin(), y.end());
      if (i == 2) bad[7] += 1 << 20;  // far beyond one output step
      v.accumulators(i, bad);
    }
  };
  app::Verifier v(o, g, hw);
  Corrupt c(v);
  SystemcOptions so;
  so.values = &c;
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, false});
  SystemcBackend(so).run(g, std::span<const LayerPrecision>(p), hw);
  EXPECT_NE(v.failure().find("layer '" + g.node(g.compute_layers()[2]).name + "': output "), std::string::npos)
      << v.failure();
  EXPECT_NE(v.failure().find("integer executor"), std::string::npos) << v.failure();
}

}  // namespace
}  // namespace qsim
