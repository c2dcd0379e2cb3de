// Real models through the importer: torchvision exports (scripts/export_torchvision.sh,
// .cache/models/) and the ONNX project's "light" zoo models (committed in
// tests/data/onnx-light/, from onnx/onnx, Apache-2.0; see the README there). Expected figures are computed independently
// by tests/graph/onnx_reference_macs.py (torch forward hooks; onnx shape inference).
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "graph/onnx_import.h"

namespace qsim {
namespace {

struct Expected {
  const char* file;
  std::size_t compute_layers;
  int64_t macs;
  int64_t params;  // weights + biases of compute layers, BN folded into biases
};

void check_model(const std::string& dir, const Expected& e, bool keep_weights) {
  const std::string path = dir + "/" + e.file;
  OnnxImportOptions o;
  o.keep_weights = keep_weights;
  const LayerGraph g = import_onnx(path, o);
  EXPECT_EQ(g.compute_layers().size(), e.compute_layers) << e.file;
  EXPECT_EQ(g.total_macs(), e.macs) << e.file;
  EXPECT_EQ(g.total_params(), e.params) << e.file;
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    EXPECT_NE(n.op, OpKind::kIdentity) << e.file << ": " << n.name;
    for (ValueId v : n.inputs)
      if (v >= 0 && g.value(v).is_constant) {
        EXPECT_EQ(g.value(v).data.has_value(), keep_weights) << g.value(v).name;
      }
  }
}

bool have_all(const std::string& dir, std::initializer_list<Expected> models) {
  for (const Expected& e : models)
    if (!std::filesystem::exists(dir + "/" + e.file)) return false;
  return true;
}

const std::initializer_list<Expected> kTorchvision = {
    {"resnet18.onnx", 21, 1814073344, 11684712},
    {"resnet50.onnx", 54, 4089184256, 25530472},
    {"mobilenet_v2.onnx", 53, 300774272, 3487816},
    {"squeezenet1_0.onnx", 26, 818924576, 1248424},
    {"vgg16.onnx", 16, 15470264320, 138357544},
};

const std::initializer_list<Expected> kLightZoo = {
    {"light_bvlc_alexnet.onnx", 8, 654560384, 60965224},
    {"light_densenet121.onnx", 121, 2834161664, 7902696},
    {"light_inception_v1.onnx", 58, 1431556352, 6998552},
    {"light_inception_v2.onnx", 70, 2018851840, 11185032},
    {"light_resnet50.onnx", 54, 4089184256, 25530472},
    {"light_shufflenet.onnx", 50, 124664528, 1379880},
    {"light_squeezenet.onnx", 26, 349151936, 1235496},
    {"light_vgg19.onnx", 19, 19632062464, 143667240},
    {"light_zfnet512.onnx", 8, 1481727008, 87250536},
};

TEST(OnnxModels, TorchvisionShapesOnly) {
  const std::string dir = QSIM_MODEL_CACHE;
  if (!have_all(dir, kTorchvision)) GTEST_SKIP() << "run scripts/export_torchvision.sh to fill " << dir;
  for (const Expected& e : kTorchvision) check_model(dir, e, false);
}

TEST(OnnxModels, TorchvisionWithWeights) {
  const std::string dir = QSIM_MODEL_CACHE;
  if (!have_all(dir, kTorchvision)) GTEST_SKIP() << "run scripts/export_torchvision.sh to fill " << dir;
  for (const Expected& e : kTorchvision) check_model(dir, e, true);
}

TEST(OnnxModels, Resnet18StructureAfterFusion) {
  const std::string path = std::string(QSIM_MODEL_CACHE) + "/resnet18.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "run scripts/export_torchvision.sh";
  OnnxImportOptions o;
  o.keep_weights = false;
  const LayerGraph g = import_onnx(path, o);
  // 20 Conv (17 with Relu) + Gemm, 8 Add+Relu, MaxPool, GlobalAveragePool, Flatten.
  int conv_relu = 0, add_relu = 0;
  for (const Node& n : g.nodes()) {
    conv_relu += n.op == OpKind::kConv && n.act.kind == ActKind::kRelu;
    add_relu += n.op == OpKind::kAdd && n.act.kind == ActKind::kRelu;
  }
  EXPECT_EQ(conv_relu, 9);
  EXPECT_EQ(add_relu, 8);
  EXPECT_EQ(g.nodes().size(), 32u);
  const LayerStats first = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(first.gemm.M, 112 * 112);
  EXPECT_EQ(first.gemm.N, 64);
  EXPECT_EQ(first.gemm.K, 3 * 7 * 7);
  const LayerStats fc = g.stats(g.compute_layers().back());
  EXPECT_EQ(fc.gemm.M, 1);
  EXPECT_EQ(fc.gemm.N, 1000);
  EXPECT_EQ(fc.gemm.K, 512);
}

TEST(OnnxModels, LightZooWeightsFromConstantOfShape) {
  const std::string dir = QSIM_SOURCE_DIR "/tests/data/onnx-light";
  for (const Expected& e : kLightZoo) {
    if (!std::filesystem::exists(dir + "/" + e.file)) {
      ADD_FAILURE() << dir << " lacks " << e.file;
      continue;
    }
    check_model(dir, e, false);
    check_model(dir, e, true);
  }
}

TEST(OnnxModels, LightZooConstantOfShapeValues) {
  const std::string path = QSIM_SOURCE_DIR "/tests/data/onnx-light/light_resnet50.onnx";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  // Conv weights are ConstantOfShape(0.02); the BN parameters are initializers.
  // Fold by hand from the unfolded graph and compare with the importer's folding.
  OnnxImportOptions unfolded;
  unfolded.fold_batchnorm = false;
  const LayerGraph raw = import_onnx(path, unfolded);
  const LayerGraph g = import_onnx(path);
  const Node& conv0 = raw.node(raw.compute_layers()[0]);
  const Node& bn = raw.node(raw.consumers(conv0.outputs[0])[0]);
  ASSERT_EQ(bn.op, OpKind::kBatchNorm);
  const double eps = std::get<BatchNormAttrs>(bn.attrs).epsilon;
  const Tensor& w = *raw.value(conv0.inputs[1]).data;
  const Tensor& scale = *raw.value(bn.inputs[1]).data;
  const Tensor& beta = *raw.value(bn.inputs[2]).data;
  const Tensor& mean = *raw.value(bn.inputs[3]).data;
  const Tensor& var = *raw.value(bn.inputs[4]).data;
  EXPECT_FLOAT_EQ(w.data<float>()[0], 0.02f);

  const Node& conv = g.node(g.compute_layers()[0]);
  EXPECT_EQ(conv.fused.size(), 3u);  // Conv + BN + Relu
  const auto wf = g.value(conv.inputs[1]).data->data<float>();
  const auto bf = g.value(conv.inputs[2]).data->data<float>();
  const int64_t per = w.numel() / w.dim(0);
  for (int64_t c = 0; c < w.dim(0); ++c) {
    const double s = scale.as_double(c) / std::sqrt(var.as_double(c) + eps);
    EXPECT_FLOAT_EQ(wf[static_cast<std::size_t>(c * per)], static_cast<float>(0.02f * s)) << c;
    EXPECT_FLOAT_EQ(bf[static_cast<std::size_t>(c)], static_cast<float>(beta.as_double(c) - mean.as_double(c) * s))
        << c;
  }
}

}  // namespace
}  // namespace qsim
