// Whole-model float32 inference with the qsim executor (the qsim side of
// scripts/bench_executor.sh; ONNX Runtime's side is bench/ort/ort_bench.js).
//
//   executor_model_bench [--model M.onnx] [--input X.npy | --shape 1,3,224,224] [--threads N]
//                        [google benchmark flags]
// Default model: .cache/models/resnet50.onnx. Counters: peak_rss_mb (getrusage),
// arena_mb (activation memory after reuse).
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "graph/model_import.h"
#include "quant/executor.h"
#include "quant/npy.h"

namespace {

struct Config {
  std::string model = QSIM_MODEL_CACHE "/resnet50.onnx";
  std::string input;
  std::vector<int64_t> shape{1, 3, 224, 224};
  int threads = 2;
};
Config g_config;

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void BM_Inference(benchmark::State& st) {
  const qsim::LayerGraph g = qsim::import_model(g_config.model);
  qsim::Tensor x;
  if (!g_config.input.empty()) {
    x = qsim::read_npy(g_config.input);
  } else {
    x = qsim::Tensor(qsim::DType::kFloat32, g_config.shape);
    auto d = x.data<float>();
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<float>(i % 255) / 255.0f;
  }
  qsim::Executor ex(g, qsim::ExecOptions{.threads = g_config.threads});
  std::vector<qsim::Tensor> in{std::move(x)}, out;
  for (int i = 0; i < 3; ++i) ex.run(in, out);  // warm-up, as the ORT side does
  for (auto _ : st) {
    ex.run(in, out);
    benchmark::DoNotOptimize(out[0].bytes().data());
  }
  st.counters["threads"] = g_config.threads;
  st.counters["arena_mb"] = static_cast<double>(ex.arena_bytes()) / (1024.0 * 1024.0);
  st.counters["peak_rss_mb"] = peak_rss_mb();
  st.SetLabel(g_config.model);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") {
      g_config.model = value();
    } else if (a == "--input") {
      g_config.input = value();
    } else if (a == "--threads") {
      g_config.threads = std::atoi(value().c_str());
    } else if (a == "--shape") {
      g_config.shape.clear();
      const std::string s = value();
      for (std::size_t p = 0; p < s.size();) {
        const auto c = s.find(',', p);
        g_config.shape.push_back(std::atoll(s.substr(p, c - p).c_str()));
        p = c == std::string::npos ? s.size() : c + 1;
      }
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::RegisterBenchmark("executor/inference", BM_Inference)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
