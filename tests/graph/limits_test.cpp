// graph/limits.h (memory limit, sizes) and the overflow / memory checks of the
// readers, the importer, LayerGraph::stats and the executor.
#include "graph/limits.h"

#include <gtest/gtest.h>

#include <string>

#include "graph/error.h"
#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "runtime/executor.h"
#include "data/idx.h"
#include "data/npy.h"
#include "tests/graph/onnx_test_util.h"

namespace qsim {
namespace {

using testing::OnnxModel;

// Restores the default limit after each test.
class Limits : public ::testing::Test {
 protected:
  void TearDown() override { set_memory_limit(0); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST_F(Limits, ParsesSizes) {
  EXPECT_EQ(parse_byte_size("2G", "x"), int64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("512m", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1.5GiB", "x"), int64_t{3} << 29);
  EXPECT_EQ(parse_byte_size("64KB", "x"), 65536);
  EXPECT_EQ(parse_byte_size(" 100000 ", "x"), 100000);
  EXPECT_EQ(parse_byte_size("50%", "x"), physical_memory_bytes() / 2);
  for (const char* bad : {"", "G", "lots", "-1G", "0", "1.2.3M", "5X", "0%", "150%", "1e3", "99999999T"})
    EXPECT_THROW(parse_byte_size(bad, "--mem-limit"), Error) << bad;
  EXPECT_EQ(error_of([] { parse_byte_size("lots", "--mem-limit"); }),
            "--mem-limit: 'lots' is not a size (examples: 2G, 512M, 1.5GiB, 100000, 25%)");
}

TEST_F(Limits, DefaultIsHalfOfPhysicalMemoryUnlessSet) {
  if (std::getenv("QSIM_MEM_LIMIT")) GTEST_SKIP() << "QSIM_MEM_LIMIT is set";
  EXPECT_GT(physical_memory_bytes(), int64_t{1} << 26);
  EXPECT_EQ(memory_limit(), static_cast<int64_t>(static_cast<double>(physical_memory_bytes()) * 0.5));
  set_memory_limit(12345);
  EXPECT_EQ(memory_limit(), 12345);
  set_memory_limit(0);
  EXPECT_EQ(memory_limit(), static_cast<int64_t>(static_cast<double>(physical_memory_bytes()) * 0.5));
}

TEST_F(Limits, CheckMemoryMessage) {
  set_memory_limit(int64_t{1} << 30);
  EXPECT_NO_THROW(check_memory(int64_t{1} << 30, "x"));
  EXPECT_EQ(error_of([] { check_memory(int64_t{3} << 29, "the model's weights"); }),
            "the model's weights needs 1.5 GiB, more than the memory limit of 1.0 GiB (set with --mem-limit or "
            "QSIM_MEM_LIMIT)");
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(format_bytes(int64_t{512} << 20), "512 MiB");
}

TEST_F(Limits, TensorRefusedBeforeAllocating) {
  set_memory_limit(int64_t{8} << 20);
  EXPECT_NO_THROW(Tensor(DType::kFloat32, {1024, 1024}));
  // 2^40 floats would be 4 TiB: refused by the check, not by the allocator.
  EXPECT_EQ(error_of([] { Tensor(DType::kFloat32, {int64_t{1} << 20, int64_t{1} << 20}); }),
            "a float32 tensor of shape 1048576x1048576 needs 4.0 TiB, more than the memory limit of 8.0 MiB (set "
            "with --mem-limit or QSIM_MEM_LIMIT)");
  EXPECT_THROW(Tensor(DType::kInt64, {int64_t{1} << 61}), Error);  // bytes overflow int64
}

TEST_F(Limits, NpyAndIdxHeadersCannotForceAllocations) {
  std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }";
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string npy("\x93NUMPY\x01\x00", 8);
  npy += static_cast<char>(h.size());
  npy += '\0';
  npy += h + "abcdefgh";
  EXPECT_EQ(error_of([&] { parse_npy(npy, "x.npy"); }),
            "x.npy: .npy data is truncated (8 bytes for shape 4611686018427387904, need more than 2^63)");
  const std::string idx("\x00\x00\x0e\x02\xff\xff\xff\xff\x00\x00\x00\x10", 12);
  EXPECT_EQ(error_of([&] { parse_idx(idx, "x.idx"); }),
            "x.idx: IDX data is truncated (0 bytes for shape 4294967295x16, need 549755813760)");
}

TEST_F(Limits, ImporterRefusesWeightsAboveTheLimit) {
  OnnxModel m;
  m.input("x", {1, 1}).output("y");
  m.init_f("w", {1, 4096}, std::vector<float>(4096, 1.0f));
  m.node("Gemm", {"x", "w"}, {"y"}, "fc");
  set_memory_limit(8192);
  EXPECT_EQ(error_of([&] { m.import(); }),
            "m.onnx: the model's weights and constants needs 16 KiB, more than the memory limit of 8.0 KiB (set "
            "with --mem-limit or QSIM_MEM_LIMIT)");
  OnnxImportOptions shapes_only;
  shapes_only.keep_weights = false;
  EXPECT_NO_THROW(m.import(shapes_only));  // nothing is decoded
  set_memory_limit(0);
  EXPECT_NO_THROW(m.import());
}

TEST_F(Limits, ExecutorRefusesItsPlanAboveTheLimit) {
  OnnxModel m;
  m.input("x", {1, 4}).output("y");
  m.init_i64("pads", {4}, {0, 0, 0, 1 << 18});
  m.node("Pad", {"x", "pads"}, {"y"}, "pad");
  const LayerGraph g = m.import();
  set_memory_limit(512 << 10);
  const std::string e = error_of([&] { Executor ex(g, ExecOptions{.threads = 1}); });
  // Either the plan's total or its largest tensor is refused first; both name the model.
  EXPECT_EQ(e.rfind("model 'm': ", 0), 0u) << e;
  EXPECT_NE(e.find("more than the memory limit of 512 KiB (set with --mem-limit or QSIM_MEM_LIMIT)"),
            std::string::npos)
      << e;
  set_memory_limit(0);
  Executor ex(g, ExecOptions{.threads = 1});
  EXPECT_GE(ex.arena_bytes(), (1 << 18) * 4);
}

TEST_F(Limits, StatsOverflowNamesModelAndLayer) {
  LayerGraph g;
  g.name = "big";
  const int64_t d = int64_t{1} << 30;
  Value a{"a", DType::kFloat32, {d, d}, false, std::nullopt};
  Value b{"b", DType::kFloat32, {d, d}, true, std::nullopt};
  Value y{"y", DType::kFloat32, {d, d}, false, std::nullopt};
  const ValueId va = g.add_value(a), vb = g.add_value(b), vy = g.add_value(y);
  Node n;
  n.name = "fc";
  n.op = OpKind::kGemm;
  n.inputs = {va, vb};
  n.outputs = {vy};
  n.attrs = GemmAttrs{};
  g.add_node(n);
  g.set_inputs({va});
  g.set_outputs({vy});
  g.finalize();
  EXPECT_EQ(error_of([&] { g.stats(g.compute_layers()[0]); }),
            "model 'big': layer 'fc' (Gemm): its GEMM sizes or MAC count overflow 64 bits");
  EXPECT_EQ(error_of([&] { g.total_macs(); }),
            "model 'big': layer 'fc' (Gemm): its GEMM sizes or MAC count overflow 64 bits");
  EXPECT_EQ(error_of([] { GemmView{int64_t{1} << 40, int64_t{1} << 40, 1, 1}.macs(); }),
            "GEMM 1099511627776 x 1099511627776 x 1 x 1 repeats: the MAC count overflows 64 bits");
}

}  // namespace
}  // namespace qsim
