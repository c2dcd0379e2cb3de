// Quantized inference speed: the float32 executor, the fake-quant executor and the
// integer executor on the same model and input, side by side (docs/quantization.md).
//
//   quant_bench [--model M.onnx] [--threads N] [--rounds R] [--runs N] [--bits B | --wbits W --abits A]
//               [--per-channel] [--calib-samples N] [--profile]
//
// Default model: .cache/models/resnet50.onnx (scripts/export_torchvision.sh), input the
// pattern (i % 255) / 255 of bench/ort/ort_bench.js; it is calibrated (min-max) on
// that pattern and shifted copies of it (speed only: the weights are random). A model
// with a 1x28x28 input is calibrated on Fashion-MNIST's train split and timed on its
// first test batch instead. Each round times `runs` inferences of every executor
// after a warm-up, the executors' order rotating per round; the result is the median
// over rounds of each round's median, and the ratios to float32. One JSON line:
//   {"model", "threads", "float_ms", "fake_ms", "int_ms", "fake_ratio", "int_ratio", "float_cpu_ms", ...,
//    "fake_cpu_ratio", "int_cpu_ratio", "rounds", "runs", ...}
// (*_cpu_ms: CPU time of all threads per inference, mean over the timed runs.)
// --profile prints, for the fake-quant executor (hooks included) and the integer one,
// the milliseconds per inference of each operator type and of the slowest nodes.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/model_import.h"
#include "data/dataset.h"
#include "quant/eval.h"
#include "runtime/executor.h"
#include "quant/int_exec.h"
#include "quant/quant_fake.h"
#include "quant/quant_model.h"

namespace {

using namespace qsim;

// Samples of the bench input: the pattern shifted by k (a calibration set for speed runs).
class PatternData final : public Dataset {
 public:
  explicit PatternData(Shape s) : shape_(std::move(s)) {}
  int64_t size() const override { return 8; }
  const Shape& sample_shape() const override { return shape_; }
  void load(int64_t k, float* dst) const override {
    const int64_t n = sample_numel();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>((i + 17 * k) % 255) / 255.0f;
  }
  int64_t label(int64_t) const override { return 0; }
  std::string description() const override { return "pattern"; }

 private:
  Shape shape_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.empty() ? 0.0 : v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

int run(int argc, char** argv) {
  std::string model = QSIM_MODEL_CACHE "/resnet50.onnx";
  int threads = 2, rounds = 5, runs = 10, bits = 8, wbits = 0, abits = 0;
  int64_t calib_samples = 64;
  bool per_channel = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("{} needs a value", a);
      return argv[++i];
    };
    if (a == "--model") model = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--bits") bits = std::stoi(next());
    else if (a == "--wbits") wbits = std::stoi(next());
    else if (a == "--abits") abits = std::stoi(next());
    else if (a == "--calib-samples") calib_samples = std::stoll(next());
    else if (a == "--per-channel") per_channel = true;
    else if (a == "--profile") profile = true;
    else fail("quant_bench: unknown option {}", a);
  }
  const LayerGraph g0 = import_model(model);
  const Shape in_shape = g0.value(g0.inputs()[0]).shape;
  const bool fmnist = shape_numel(in_shape) / in_shape[0] == 28 * 28;
  // Fashion-MNIST models run re-batched to 16, as qsim eval does.
  std::optional<LayerGraph> batched;
  if (fmnist) batched = rebatch(g0, 16);
  const LayerGraph& g = batched ? *batched : g0;
  const Shape shape = g.value(g.inputs()[0]).shape;

  std::unique_ptr<Dataset> calib, test;
  if (fmnist) {
    calib = load_fashion_mnist("", Split::kTrain);
    test = load_fashion_mnist("", Split::kTest, shape[0]);
  } else {
    calib = std::make_unique<PatternData>(Shape(shape.begin() + 1, shape.end()));
  }
  const PrecisionAlloc alloc = PrecisionAlloc::uniform(g0, wbits ? wbits : bits, abits ? abits : bits, per_channel);
  QuantOptions qo;
  qo.calib_samples = calib_samples;
  qo.threads = threads;
  const QuantSpec spec = calibrate(g0, alloc, "bench", *calib, qo);
  const QuantizedModel qm(g, spec);

  Tensor x(DType::kFloat32, shape);
  auto xd = x.data<float>();
  if (test) {
    for (int64_t i = 0; i < shape[0]; ++i) test->load(i, xd.data() + i * test->sample_numel());
  } else {
    for (std::size_t i = 0; i < xd.size(); ++i) xd[i] = static_cast<float>(i % 255) / 255.0f;
  }
  ThreadPool pool(threads);
  Executor fp(g, ExecOptions{.pool = &pool});
  FakeQuantExecutor fake(qm, ExecOptions{.pool = &pool, .profile = profile});
  IntExecutor integer(qm, ExecOptions{.pool = &pool, .profile = profile});
  std::vector<Tensor> in{x}, out;
  // CPU time of the whole process (every thread): on a shared machine it counts only
  // the time the executor ran, not the time another process had its core.
  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
  };
  double cpu_sum[3] = {0, 0, 0};
  auto time_one = [&](int which) {
    const double c0 = cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    if (which == 0) fp.run(in, out);
    if (which == 1) fake.run(in, out);
    if (which == 2) integer.run(in, out);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    cpu_sum[which] += cpu_ms() - c0;
    return ms;
  };
  for (int w = 0; w < 3; ++w)
    for (int k = 0; k < 2; ++k) time_one(w);
  for (double& c : cpu_sum) c = 0;
  std::vector<double> med[3];
  for (int r = 0; r < rounds; ++r) {
    for (int j = 0; j < 3; ++j) {
      const int which = (r + j) % 3;
      std::vector<double> ms;
      for (int k = 0; k < runs; ++k) ms.push_back(time_one(which));
      med[which].push_back(median(ms));
    }
  }
  const double f = median(med[0]), q = median(med[1]), i = median(med[2]);
  const double per_run = 1.0 / (static_cast<double>(rounds) * runs);
  const double fc = cpu_sum[0] * per_run, qc = cpu_sum[1] * per_run, ic = cpu_sum[2] * per_run;
  if (profile) {
    const double runs_total = 2.0 + static_cast<double>(rounds) * runs;  // warm-ups included
    const auto show = [&](const char* name, std::span<const double> secs) {
      std::map<std::string, double> by_op;
      std::vector<std::pair<double, NodeId>> by_node;
      for (std::size_t n = 0; n < secs.size(); ++n) {
        by_op[std::string(op_name(qm.graph().node(static_cast<NodeId>(n)).op))] += secs[n];
        by_node.emplace_back(secs[n], static_cast<NodeId>(n));
      }
      std::fprintf(stderr, "%s executor, ms per inference by operator:\n", name);
      for (const auto& [op, t] : by_op)
        if (t > 0) std::fprintf(stderr, "%8.3f  %s\n", t * 1e3 / runs_total, op.c_str());
      std::sort(by_node.rbegin(), by_node.rend());
      std::fprintf(stderr, "%s executor, slowest nodes:\n", name);
      for (std::size_t k = 0; k < std::min<std::size_t>(std::getenv("QSIM_PROFILE") ? by_node.size() : 15, by_node.size()); ++k)
        std::fprintf(stderr, "%8.3f ms  %s (%s)\n", by_node[k].first * 1e3 / runs_total,
                     qm.graph().node(by_node[k].second).name.c_str(),
                     std::string(qrole_name(qm.role(by_node[k].second))).c_str());
    };
    show("fake-quant", fake.executor().node_seconds());
    show("integer", integer.node_seconds());
  }
  std::printf("%s\n", fmt::format("{{\"model\": \"{}\", \"batch\": {}, \"threads\": {}, \"wbits\": {}, \"abits\": {}, "
                                  "\"float_ms\": {:.3f}, \"fake_ms\": {:.3f}, \"int_ms\": {:.3f}, \"fake_ratio\": {:.3f}, "
                                  "\"int_ratio\": {:.3f}, \"float_cpu_ms\": {:.3f}, \"fake_cpu_ms\": {:.3f}, "
                                  "\"int_cpu_ms\": {:.3f}, \"fake_cpu_ratio\": {:.3f}, \"int_cpu_ratio\": {:.3f}, "
                                  "\"rounds\": {}, \"runs\": {}, \"exact_fake_layers\": {}, \"compute_layers\": {}}}",
                                  g.name, shape[0], threads, wbits ? wbits : bits, abits ? abits : bits, f, q, i, q / f,
                                  i / f, fc, qc, ic, qc / fc, ic / fc, rounds, runs, qm.exact_layers(),
                                  qm.compute_layer_count())
                          .c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quant_bench: %s\n", e.what());
    return 2;
  }
}
