#include "quant/calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/eval.h"
#include "quant/quant_plan.h"
#include "runtime/conv.h"
#include "runtime/executor.h"
#include "runtime/gemm.h"

namespace qsim {

std::vector<int64_t> calibration_indices(int64_t size, int64_t n) {
  n = std::min(n, size);
  std::vector<int64_t> idx(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i * size / n;
  return idx;
}

namespace {

// Mean over output positions of the layer applied to the mean input with weights
// dw (the weight quantization error): the expected output error per channel.
std::vector<float> expected_error(const LayerGraph& g, NodeId id, const LayerWeights& lw, const Tensor& dw,
                                  std::span<const double> mean_x, ThreadPool& pool) {
  const Node& n = g.node(id);
  std::vector<float> out(static_cast<std::size_t>(lw.channels), 0.0f);
  if (n.op == OpKind::kConv) {
    Shape xs = g.value(n.inputs[0]).shape, ys = g.value(n.outputs[0]).shape;
    xs[0] = 1;
    ys[0] = 1;
    std::vector<float> x(mean_x.begin(), mean_x.end());
    std::vector<float> y(static_cast<std::size_t>(shape_numel(ys)));
    ConvKernel k(xs, ys, dw.shape(), dw.data<float>().data(), std::get<ConvAttrs>(n.attrs), Activation{}, pool.size());
    gemm::Workspace ws;
    ws.reserve(pool.size(), k.workspace_floats());
    k.run(x.data(), nullptr, nullptr, y.data(), pool, ws);
    const int64_t plane = shape_numel(ys) / lw.channels;
    for (int64_t c = 0; c < lw.channels; ++c) {
      double s = 0;
      for (int64_t i = 0; i < plane; ++i) s += y[static_cast<std::size_t>(c * plane + i)];
      out[static_cast<std::size_t>(c)] = static_cast<float>(s / static_cast<double>(plane));
    }
    return out;
  }
  // Gemm / MatMul: rows of A are samples (or positions); mean_x is the mean row.
  const int64_t K = static_cast<int64_t>(mean_x.size());
  const auto d = dw.data<float>();
  for (int64_t c = 0; c < lw.channels; ++c) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t idx = lw.axis == 0 ? c * K + k : k * lw.channels + c;
      s += static_cast<double>(d[static_cast<std::size_t>(idx)]) * mean_x[static_cast<std::size_t>(k)];
    }
    out[static_cast<std::size_t>(c)] = static_cast<float>(s);
  }
  return out;
}

}  // namespace

ActivationStats ActivationStats::collect(const LayerGraph& g, const Dataset& calib, const QuantOptions& o,
                                         std::span<const ValueId> values) {
  if (o.acc_bits < 16 || o.acc_bits > 32) fail("accumulator width {} is outside 16..32", o.acc_bits);
  if (g.inputs().size() != 1) fail("model '{}' has {} inputs; calibration feeds one", g.name, g.inputs().size());
  const Value& in = g.value(g.inputs()[0]);
  if (in.dtype != DType::kFloat32 || in.shape.empty()) fail("model '{}': calibration needs a float32 input with a batch axis", g.name);
  const int64_t model_batch = in.shape[0];
  const int64_t per_sample = shape_numel(in.shape) / std::max<int64_t>(model_batch, 1);
  if (per_sample != calib.sample_numel())
    fail("model '{}' takes {} per sample, the calibration data {} gives {}", g.name, shape_str(in.shape),
         calib.description(), shape_str(calib.sample_shape()));
  if (o.calib_samples <= 0) fail("--calib-samples {}: must be positive", o.calib_samples);
  const std::vector<int64_t> idx = calibration_indices(calib.size(), o.calib_samples);
  if (idx.empty()) fail("{}: no calibration samples", calib.description());

  ActivationStats out;
  out.o_ = o;
  out.samples_ = static_cast<int64_t>(idx.size());

  // Observers run on a re-batched copy when the graph allows it (ids are unchanged).
  const int64_t want_batch = std::min<int64_t>(16, static_cast<int64_t>(idx.size()));
  std::optional<LayerGraph> batched;
  if (want_batch != model_batch) batched = rebatch(g, want_batch);
  const LayerGraph& run_g = batched ? *batched : g;
  const int64_t batch = run_g.value(run_g.inputs()[0]).shape[0];

  const std::size_t nv = g.values().size();
  std::vector<char> observed(nv, 0);
  if (values.empty()) {
    for (std::size_t v = 0; v < nv; ++v) {
      const Value& x = g.value(static_cast<ValueId>(v));
      observed[v] = !x.is_constant && x.dtype == DType::kFloat32;
    }
  } else {
    for (ValueId v : values) observed[static_cast<std::size_t>(v)] = 1;
  }
  std::vector<TensorStats> stats(nv);
  // Bias correction: running sums of each compute layer's input, per sample position.
  std::vector<std::vector<double>> mean_in(nv);
  std::vector<char> want_mean(nv, 0);
  if (o.bias_correction)
    for (NodeId id : g.compute_layers())
      if (layer_weights(g, id)) want_mean[static_cast<std::size_t>(g.node(id).inputs[0])] = 1;

  ThreadPool pool(o.threads);
  Executor ex(run_g, ExecOptions{.pool = &pool});
  std::vector<Tensor> input{Tensor(DType::kFloat32, run_g.value(run_g.inputs()[0]).shape)}, outputs;
  int pass = 1;
  int64_t valid = 0;  // samples of the current batch (the tail batch is padded)
  auto observe = [&](ValueId v, const float* data) {
    const auto uv = static_cast<std::size_t>(v);
    const int64_t per = shape_numel(run_g.value(v).shape) / batch;
    const std::span<const float> x(data, static_cast<std::size_t>(per * valid));
    if (observed[uv]) {
      if (pass == 1) {
        stats[uv].observe_minmax(x);
      } else {
        stats[uv].observe_histograms(x);
      }
    }
    if (pass == 1 && want_mean[uv]) {
      auto& m = mean_in[uv];
      if (m.empty()) m.assign(static_cast<std::size_t>(per), 0.0);
      for (int64_t s = 0; s < valid; ++s)
        for (int64_t i = 0; i < per; ++i) m[static_cast<std::size_t>(i)] += x[static_cast<std::size_t>(s * per + i)];
    }
  };
  for (NodeId id : run_g.topo_order()) {
    const Node& n = run_g.node(id);
    bool any = false;
    for (ValueId v : n.outputs) any = any || (v >= 0 && (observed[static_cast<std::size_t>(v)] || want_mean[static_cast<std::size_t>(v)]));
    if (!any) continue;
    ex.add_hook(id, [&, id](NodeId, std::span<const TensorRef> outs) {
      const Node& nn = run_g.node(id);
      for (std::size_t k = 0; k < nn.outputs.size(); ++k) {
        const ValueId v = nn.outputs[k];
        if (v >= 0 && outs[k].dtype == DType::kFloat32 && (observed[static_cast<std::size_t>(v)] || want_mean[static_cast<std::size_t>(v)]))
          observe(v, static_cast<const float*>(outs[k].data));
      }
    });
  }
  const ValueId in_v = run_g.inputs()[0];
  auto run_pass = [&]() {
    for (std::size_t first = 0; first < idx.size(); first += static_cast<std::size_t>(batch)) {
      valid = std::min<int64_t>(batch, static_cast<int64_t>(idx.size() - first));
      float* x = input[0].data<float>().data();
      for (int64_t s = 0; s < batch; ++s) {
        if (s < valid) {
          calib.load(idx[first + static_cast<std::size_t>(s)], x + s * per_sample);
        } else {
          std::fill(x + s * per_sample, x + (s + 1) * per_sample, 0.0f);
        }
      }
      observe(in_v, x);
      ex.run(input, outputs);
      ++out.runs_;
    }
  };
  run_pass();
  if (needs_histogram(o.calib)) {
    for (std::size_t v = 0; v < nv; ++v)
      if (observed[v]) stats[v].start_histograms(o.calib_params, o.calib == CalibMethod::kKl);
    pass = 2;
    run_pass();
  }
  for (std::size_t v = 0; v < nv; ++v) {
    const std::string& name = g.value(static_cast<ValueId>(v)).name;
    if (observed[v]) out.stats_.emplace(name, std::move(stats[v]));
    if (!mean_in[v].empty()) out.mean_in_.emplace(name, std::move(mean_in[v]));
  }
  out.calibration_ = {{"method", std::string(calib_method_name(o.calib))},
                      {"samples", static_cast<int64_t>(idx.size())},
                      {"data", calib.description()},
                      {"selection", "evenly spaced: sample floor(i * size / samples)"},
                      {"weight_clip", std::string(weight_clip_name(o.weight_clip))},
                      {"bias_correction", o.bias_correction}};
  if (o.calib == CalibMethod::kPercentile) out.calibration_["percentile"] = o.calib_params.percentile;
  if (needs_histogram(o.calib)) out.calibration_["bins"] = o.calib_params.bins;
  return out;
}

QParams ActivationStats::params(std::string_view tensor, int bits) const {
  const auto it = stats_.find(std::string(tensor));
  if (it == stats_.end()) throw std::logic_error("ActivationStats: tensor not observed: " + std::string(tensor));
  return choose_params(it->second, o_.calib, o_.calib_params, ActEncoding{bits, o_.act_symmetric});
}

QuantSpec ActivationStats::spec(const LayerGraph& h, const PrecisionAlloc& alloc, std::string_view alloc_source,
                                std::span<const int> input_widths,
                                const std::map<std::string, QParams>* input_params) const {
  const std::vector<LayerPrecision> prec = alloc.resolve(h, alloc_source);
  const QuantPlan plan = plan_quantization(h, prec, input_widths);
  QuantSpec spec;
  spec.alloc = alloc;
  spec.alloc.model = h.name;
  spec.acc_bits = o_.acc_bits;
  spec.act_symmetric = o_.act_symmetric;

  const auto compute = h.compute_layers();
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const NodeId id = compute[i];
    if (plan.role[static_cast<std::size_t>(id)] != QRole::kCompute) continue;
    const std::string& name = h.node(id).name;
    const auto key = std::make_pair(name, prec[i].per_channel ? prec[i].wbits : -prec[i].wbits);
    std::optional<LayerWeights> lw;
    QuantSpec::Layer l;
    {
      std::lock_guard lock(*mutex_);
      if (const auto it = weight_scales_.find(key); it != weight_scales_.end()) l.weight_scales = it->second;
    }
    if (l.weight_scales.empty()) {
      lw = layer_weights(h, id);
      l.weight_scales = weight_scales(lw->w, lw->axis, prec[i].wbits, prec[i].per_channel, o_.weight_clip);
      std::lock_guard lock(*mutex_);
      weight_scales_.emplace(key, l.weight_scales);
    }
    if (o_.bias_correction) {
      const std::string& xname = h.value(h.node(id).inputs[0]).name;
      const auto mit = mean_in_.find(xname);
      if (mit != mean_in_.end()) {
        if (!lw) lw = layer_weights(h, id);
        const double count = static_cast<double>(samples_);
        std::vector<double> mean(mit->second.size());
        for (std::size_t k = 0; k < mean.size(); ++k) mean[k] = mit->second[k] / count;
        if (h.node(id).op != OpKind::kConv) {
          // Rows of A (all leading dimensions) are averaged into one K-vector.
          const int64_t K = h.value(h.node(id).inputs[0]).shape.back();
          std::vector<double> row(static_cast<std::size_t>(K), 0.0);
          const int64_t rows = static_cast<int64_t>(mean.size()) / K;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < K; ++k) row[static_cast<std::size_t>(k)] += mean[static_cast<std::size_t>(r * K + k)] / rows;
          mean = std::move(row);
        }
        const QuantizedWeights qw = quantize_weights(lw->w, lw->axis, prec[i].wbits, l.weight_scales);
        Tensor dw = lw->w;
        auto d = dw.data<float>();
        const int64_t inner = [&] {
          int64_t s = 1;
          for (std::size_t a = static_cast<std::size_t>(lw->axis) + 1; a < lw->w.shape().size(); ++a) s *= lw->w.shape()[a];
          return s;
        }();
        for (std::size_t k = 0; k < d.size(); ++k) {
          const int64_t c = (static_cast<int64_t>(k) / inner) % lw->channels;
          d[k] = static_cast<float>(qw.q[k]) * qw.scale_of(c) - d[k];
        }
        ThreadPool one(1);
        l.bias_correction = expected_error(h, id, *lw, dw, mean, one);
      }
    }
    spec.layers[name] = std::move(l);
  }
  for (const auto& [v, bits] : plan.required) {
    const std::string& name = h.value(v).name;
    if (input_params) {
      const auto it = input_params->find(name);
      if (it != input_params->end() && it->second.bits == bits) {
        spec.set(name, it->second);
        continue;
      }
    }
    spec.set(name, params(name, bits));
  }
  spec.calibration = calibration_;
  return spec;
}

QuantSpec calibrate(const LayerGraph& g, const PrecisionAlloc& alloc, std::string_view alloc_source,
                    const Dataset& calib, const QuantOptions& o) {
  if (o.acc_bits < 16 || o.acc_bits > 32) fail("accumulator width {} is outside 16..32", o.acc_bits);
  const std::vector<LayerPrecision> prec = alloc.resolve(g, alloc_source);
  const QuantPlan plan = plan_quantization(g, prec);
  std::vector<ValueId> required;
  for (const auto& [v, bits] : plan.required)
    if (std::find(required.begin(), required.end(), v) == required.end()) required.push_back(v);
  if (required.empty() && !g.inputs().empty()) required.push_back(g.inputs()[0]);  // something to observe
  return ActivationStats::collect(g, calib, o, required).spec(g, alloc, alloc_source);
}

}  // namespace qsim
