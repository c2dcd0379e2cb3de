// Whole-model float32 inference with the qsim executor (the qsim side of
// scripts/bench_executor.sh; ONNX Runtime's side is bench/ort/ort_bench.js).
//
//   executor_model_bench [--model M.onnx] [--input X.npy | --shape 1,3,224,224] [--threads N]
//                        [--iterations N] [google benchmark flags]
// Default model: .cache/models/resnet50.onnx; the default input is the pattern
// (i % 255) / 255 that bench/ort/ort_bench.js feeds too. Counters: median_ms and min_ms
// (per run), peak_rss_mb (getrusage),
// arena_mb (activation memory after reuse; unshared_mb without it), cpu_ms_per_run (user + system time of all
// threads per inference). QSIM_PROFILE=1 also prints the slowest nodes (each node's
// fastest of 15 runs, so a run in which another process took the core does not count).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "graph/model_import.h"
#include "runtime/executor.h"
#include "data/npy.h"

namespace {

struct Config {
  std::string model = QSIM_MODEL_CACHE "/resnet50.onnx";
  std::string input;
  std::vector<int64_t> shape{1, 3, 224, 224};
  int threads = 2;
  int64_t iterations = 0;  // 0: let Google Benchmark decide
};
Config g_config;

double cpu_seconds() {  // user + system time of every thread of the process
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

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
  const double cpu0 = cpu_seconds();
  std::vector<double> ms;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    ex.run(in, out);
    benchmark::DoNotOptimize(out[0].bytes().data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t m = ms.size() / 2;
  st.counters["median_ms"] = ms.empty() ? 0.0 : ms.size() % 2 ? ms[m] : (ms[m - 1] + ms[m]) / 2;
  st.counters["min_ms"] = ms.empty() ? 0.0 : ms.front();
  // CPU time per inference over all threads: less sensitive than wall time to other
  // processes competing for the cores.
  st.counters["cpu_ms_per_run"] = (cpu_seconds() - cpu0) * 1e3 / static_cast<double>(st.iterations());
  if (std::getenv("QSIM_PROFILE")) {
    // Per-node times, slowest first: each node's fastest of 15 extra runs, so a run
    // in which another process took the core does not count (the machine is shared).
    qsim::Executor prof(g, qsim::ExecOptions{.threads = g_config.threads, .profile = true});
    const std::size_t nn = prof.node_seconds().size();
    std::vector<double> best(nn, 1e30), before(nn, 0.0);
    for (int i = 0; i < 15; ++i) {
      prof.run(in, out);
      for (std::size_t k = 0; k < nn; ++k) {
        best[k] = std::min(best[k], prof.node_seconds()[k] - before[k]);
        before[k] = prof.node_seconds()[k];
      }
    }
    std::vector<std::pair<double, qsim::NodeId>> t;
    for (std::size_t i = 0; i < nn; ++i) t.emplace_back(best[i], static_cast<qsim::NodeId>(i));
    std::sort(t.rbegin(), t.rend());
    double total = 0;
    for (auto& [s, id] : t) total += s;
    std::fprintf(stderr, "sum of per-node minima %.3f ms per run\n", total * 1e3);
    std::map<std::string, std::pair<double, int64_t>> by_op;  // seconds, MACs
    for (auto& [sec, id] : t) {
      const auto& n = g.node(id);
      auto& e = by_op[std::string(qsim::op_name(n.op))];
      e.first += sec;
      if (qsim::is_compute(n.op)) e.second += g.stats(id).macs;
    }
    for (const auto& [op, e] : by_op)
      std::fprintf(stderr, "  %-20s %8.3f ms %6.1f GFLOP/s\n", op.c_str(), e.first * 1e3,
                   e.second ? 2.0 * static_cast<double>(e.second) / e.first * 1e-9 : 0.0);
    // QSIM_PROFILE=all lists every node, otherwise the 25 slowest.
    const std::size_t shown = std::string(std::getenv("QSIM_PROFILE")) == "all" ? t.size() : 25;
    for (std::size_t i = 0; i < std::min<std::size_t>(t.size(), shown); ++i) {
      const auto& n = g.node(t[i].second);
      const auto& y = g.value(n.outputs[0]).shape;
      double gflops = 0;
      if (qsim::is_compute(n.op)) gflops = 2.0 * static_cast<double>(g.stats(t[i].second).macs) / t[i].first * 1e-9;
      std::fprintf(stderr, "%8.3f ms  %-30s %-12s %-18s %6.1f GFLOP/s\n", t[i].first * 1e3, n.name.c_str(),
                   std::string(qsim::op_name(n.op)).c_str(), qsim::shape_str(y).c_str(), gflops);
    }
  }
  st.counters["threads"] = g_config.threads;
  st.counters["arena_mb"] = static_cast<double>(ex.arena_bytes()) / (1024.0 * 1024.0);
  st.counters["unshared_mb"] = static_cast<double>(ex.unshared_bytes()) / (1024.0 * 1024.0);
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
    } else if (a == "--iterations") {
      g_config.iterations = std::atoll(value().c_str());
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
  auto* b = benchmark::RegisterBenchmark("executor/inference", BM_Inference)->Unit(benchmark::kMillisecond)->UseRealTime();
  if (g_config.iterations > 0) b->Iterations(g_config.iterations);
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
