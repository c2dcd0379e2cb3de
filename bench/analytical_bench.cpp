// Speed of one full analytical evaluation (every layer, graph already loaded):
//   - resnet50.onnx (torchvision export) on configs/eyeriss.yaml: the target is < 1 ms;
//   - the SCALE-Sim reference runs (same topology CSV and .cfg SCALE-Sim ran), for
//     the like-for-like ratio against SCALE-Sim's recorded wall time.
// Run through scripts/bench.sh, which also times the whole `qsim` process with
// hyperfine and prints the ratios (docs/benchmarks.md).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "graph/model_import.h"
#include "graph/precision_alloc.h"
#include "graph/scalesim_topology.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/config/scalesim_cfg.h"

namespace {

namespace fs = std::filesystem;
using namespace qsim;

void evaluate(benchmark::State& state, const LayerGraph& g, const HwSpec& hw) {
  const AnalyticalBackend backend;
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, false});
  int64_t cycles = 0;
  for (auto _ : state) {
    const TimingReport r = backend.run(g, std::span<const LayerPrecision>(p), hw);
    cycles = r.total_cycles();
    benchmark::DoNotOptimize(cycles);
  }
  state.counters["layers"] = static_cast<double>(g.compute_layers().size());
  state.counters["total_cycles"] = static_cast<double>(cycles);
}

// Graphs and specs live for the whole run (registered benchmarks refer to them).
struct Case {
  std::string name;
  LayerGraph graph;
  HwSpec hw;
};
std::vector<std::unique_ptr<Case>>& cases() {
  static std::vector<std::unique_ptr<Case>> v;
  return v;
}

void add(std::string name, LayerGraph g, HwSpec hw) {
  auto& c = *cases().emplace_back(std::make_unique<Case>(Case{std::move(name), std::move(g), std::move(hw)}));
  benchmark::RegisterBenchmark(("analytical/" + c.name).c_str(),
                               [&c](benchmark::State& s) { evaluate(s, c.graph, c.hw); })
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const fs::path src = QSIM_SOURCE_DIR;
  const fs::path models = QSIM_MODEL_CACHE;
  const fs::path ref = fs::path(QSIM_SCALESIM_DIR);

  const fs::path resnet50 = models / "resnet50.onnx";
  if (fs::exists(resnet50)) {
    OnnxImportOptions io;
    io.keep_weights = false;
    LayerGraph g = import_model(resnet50.string(), io);
    for (const char* cfg : {"eyeriss", "tpu-like", "edge-lowmem", "scalesim-default"}) {
      const fs::path y = src / "configs" / (std::string(cfg) + ".yaml");
      if (fs::exists(y)) add(std::string("resnet50.onnx/") + cfg, g, load_hw_spec(y.string()));
    }
  } else {
    std::fprintf(stderr, "analytical_bench: %s is absent (scripts/export_torchvision.sh): ONNX cases skipped\n",
                 resnet50.c_str());
  }

  // The networks and configs SCALE-Sim ran (tests/data/scalesim/README.md): same inputs, via --topology.
  const std::pair<const char*, const char*> runs[] = {
      {"Resnet50.csv", "google_os"},        {"Resnet50.csv", "google_ws"},       {"Resnet18.csv", "eyeriss_ws"},
      {"Resnet18.csv", "eyeriss_os"},       {"Resnet18.csv", "google_ws"},       {"Resnet18.csv", "google_os"},
      {"Resnet18.csv", "google_is"},        {"Resnet50_subset.csv", "eyeriss_ws"},
      {"Resnet50_subset.csv", "eyeriss_os"}};
  for (const auto& [topo, cfg] : runs) {
    const fs::path t = ref / "topologies" / topo;
    const fs::path c = ref / "configs" / (std::string(cfg) + ".cfg");
    // The references are part of the checkout (tests/data/scalesim): a missing file is an error
    // (load_* throws naming it), never a silently shorter benchmark.
    add(fs::path(topo).stem().string() + "/" + cfg, import_scalesim_topology(t.string()), load_scalesim_cfg(c.string()).hw);
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
