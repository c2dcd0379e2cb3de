// Speed of the incremental evaluator (sim/analytical/analytical_evaluator.h) against
// a full AnalyticalBackend::run(), resnet50.onnx (torchvision export) on every
// configs/*.yaml. Targets on configs/eyeriss.yaml: a full evaluation <= 50 us, one
// single-layer update <= 2 us (docs/benchmarks.md). Cases, per config:
//   evaluate      evaluate(precision) of random allocations (widths 2/4/8), the
//                 Compute-step memo warm (each (layer, wbits, abits) mapped once);
//   evaluate_cold the same right after prepare(): every Compute step mapped;
//   update        update(layer, wbits, abits): one random single-layer move;
//   prepare       prepare(graph, hw);
//   run           run() of the same random allocations (the full path, with rows).
// Run through scripts/bench.sh, or:
//   build/bench/evaluator_bench --benchmark_repetitions=20 --benchmark_report_aggregates_only=true
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "graph/model_import.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/analytical/analytical_evaluator.h"
#include "sim/config/hw_spec_yaml.h"

namespace {

namespace fs = std::filesystem;
using namespace qsim;

struct Case {
  std::string name;
  const LayerGraph* graph;
  HwSpec hw;
  std::vector<std::vector<LayerPrecision>> allocations;  // random, widths 2/4/8
  struct Move {
    std::size_t layer;
    int wbits, abits;
  };
  std::vector<Move> moves;
};

std::vector<std::unique_ptr<Case>>& cases() {
  static std::vector<std::unique_ptr<Case>> v;
  return v;
}

// Every (layer, wbits, abits) the benchmark uses mapped once: the search's steady state.
void warm(AnalyticalEvaluator& ev, const Case& c) {
  for (int w : {2, 4, 8})
    for (int a : {2, 4, 8})
      ev.evaluate(std::vector<LayerPrecision>(c.graph->compute_layers().size(), LayerPrecision{w, a, false}));
}

void bm_evaluate(benchmark::State& state, const Case& c) {
  AnalyticalEvaluator ev;
  ev.prepare(*c.graph, c.hw);
  warm(ev, c);
  std::size_t i = 0;
  for (auto _ : state) {
    const Evaluation e = ev.evaluate(c.allocations[i++ % c.allocations.size()]);
    benchmark::DoNotOptimize(e.totals.total_cycles);
  }
}

void bm_evaluate_cold(benchmark::State& state, const Case& c) {
  std::size_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    AnalyticalEvaluator ev;
    ev.prepare(*c.graph, c.hw);
    state.ResumeTiming();
    const Evaluation e = ev.evaluate(c.allocations[i++ % c.allocations.size()]);
    benchmark::DoNotOptimize(e.totals.total_cycles);
  }
}

void bm_update(benchmark::State& state, const Case& c) {
  AnalyticalEvaluator ev;
  ev.prepare(*c.graph, c.hw);
  warm(ev, c);
  ev.evaluate(c.allocations[0]);
  std::size_t i = 0;
  for (auto _ : state) {
    const Case::Move& m = c.moves[i++ % c.moves.size()];
    const Evaluation e = ev.update(m.layer, m.wbits, m.abits);
    benchmark::DoNotOptimize(e.totals.total_cycles);
  }
}

void bm_prepare(benchmark::State& state, const Case& c) {
  for (auto _ : state) {
    AnalyticalEvaluator ev;
    ev.prepare(*c.graph, c.hw);
    benchmark::DoNotOptimize(ev.layers());
  }
}

void bm_run(benchmark::State& state, const Case& c) {
  const AnalyticalBackend backend;
  std::size_t i = 0;
  for (auto _ : state) {
    const TimingReport r =
        backend.run(*c.graph, std::span<const LayerPrecision>(c.allocations[i++ % c.allocations.size()]), c.hw);
    benchmark::DoNotOptimize(r.total_cycles());
  }
}

void register_all() {
  const fs::path src = QSIM_SOURCE_DIR;
  const fs::path resnet50 = fs::path(QSIM_MODEL_CACHE) / "resnet50.onnx";
  if (!fs::exists(resnet50)) {
    std::fprintf(stderr, "evaluator_bench: %s is absent (scripts/export_torchvision.sh)\n", resnet50.c_str());
    return;
  }
  static LayerGraph graph = [&] {
    OnnxImportOptions io;
    io.keep_weights = false;
    return import_model(resnet50.string(), io);
  }();
  const std::size_t n = graph.compute_layers().size();
  for (const char* cfg : {"eyeriss", "tpu-like", "edge-lowmem", "scalesim-default"}) {
    const fs::path y = src / "configs" / (std::string(cfg) + ".yaml");
    if (!fs::exists(y)) continue;
    auto& c = *cases().emplace_back(std::make_unique<Case>());
    c.name = std::string("resnet50.onnx/") + cfg;
    c.graph = &graph;
    c.hw = load_hw_spec(y.string());
    std::mt19937_64 rng(42);
    const int bits[] = {2, 4, 8};
    for (int k = 0; k < 64; ++k) {
      auto& p = c.allocations.emplace_back(n);
      for (auto& x : p) x = {bits[rng() % 3], bits[rng() % 3], false};
    }
    for (int k = 0; k < 4096; ++k) c.moves.push_back({rng() % n, bits[rng() % 3], bits[rng() % 3]});
    const Case* cp = &c;
    auto reg = [&](const char* what, void (*fn)(benchmark::State&, const Case&)) {
      benchmark::RegisterBenchmark((std::string("evaluator/") + what + "/" + c.name).c_str(),
                                   [cp, fn](benchmark::State& s) { fn(s, *cp); })
          ->Unit(benchmark::kMicrosecond);
    };
    reg("evaluate", bm_evaluate);
    reg("evaluate_cold", bm_evaluate_cold);
    reg("update", bm_update);
    reg("prepare", bm_prepare);
    reg("run", bm_run);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
