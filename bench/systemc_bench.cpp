// Speed of the SystemC backend (docs/systemc.md, "Speed"), printed with the load
// average (figures under load are indicative):
//   - simulated cycles per second of the array alone (unlimited DRAM), 16x16 and
//     32x32, one weight-stationary GEMM with a long stream (K and N fill the array,
//     M = 200k streamed rows): with real operand values (PEs computing) and timing
//     only, each stepped cycle by cycle and with fast-forward (effective rate);
//   - the wall time of a full resnet50 (.cache/models) on configs/eyeriss.yaml.
// Targets: >= 2 M effective simulated cycles/s at 16x16; resnet50 on eyeriss within 30 s.
//
//   build/bench/systemc_bench
//
// A thin sc_main: libsystemc's main() calls it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <systemc>

#include "graph/model_import.h"
#include "graph/scalesim_topology.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/systemc/systemc_backend.h"

namespace {

using namespace qsim;
using Clock = std::chrono::steady_clock;

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

class Values : public LayerValueSource {
 public:
  explicit Values(const GemmView& g) {
    std::mt19937 rng(1);
    for (int64_t i = 0; i < g.M * g.K; ++i) v_.a.push_back(static_cast<int32_t>(rng() % 256));
    for (int64_t i = 0; i < g.K * g.N; ++i) v_.b.push_back(static_cast<int32_t>(rng() % 255) - 127);
  }
  const GemmValues* operands(std::size_t) override { return &v_; }
  void accumulators(std::size_t, std::span<const int64_t>) override {}

 private:
  GemmValues v_;
};

struct Rate {
  double cycles_per_s = 0;
  int64_t cycles = 0;
};

Rate array_rate(int64_t n, bool values, bool fast_forward) {
  const int64_t M = 200000;
  const LayerGraph g = import_scalesim_topology_text(
      "Layer,M,N,K,\nG," + std::to_string(M) + "," + std::to_string(n) + "," + std::to_string(n) + ",\n", "bench.csv");
  HwSpec hw;
  hw.name = "bench";
  hw.array = {n, n, Dataflow::kWS, 1000.0};
  hw.pe.widths = {8};
  hw.memory.ifmap_kib = hw.memory.filter_kib = hw.memory.ofmap_kib = 64;
  hw.memory.dram_unlimited = true;
  hw.vector.lanes = n;
  Values v(g.stats(g.compute_layers()[0]).gemm);
  SystemcOptions o;
  o.values = values ? &v : nullptr;
  o.fast_forward = fast_forward;
  const SystemcBackend b(o);
  const std::vector<LayerPrecision> p(1, LayerPrecision{8, 8, false});
  double best = 0;
  int64_t cycles = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    const TimingReport r = b.run(g, std::span<const LayerPrecision>(p), hw);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    cycles = r.total_cycles();
    best = std::max(best, static_cast<double>(cycles) / s);
  }
  return {best, cycles};
}

}  // namespace

int sc_main(int, char*[]) {
  std::printf("load average: %s (figures under load are indicative)\n\n", load_average().c_str());
  std::printf("array alone, ws GEMM of 200k streamed rows, best of 3 (simulated cycles per second):\n");
  std::printf("%-7s %-8s %18s %18s %9s\n", "array", "mode", "cycle by cycle", "fast-forward", "speed-up");
  double ff16 = 0;
  for (int64_t n : {16, 32})
    for (bool values : {true, false}) {
      const Rate step = array_rate(n, values, false);
      const Rate ff = array_rate(n, values, true);
      if (n == 16 && values) ff16 = ff.cycles_per_s;
      std::printf("%2ldx%-4ld %-8s %16.3f M %16.3f M %8.1fx\n", static_cast<long>(n), static_cast<long>(n),
                  values ? "values" : "timing", step.cycles_per_s / 1e6, ff.cycles_per_s / 1e6,
                  ff.cycles_per_s / step.cycles_per_s);
      std::fflush(stdout);
    }

  const std::string model = std::string(QSIM_MODEL_CACHE) + "/resnet50.onnx";
  double r50 = -1;
  if (std::filesystem::exists(model)) {
    OnnxImportOptions io;
    io.keep_weights = false;
    const LayerGraph g = import_model(model, io);
    const HwSpec hw = load_hw_spec(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml");
    const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, false});
    const SystemcBackend b;
    const auto t0 = Clock::now();
    const TimingReport r = b.run(g, std::span<const LayerPrecision>(p), hw);
    r50 = std::chrono::duration<double>(Clock::now() - t0).count();
    const SystemcStats st = b.last_stats();
    std::printf("\nresnet50 on eyeriss.yaml (8/8, timing): %.2f s wall for %ld simulated cycles (%.1f M/s effective), "
                "%ld array cycles stepped, %ld fast-forwarded; %ld Requantize/Vector steps simulated (%ld cycles)\n",
                r50, static_cast<long>(r.total_cycles()), static_cast<double>(r.total_cycles()) / r50 / 1e6,
                static_cast<long>(st.stepped_cycles), static_cast<long>(st.forwarded_cycles),
                static_cast<long>(st.vector_steps), static_cast<long>(st.vector_cycles));
  } else {
    std::printf("\nresnet50: %s is absent (scripts/export_torchvision.sh)\n", model.c_str());
  }
  std::printf("\ntargets: 16x16 effective with values %.2f M cycles/s (target >= 2 M: %.2fx); resnet50 on eyeriss "
              "%.2f s (target <= 30 s: %.1fx)\n",
              ff16 / 1e6, ff16 / 2e6, r50, r50 > 0 ? 30.0 / r50 : 0.0);
  return 0;
}
