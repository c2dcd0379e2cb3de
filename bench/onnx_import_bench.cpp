// Speed of ONNX import (parse, shape inference, folding, passes) on the
// torchvision exports in .cache/models and the light zoo models in
// tests/data/onnx-light, shapes only (what `qsim info` and the timing job use) and
// with weights (what the executors use). Models that are absent are skipped.
//   build/onnx_import_bench [--benchmark_filter=resnet50]
#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include "graph/onnx_import.h"

namespace {

namespace fs = std::filesystem;
using namespace qsim;

void import(benchmark::State& state, const std::string& path, bool keep_weights) {
  if (!fs::exists(path)) {
    state.SkipWithError(("missing " + path).c_str());
    return;
  }
  OnnxImportOptions o;
  o.keep_weights = keep_weights;
  std::size_t nodes = 0;
  for (auto _ : state) {
    const LayerGraph g = import_onnx(path, o);
    nodes = g.nodes().size();
    benchmark::DoNotOptimize(nodes);
  }
  state.counters["layers"] = static_cast<double>(nodes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(fs::file_size(path)));
}

void register_all() {
  const std::string models = QSIM_SOURCE_DIR "/.cache/models/";
  for (const char* m : {"resnet18", "resnet50", "mobilenet_v2", "squeezenet1_0", "vgg16"}) {
    const std::string path = models + m + ".onnx";
    benchmark::RegisterBenchmark((std::string("shapes_only/") + m).c_str(), import, path, false)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("with_weights/") + m).c_str(), import, path, true)
        ->Unit(benchmark::kMillisecond);
  }
  const std::string light = QSIM_SOURCE_DIR "/tests/data/onnx-light/";
  for (const char* m : {"light_densenet121", "light_inception_v2"}) {
    benchmark::RegisterBenchmark((std::string("shapes_only/") + m).c_str(), import, light + m + ".onnx", false)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
