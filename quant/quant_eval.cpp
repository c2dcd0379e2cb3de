#include "quant/quant_eval.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/eval.h"
#include "runtime/executor.h"
#include "quant/int_exec.h"
#include "quant/quant_fake.h"

namespace qsim {

std::optional<QuantMode> parse_quant_mode(std::string_view s) {
  if (s == "fake") return QuantMode::kFake;
  if (s == "int") return QuantMode::kInt;
  return std::nullopt;
}

std::string_view quant_mode_name(QuantMode m) { return m == QuantMode::kInt ? "int" : "fake"; }

double QuantModeResult::sqnr_db() const {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

namespace {

int64_t argmax(const float* s, int64_t n) { return std::max_element(s, s + n) - s; }

// One quantized executor of either kind behind one call.
struct QuantRunner {
  std::unique_ptr<FakeQuantExecutor> fake;
  std::unique_ptr<IntExecutor> integer;
  void run(std::span<const Tensor> in, std::vector<Tensor>& out) {
    if (fake) {
      fake->run(in, out);
    } else {
      integer->run(in, out);
    }
  }
};

}  // namespace

QuantEvalResult evaluate_quantized(const LayerGraph& g, const QuantSpec& spec, const Dataset& data,
                                   const QuantEvalOptions& opts) {
  if (opts.modes.empty()) throw std::logic_error("evaluate_quantized: no mode");
  QuantEvalResult r;
  r.workers = opts.threads > 0 ? opts.threads : ThreadPool::hardware_threads();
  // Plain variables, not a structured binding: the worker lambdas capture them (clang 14).
  const EvalBatching plan = plan_eval_batching(g, data, opts.batch, r.workers);
  const int64_t model_batch = plan.model_batch, per_sample = plan.per_sample, want = plan.want;
  const int64_t n = data.size();
  std::optional<LayerGraph> batched;
  if (want != model_batch) batched = rebatch(g, want);
  const LayerGraph& run_g = batched ? *batched : g;
  r.rebatched = batched.has_value();
  r.batch = run_g.value(run_g.inputs()[0]).shape[0];
  const Value& out0 = run_g.value(run_g.outputs()[0]);
  if (out0.dtype != DType::kFloat32) fail("model '{}': output 0 is {}, not float32 scores", g.name, dtype_name(out0.dtype));
  r.classes = shape_numel(out0.shape) / r.batch;
  r.samples = n;
  const QuantizedModel qm(run_g, spec);
  const QParams* out_q = qm.params(qm.graph().outputs()[0]);
  if (opts.keep_logits) r.logits = Tensor(DType::kFloat32, {n, r.classes});

  const int64_t batches = (n + r.batch - 1) / r.batch;
  r.workers = static_cast<int>(std::min<int64_t>(r.workers, batches));
  const std::size_t nm = opts.modes.size();
  struct Worker {
    std::unique_ptr<Executor> fp32;
    std::vector<QuantRunner> quant;
    std::vector<Tensor> input, out_f;
    std::vector<std::vector<Tensor>> out_q;
    int64_t fp32_correct = 0, modes_agree = 0;
    double max_abs = 0;
    std::vector<QuantModeResult> res;
  };
  std::vector<Worker> workers(static_cast<std::size_t>(r.workers));
  ThreadPool pool(r.workers);
  pool.parallel_for(r.workers, [&](int64_t w, int) {
    Worker& wk = workers[static_cast<std::size_t>(w)];
    wk.fp32 = std::make_unique<Executor>(run_g, ExecOptions{.threads = 1});
    for (QuantMode m : opts.modes) {
      QuantRunner qr;
      if (m == QuantMode::kFake) {
        qr.fake = std::make_unique<FakeQuantExecutor>(qm, ExecOptions{.threads = 1});
      } else {
        qr.integer = std::make_unique<IntExecutor>(qm, ExecOptions{.threads = 1});
      }
      wk.quant.push_back(std::move(qr));
      wk.res.push_back({.mode = m});
    }
    wk.out_q.resize(nm);
    wk.input.emplace_back(DType::kFloat32, run_g.value(run_g.inputs()[0]).shape);
  });

  std::atomic<int64_t> next{0};
  std::atomic<bool> label_error{false};
  std::string label_message;
  const auto t0 = std::chrono::steady_clock::now();
  pool.parallel_for(r.workers, [&](int64_t w, int) {
    Worker& wk = workers[static_cast<std::size_t>(w)];
    float* x = wk.input[0].data<float>().data();
    for (;;) {
      const int64_t b = next.fetch_add(1);
      if (b >= batches || label_error.load()) break;
      const int64_t first = b * r.batch;
      const int64_t count = std::min(r.batch, n - first);
      for (int64_t i = 0; i < count; ++i) data.load(first + i, x + i * per_sample);
      if (count < r.batch) std::fill(x + count * per_sample, x + r.batch * per_sample, 0.0f);
      wk.fp32->run(wk.input, wk.out_f);
      for (std::size_t m = 0; m < nm; ++m) {
        const auto q0 = std::chrono::steady_clock::now();
        wk.quant[m].run(wk.input, wk.out_q[m]);
        wk.res[m].seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - q0).count();
      }
      const float* fs = wk.out_f[0].data<float>().data();
      for (int64_t i = 0; i < count; ++i) {
        const int64_t label = data.label(first + i);
        if (label < 0 || label >= r.classes) {
          if (!label_error.exchange(true))
            label_message = fmt::format("{}: sample {} has label {}, but the model scores {} classes",
                                        data.description(), first + i, label, r.classes);
          break;
        }
        const float* f = fs + i * r.classes;
        const int64_t fa = argmax(f, r.classes);
        wk.fp32_correct += fa == label;
        int64_t a0 = -1;
        for (std::size_t m = 0; m < nm; ++m) {
          const float* q = wk.out_q[m][0].data<float>().data() + i * r.classes;
          const int64_t qa = argmax(q, r.classes);
          QuantModeResult& res = wk.res[m];
          res.top1_correct += qa == label;
          res.agree_fp32 += qa == fa;
          for (int64_t c = 0; c < r.classes; ++c) {
            res.signal += static_cast<double>(f[c]) * f[c];
            const double d = static_cast<double>(f[c]) - q[c];
            res.noise += d * d;
          }
          if (m == 0) {
            a0 = qa;
            if (r.logits) std::copy(q, q + r.classes, r.logits->data<float>().data() + (first + i) * r.classes);
          } else if (m == 1) {
            wk.modes_agree += qa == a0;
            const float* q0 = wk.out_q[0][0].data<float>().data() + i * r.classes;
            for (int64_t c = 0; c < r.classes; ++c) wk.max_abs = std::max(wk.max_abs, std::abs(static_cast<double>(q[c]) - q0[c]));
          }
        }
      }
    }
  });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (label_error) fail("{}", label_message);
  r.modes.resize(nm);
  for (std::size_t m = 0; m < nm; ++m) r.modes[m].mode = opts.modes[m];
  for (const Worker& wk : workers) {
    r.fp32_correct += wk.fp32_correct;
    r.modes_agree += wk.modes_agree;
    r.modes_max_abs_diff = std::max(r.modes_max_abs_diff, wk.max_abs);
    for (std::size_t m = 0; m < nm; ++m) {
      r.modes[m].top1_correct += wk.res[m].top1_correct;
      r.modes[m].agree_fp32 += wk.res[m].agree_fp32;
      r.modes[m].signal += wk.res[m].signal;
      r.modes[m].noise += wk.res[m].noise;
      r.modes[m].seconds += wk.res[m].seconds;
    }
  }
  if (out_q) r.modes_max_diff_steps = r.modes_max_abs_diff / out_q->scale;
  return r;
}

}  // namespace qsim
