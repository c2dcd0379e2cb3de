#include "quant/eval.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>

#include <fmt/format.h>

#include "graph/error.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace qsim {

namespace {

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

bool has_axis(std::span<const int64_t> axes, int64_t a) { return std::find(axes.begin(), axes.end(), a) != axes.end(); }

// Why node n is not per-sample along axis 0 (empty when it is).
std::string batch_blocker(const LayerGraph& g, const Node& n) {
  auto shape = [&](ValueId v) -> const Shape& { return g.value(v).shape; };
  switch (n.op) {
    case OpKind::kGemm: {
      const auto& a = std::get<GemmAttrs>(n.attrs);
      if (a.trans_a) return "Gemm with transA";
      if (g.value(n.inputs[0]).is_constant || !g.value(n.inputs[1]).is_constant) return "Gemm without constant B";
      return {};
    }
    case OpKind::kMatMul:
      if (g.value(n.inputs[0]).is_constant || !g.value(n.inputs[1]).is_constant) return "MatMul without constant B";
      if (shape(n.inputs[0]).size() < 2) return "MatMul of a vector";
      return {};
    case OpKind::kConcat:
    case OpKind::kFlatten:
      if (std::get<AxisAttrs>(n.attrs).axis == 0) return std::string(op_name(n.op)) + " over axis 0";
      return {};
    case OpKind::kSoftmax: {
      if (std::get<AxisAttrs>(n.attrs).axis == 0) return "Softmax over axis 0";
      return {};
    }
    case OpKind::kTranspose: {
      const auto& perm = std::get<AxesAttrs>(n.attrs).axes;
      if (perm.empty() || perm[0] != 0) return "Transpose moving axis 0";
      return {};
    }
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
      if (has_axis(std::get<AxesAttrs>(n.attrs).axes, 0)) return std::string(op_name(n.op)) + " of axis 0";
      return {};
    case OpKind::kPad: {
      const auto& p = std::get<PadAttrs>(n.attrs).pads;
      const std::size_t r = p.size() / 2;
      if (r > 0 && (p[0] != 0 || p[r] != 0)) return "Pad along axis 0";
      return {};
    }
    case OpKind::kBatchNorm:
      if (std::get<BatchNormAttrs>(n.attrs).training_mode) return "training-mode BatchNormalization";
      return {};
    case OpKind::kQuantizeLinear:
    case OpKind::kDequantizeLinear:
      if (shape_numel(shape(n.inputs[1])) > 1 && std::get<QuantLinearAttrs>(n.attrs).axis == 0)
        return std::string(op_name(n.op)) + " per axis 0";
      return {};
    default: return {};
  }
}

}  // namespace

std::optional<LayerGraph> rebatch(const LayerGraph& g, int64_t batch, std::string* why) {
  auto no = [&](std::string reason) -> std::optional<LayerGraph> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (g.inputs().empty()) return no("the graph has no inputs");
  const Shape& first = g.value(g.inputs()[0]).shape;
  if (first.empty()) return no("the input is a scalar");
  const int64_t b0 = first[0];
  if (b0 == batch) return g;
  // Constants broadcast against the batch axis only when it is 1.
  if (b0 != 1) return no(fmt::format("the model's batch is {}, not 1", b0));
  for (ValueId v : g.inputs())
    if (g.value(v).shape.empty() || g.value(v).shape[0] != b0) return no("graph inputs disagree on the batch size");
  for (const Value& v : g.values()) {
    if (v.is_constant) continue;
    if (v.shape.empty() || v.shape[0] != b0) return no(fmt::format("tensor '{}' ({}) has no batch axis", v.name, shape_str(v.shape)));
  }
  for (const Node& n : g.nodes()) {
    const std::string b = batch_blocker(g, n);
    if (!b.empty()) return no(fmt::format("node '{}': {}", n.name, b));
  }
  LayerGraph out = g;
  for (std::size_t i = 0; i < g.values().size(); ++i) {
    Value& v = out.value(static_cast<ValueId>(i));
    if (!v.is_constant) v.shape[0] = batch;
  }
  return out;
}

EvalBatching plan_eval_batching(const LayerGraph& g, const Dataset& data, int64_t requested, int workers) {
  if (g.inputs().size() != 1) fail("model '{}' has {} inputs; evaluation feeds exactly one", g.name, g.inputs().size());
  if (g.outputs().empty()) fail("model '{}' has no outputs", g.name);
  const Value& in = g.value(g.inputs()[0]);
  if (in.dtype != DType::kFloat32) fail("model '{}' takes {} input; evaluation feeds float32", g.name, dtype_name(in.dtype));
  if (in.shape.empty()) fail("model '{}' takes a scalar input", g.name);
  EvalBatching b;
  b.model_batch = in.shape[0];
  b.per_sample = b.model_batch > 0 ? shape_numel(in.shape) / b.model_batch : 0;
  if (b.per_sample != data.sample_numel())
    fail("model '{}' takes {} per sample ({} values), the data set {} gives {} ({} values)", g.name,
         shape_str(in.shape), b.per_sample, data.description(), shape_str(data.sample_shape()), data.sample_numel());
  const int64_t n = data.size();
  if (n == 0) fail("{}: the data set is empty", data.description());
  if (data.label(0) < 0) fail("{}: the data set has no labels", data.description());
  // Several samples per run amortise per-node overhead; the activations of a batch
  // should stay in L2, so large inputs keep small batches.
  b.want = requested;
  if (b.want <= 0) b.want = std::clamp<int64_t>(int64_t{64 * 1024} / std::max<int64_t>(b.per_sample, 1), 1, 16);
  b.want = std::min(b.want, std::max<int64_t>(1, (n + workers - 1) / workers));
  return b;
}

EvalResult evaluate(const LayerGraph& g, const Dataset& data, const EvalOptions& opts) {
  EvalResult r;
  r.workers = opts.threads > 0 ? opts.threads : ThreadPool::hardware_threads();
  // Plain variables, not a structured binding: the worker lambdas capture them (clang 14).
  const EvalBatching plan = plan_eval_batching(g, data, opts.batch, r.workers);
  const int64_t model_batch = plan.model_batch, per_sample = plan.per_sample, want = plan.want;
  const int64_t n = data.size();
  const LayerGraph* run_graph = &g;
  std::optional<LayerGraph> batched;
  if (want != model_batch) {
    batched = rebatch(g, want, &r.why_not_rebatched);
    if (batched) {
      run_graph = &*batched;
      r.rebatched = true;
    }
  }
  r.batch = run_graph->value(run_graph->inputs()[0]).shape[0];
  const Value& out0 = run_graph->value(run_graph->outputs()[0]);
  if (out0.dtype != DType::kFloat32) fail("model '{}': output 0 is {}, not float32 scores", g.name, dtype_name(out0.dtype));
  r.classes = shape_numel(out0.shape) / r.batch;
  r.has_top5 = r.classes > 5;
  r.samples = n;

  const int64_t batches = (n + r.batch - 1) / r.batch;
  r.workers = static_cast<int>(std::min<int64_t>(r.workers, batches));
  struct Worker {
    std::unique_ptr<Executor> ex;
    std::vector<Tensor> input, outputs;
    int64_t top1 = 0, top5 = 0;
  };
  std::vector<Worker> workers(static_cast<std::size_t>(r.workers));
  ThreadPool pool(r.workers);
  // Plans are built in parallel too (weight packing of big models takes a while).
  pool.parallel_for(r.workers, [&](int64_t w, int) {
    Worker& wk = workers[static_cast<std::size_t>(w)];
    wk.ex = std::make_unique<Executor>(*run_graph, ExecOptions{.threads = 1});
    wk.input.emplace_back(DType::kFloat32, run_graph->value(run_graph->inputs()[0]).shape);
  });

  std::atomic<int64_t> next{0};
  std::atomic<bool> label_error{false};
  std::string label_message;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
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
      wk.ex->run(wk.input, wk.outputs);
      const float* scores = wk.outputs[0].data<float>().data();
      for (int64_t i = 0; i < count; ++i) {
        const float* s = scores + i * r.classes;
        const int64_t label = data.label(first + i);
        if (label < 0 || label >= r.classes) {
          if (!label_error.exchange(true))
            label_message = fmt::format("{}: sample {} has label {}, but the model scores {} classes",
                                        data.description(), first + i, label, r.classes);
          break;
        }
        // Top-1 is numpy's argmax (first maximum); top-5 counts the classes that
        // score strictly higher than the true one.
        int64_t higher = 0;
        for (int64_t c = 0; c < r.classes; ++c) higher += s[c] > s[label];
        wk.top1 += std::max_element(s, s + r.classes) - s == label;
        wk.top5 += higher < 5;
      }
    }
  });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  if (label_error) fail("{}", label_message);
  for (const Worker& wk : workers) {
    r.top1_correct += wk.top1;
    r.top5_correct += wk.top5;
  }
  return r;
}

}  // namespace qsim
