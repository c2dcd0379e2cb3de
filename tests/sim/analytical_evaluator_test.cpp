// The incremental evaluator (sim/analytical/analytical_evaluator.h): chains of
// single-layer updates give exactly the totals of a full AnalyticalBackend::run();
// a width the hardware cannot run is a status that changes nothing.
#include "sim/analytical/analytical_evaluator.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <filesystem>
#include <map>
#include <memory>
#include <array>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/model_import.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim {
// Heap allocations made by this process (the evaluator's hot path must make none).
std::atomic<int64_t> g_allocations{0};
}  // namespace qsim

// A counting global operator new over malloc; GCC's -Wmismatched-new-delete cannot
// see that the matching delete frees what this new mallocs.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  qsim::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace qsim {
namespace {

namespace fs = std::filesystem;

const LayerGraph* model(const fs::path& path) {
  static std::map<std::string, std::unique_ptr<LayerGraph>> cache;
  auto& g = cache[path.string()];
  if (!g && fs::exists(path)) {
    OnnxImportOptions io;
    io.keep_weights = false;
    g = std::make_unique<LayerGraph>(import_model(path.string(), io));
  }
  return g.get();
}

std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(fs::path(QSIM_SOURCE_DIR) / "configs"))
    if (e.path().extension() == ".yaml") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

// The totals of a TimingReport against the evaluator's: integers exactly; the energy
// too (both sum the same per-step energies in the same order).
void expect_same(const EvalTotals& t, const TimingReport& r) {
  EXPECT_EQ(t.total_cycles, r.total_cycles());
  EXPECT_EQ(t.compute_cycles, r.compute_cycles());
  EXPECT_EQ(t.stall_cycles, r.stall_cycles());
  EXPECT_EQ(t.vector_cycles, r.vector_cycles());
  EXPECT_EQ(t.sram_bytes, r.sram_bytes());
  EXPECT_EQ(t.dram_bytes, r.dram_bytes());
  EXPECT_EQ(t.requant_boundaries, r.requant_boundaries());
  EXPECT_EQ(t.latency_ms, r.latency_ms());
  EXPECT_EQ(t.energy_pj, r.energy_pj());
}

void expect_same(const EvalTotals& a, const EvalTotals& b) {
  EXPECT_EQ(a.total_cycles, b.total_cycles);
  EXPECT_EQ(a.compute_cycles, b.compute_cycles);
  EXPECT_EQ(a.stall_cycles, b.stall_cycles);
  EXPECT_EQ(a.vector_cycles, b.vector_cycles);
  EXPECT_EQ(a.sram_bytes, b.sram_bytes);
  EXPECT_EQ(a.dram_bytes, b.dram_bytes);
  EXPECT_EQ(a.requant_boundaries, b.requant_boundaries);
  EXPECT_EQ(a.latency_ms, b.latency_ms);
  EXPECT_EQ(a.energy_pj, b.energy_pj);
}

uint64_t hash_of(std::span<const LayerPrecision> p) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& x : p) h = (h ^ static_cast<uint64_t>(x.wbits * 64 + x.abits)) * 1099511628211ull;
  return h;
}

// A chain of `steps` random single-layer moves from a random allocation. Every step
// is checked against a fresh full evaluation; every `run_every`-th against run().
// Returns the distinct allocations compared against run().
std::size_t run_chain(const LayerGraph& g, const HwSpec& hw, int steps, int run_every, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int bits[] = {2, 4, 8};
  const std::size_t n = g.compute_layers().size();
  std::vector<LayerPrecision> p(n);
  for (auto& x : p) x = {bits[rng() % 3], bits[rng() % 3], false};
  AnalyticalEvaluator ev, fresh;
  ev.prepare(g, hw);
  fresh.prepare(g, hw);
  const AnalyticalBackend backend;
  const Evaluation first = ev.evaluate(p);
  EXPECT_TRUE(first.ok()) << ev.error();
  std::unordered_set<uint64_t> compared;
  const bool failed_before = ::testing::Test::HasFailure();
  for (int step = 1; step <= steps; ++step) {
    const std::size_t l = rng() % n;
    LayerPrecision& x = p[l];
    switch (rng() % 3) {
      case 0: x.wbits = bits[rng() % 3]; break;
      case 1: x.abits = bits[rng() % 3]; break;
      default: x = {bits[rng() % 3], bits[rng() % 3], false}; break;
    }
    const Evaluation u = ev.update(l, x.wbits, x.abits);
    EXPECT_TRUE(u.ok()) << ev.error();
    const Evaluation f = fresh.evaluate(p);
    EXPECT_TRUE(f.ok());
    expect_same(u.totals, f.totals);
    if (step % run_every == 0 && compared.insert(hash_of(p)).second)
      expect_same(u.totals, backend.run(g, std::span<const LayerPrecision>(p), hw));
    if (!failed_before && ::testing::Test::HasFailure()) {
      ADD_FAILURE() << "step " << step << " (layer " << l << ")";
      break;
    }
  }
  return compared.size();
}

// The acceptance: resnet50 and mobilenet_v2 on every shipped config, 10,000
// distinct allocations compared against run() in all (chains of 10,000 single-layer
// updates per model and config, each step checked against a full evaluation, every
// 8th against run()).
TEST(AnalyticalEvaluator, UpdateChainsGiveTheTotalsOfFullRuns) {
  const fs::path cache = QSIM_MODEL_CACHE;
  std::size_t compared = 0;
  int pairs = 0;
  for (const char* name : {"resnet50", "mobilenet_v2"}) {
    const LayerGraph* g = model(cache / (std::string(name) + ".onnx"));
    if (!g) GTEST_SKIP() << (cache / name).string() << ".onnx is absent (scripts/export_torchvision.sh)";
    for (const fs::path& cfg : shipped_configs()) {
      SCOPED_TRACE(std::string(name) + " on " + cfg.filename().string());
      compared += run_chain(*g, load_hw_spec(cfg.string()), 10000, 8, 17 + pairs);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 10);  // 2 models x the 5 shipped configs
  EXPECT_GE(compared, 10000u);
}

// Hardware variants the shipped configs do not exercise: element-wise ops on the
// vector unit (fusion off), single buffering with DRAM latency, bit-serial PEs,
// fractional bandwidth; on the bundled models, run() at every step.
TEST(AnalyticalEvaluator, UpdateChainsOnHardwareVariants) {
  const fs::path models = fs::path(QSIM_SOURCE_DIR) / "models";
  const std::vector<std::vector<std::string>> variants = {
      {"vector.fuse_elementwise=false"},
      {"memory.double_buffer=false", "memory.dram_latency_cycles=17"},
      {"pe.precision=bitserial", "memory.dram_bytes_per_cycle=2.5"},
  };
  for (const char* name : {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"}) {
    const LayerGraph* g = model(models / (std::string(name) + ".onnx"));
    ASSERT_NE(g, nullptr) << name;
    for (std::size_t v = 0; v < variants.size(); ++v) {
      SCOPED_TRACE(std::string(name) + " variant " + std::to_string(v));
      const HwSpec hw = load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml", variants[v]);
      EXPECT_GT(run_chain(*g, hw, 400, 1, 100 + v), 200u);
    }
  }
}

TEST(AnalyticalEvaluator, RefusedWidthsAreAStatusAndChangeNothing) {
  const LayerGraph* g = model(fs::path(QSIM_SOURCE_DIR) / "models/fmnist_resnet.onnx");
  ASSERT_NE(g, nullptr);
  const HwSpec hw = load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml");  // Bit Fusion, up to 8 bits
  AnalyticalEvaluator ev;
  EXPECT_THROW(ev.update(0, 8, 8), std::logic_error);  // not prepared
  ev.prepare(*g, hw);
  std::vector<LayerPrecision> p(ev.layers(), LayerPrecision{8, 8, false});
  EXPECT_THROW(ev.update(0, 8, 8), std::logic_error);  // nothing evaluated yet
  p[3] = {16, 8, false};
  const Evaluation bad = ev.evaluate(p);
  EXPECT_EQ(bad.status, EvalStatus::kUnsupported);
  EXPECT_EQ(bad.layer, 3u);
  EXPECT_NE(ev.error().find("wbits 16 is wider than"), std::string_view::npos) << ev.error();
  p[3] = {8, 8, false};
  const Evaluation good = ev.evaluate(p);
  ASSERT_TRUE(good.ok());
  for (int rep = 0; rep < 2; ++rep) {  // the second time from the memo
    const Evaluation u = ev.update(2, 4, 12);
    EXPECT_EQ(u.status, EvalStatus::kUnsupported);
    EXPECT_EQ(u.layer, 2u);
    EXPECT_NE(ev.error().find("abits 12"), std::string_view::npos) << ev.error();
    expect_same(u.totals, good.totals);
    EXPECT_EQ(ev.precision()[2], (LayerPrecision{8, 8, false}));
  }
  EXPECT_EQ(ev.update(2, 40, 8).status, EvalStatus::kUnsupported);  // outside every width qsim knows
  EXPECT_THROW(ev.evaluate(std::vector<LayerPrecision>(2)), Error);  // wrong size: a caller's error
  // Still exact after the refusals.
  const Evaluation u = ev.update(2, 4, 4);
  ASSERT_TRUE(u.ok());
  p[2] = {4, 4, false};
  expect_same(u.totals, AnalyticalBackend().run(*g, std::span<const LayerPrecision>(p), hw));
}

// With the memo warm, update() allocates nothing (the search calls it in its loop).
TEST(AnalyticalEvaluator, WarmUpdatesDoNotAllocate) {
  const LayerGraph* g = model(fs::path(QSIM_SOURCE_DIR) / "models/fmnist_resnet.onnx");
  ASSERT_NE(g, nullptr);
  const HwSpec hw = load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml",
                                 std::vector<std::string>{"vector.fuse_elementwise=false"});
  AnalyticalEvaluator ev;
  ev.prepare(*g, hw);
  const int bits[] = {2, 4, 8};
  for (int w : bits)
    for (int a : bits)
      ASSERT_TRUE(ev.evaluate(std::vector<LayerPrecision>(ev.layers(), LayerPrecision{w, a, false})).ok());
  std::mt19937 rng(3);
  std::vector<std::array<int, 3>> moves;
  for (int k = 0; k < 2000; ++k)
    moves.push_back({static_cast<int>(rng() % ev.layers()), bits[rng() % 3], bits[rng() % 3]});
  int64_t sum = 0;
  const int64_t before = g_allocations.load();
  for (const auto& m : moves) sum += ev.update(static_cast<std::size_t>(m[0]), m[1], m[2]).totals.total_cycles;
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(sum, 0);
}

}  // namespace
}  // namespace qsim
