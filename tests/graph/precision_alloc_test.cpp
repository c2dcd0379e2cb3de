#include "graph/precision_alloc.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {
namespace {

LayerGraph two_gemms() {
  LayerGraph g;
  g.name = "mlp";
  auto x = g.add_value({"x", DType::kFloat32, {1, 16}, false, {}});
  auto w1 = g.add_value({"w1", DType::kFloat32, {16, 8}, true, {}});
  auto h = g.add_value({"h", DType::kFloat32, {1, 8}, false, {}});
  auto w2 = g.add_value({"w2", DType::kFloat32, {8, 4}, true, {}});
  auto y = g.add_value({"y", DType::kFloat32, {1, 4}, false, {}});
  g.add_node({"fc1", OpKind::kGemm, {x, w1}, {h}, GemmAttrs{}, {}, {}});
  g.add_node({"fc2", OpKind::kGemm, {h, w2}, {y}, GemmAttrs{}, {}, {}});
  g.set_inputs({x});
  g.set_outputs({y});
  g.finalize();
  return g;
}

std::filesystem::path tmp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("qsim_test_" + std::to_string(::getpid()) + "_" + name);
}

TEST(PrecisionAlloc, RoundTripKeepsExtras) {
  auto g = two_gemms();
  auto a = PrecisionAlloc::uniform(g, 4, 8, true);
  a.extra("fc1")["w_scale"] = {0.5, 0.25};
  const auto path = tmp_path("alloc.json").string();
  a.save(path);
  auto b = PrecisionAlloc::load(path);
  std::filesystem::remove(path);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.at("fc2"), (LayerPrecision{4, 8, true}));
  ASSERT_NE(b.find_extra("fc1"), nullptr);
  EXPECT_EQ((*b.find_extra("fc1"))["w_scale"][1], 0.25);
  auto r = b.resolve(g, path);
  EXPECT_EQ(r.size(), 2u);
}

TEST(PrecisionAlloc, MissingLayerIsNamed) {
  auto g = two_gemms();
  PrecisionAlloc a;
  a.set("fc1", {8, 8, false});
  try {
    a.resolve(g, "alloc.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "alloc.json: layer 'fc2' is missing from the precision allocation");
  }
}

// A file made for another model: every missing layer and every foreign entry is
// named (a long list shortened, with its count), and so is the model it was made for.
TEST(PrecisionAlloc, AnotherModelsFileNamesEveryLayerAndItsModel) {
  LayerGraph g;
  g.name = "wide";
  auto x = g.add_value({"x", DType::kFloat32, {1, 4}, false, {}});
  ValueId prev = x;
  for (int i = 0; i < 10; ++i) {
    // Names built with fmt: "literal" + std::string&& trips GCC 12's -Wrestrict (a false positive).
    auto w = g.add_value({fmt::format("w{}", i), DType::kFloat32, {4, 4}, true, {}});
    auto y = g.add_value({fmt::format("y{}", i), DType::kFloat32, {1, 4}, false, {}});
    g.add_node({fmt::format("l{}", i), OpKind::kGemm, {prev, w}, {y}, GemmAttrs{}, {}, {}});
    prev = y;
  }
  g.set_inputs({x});
  g.set_outputs({prev});
  g.finalize();
  auto a = PrecisionAlloc::uniform(two_gemms(), 8, 8);  // model "mlp": fc1, fc2
  try {
    a.resolve(g, "a.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "a.json: made for model 'mlp' (its \"model\"), not 'wide': 10 of the 10 compute layers of 'wide' are "
              "missing ('l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7' and 2 more); 2 layers it lists are not compute "
              "layers of 'wide' ('fc1', 'fc2')");
  }
  // The same layers under another model name (a renamed copy) are used as they are.
  auto b = PrecisionAlloc::uniform(g, 4, 8);
  b.model = "wide_v2";
  EXPECT_EQ(b.resolve(g, "b.json").size(), 10u);
}

TEST(PrecisionAlloc, UnknownLayerIsNamed) {
  auto g = two_gemms();
  auto a = PrecisionAlloc::uniform(g, 8, 8);
  a.set("conv9", {8, 8, false});
  EXPECT_THROW(a.resolve(g, "x"), Error);
}

TEST(PrecisionAlloc, BadFilesGiveOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"layers\": [", "invalid JSON"},
      {"[1,2]", "expected a JSON object"},
      {"{}", "missing \"layers\""},
      {R"({"layers":[{"name":"fc1","wbits":8}]})", "has no \"abits\""},
      {R"({"layers":[{"name":"fc1","wbits":"8","abits":8}]})", "must be an integer"},
      {R"({"layers":[{"name":"fc1","wbits":0,"abits":8}]})", "outside 1..32"},
      {R"({"layers":[{"name":"fc1","wbits":8,"abits":8},{"name":"fc1","wbits":4,"abits":4}]})", "appears twice"},
  };
  for (const auto& [text, needle] : cases) {
    const auto path = tmp_path("bad.json").string();
    write_file_atomic(path, text);
    try {
      PrecisionAlloc::load(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    std::filesystem::remove(path);
  }
  EXPECT_THROW(PrecisionAlloc::load("/nonexistent/alloc.json"), Error);
}

}  // namespace
}  // namespace qsim
