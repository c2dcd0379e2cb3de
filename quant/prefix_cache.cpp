#include "quant/prefix_cache.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/limits.h"
#include "graph/subgraph.h"
#include "quant/eval.h"
#include "quant/quant_model.h"
#include "quant/quantizer.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace qsim {

void OutputScore::add(const OutputScore& o) {
  samples += o.samples;
  correct += o.correct;
  agree += o.agree;
  ce += o.ce;
  kl += o.kl;
  signal += o.signal;
  noise += o.noise;
  labelled = labelled || o.labelled;
}

double OutputScore::top1() const {
  return labelled && samples ? static_cast<double>(correct) / static_cast<double>(samples)
                             : std::numeric_limits<double>::quiet_NaN();
}
double OutputScore::mean_ce() const {
  return labelled && samples ? ce / static_cast<double>(samples) : std::numeric_limits<double>::quiet_NaN();
}
double OutputScore::mean_kl() const { return samples ? kl / static_cast<double>(samples) : 0.0; }
double OutputScore::flip_rate() const {
  return samples ? 1.0 - static_cast<double>(agree) / static_cast<double>(samples) : 0.0;
}
double OutputScore::sqnr_db() const {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

void EvalCost::add(const EvalCost& o) {
  evaluations += o.evaluations;
  runs += o.runs;
  pass_equivalents += o.pass_equivalents;
  seconds += o.seconds;
}

namespace {

// log softmax of n scores, in double for the sums.
void log_softmax(const float* y, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(n));
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < n; ++c) m = std::max(m, static_cast<double>(y[c]));
  double s = 0;
  for (int64_t c = 0; c < n; ++c) s += std::exp(static_cast<double>(y[c]) - m);
  const double lse = m + std::log(s);
  for (int64_t c = 0; c < n; ++c) out[static_cast<std::size_t>(c)] = static_cast<double>(y[c]) - lse;
}

int64_t argmax(const float* y, int64_t n) { return std::max_element(y, y + n) - y; }

}  // namespace

SampleBatches::SampleBatches(const LayerGraph& g, const Dataset& data, std::vector<int64_t> sample_indices,
                             const AllocEvalOptions& o)
    : g_(g), data_(data), idx_(std::move(sample_indices)) {
  if (g.inputs().size() != 1) fail("model '{}' has {} inputs; the evaluation feeds one", g.name, g.inputs().size());
  if (g.outputs().empty()) fail("model '{}' has no output", g.name);
  const Value& in = g.value(g.inputs()[0]);
  if (in.dtype != DType::kFloat32 || in.shape.empty())
    fail("model '{}': the evaluation needs a float32 input with a batch axis", g.name);
  const int64_t model_batch = in.shape[0];
  per_sample_ = shape_numel(in.shape) / std::max<int64_t>(model_batch, 1);
  if (per_sample_ != data.sample_numel())
    fail("model '{}' takes {} per sample, the data {} gives {}", g.name, shape_str(in.shape), data.description(),
         shape_str(data.sample_shape()));
  if (idx_.empty()) fail("{}: no samples", data.description());
  const int64_t want = std::clamp<int64_t>(o.batch, 1, static_cast<int64_t>(idx_.size()));
  if (want != model_batch) run_g_ = rebatch(g, want);
  const LayerGraph& rg = run_graph();
  batch_ = rg.value(rg.inputs()[0]).shape[0];
  batches_ = (samples() + batch_ - 1) / batch_;
  const Value& out = rg.value(rg.outputs()[0]);
  if (out.dtype != DType::kFloat32 || out.shape.empty() || out.shape[0] != batch_)
    fail("model '{}': output '{}' is not float32 scores with the samples on axis 0", g.name, out.name);
  classes_ = shape_numel(out.shape) / batch_;
  if (classes_ < 1) fail("model '{}': output '{}' is empty", g.name, out.name);

  labels_.resize(idx_.size());
  labelled_ = true;
  for (std::size_t i = 0; i < idx_.size(); ++i) {
    labels_[i] = data.label(idx_[i]);
    if (labels_[i] < 0) labelled_ = false;
    if (labels_[i] >= classes_)
      fail("{}: sample {} has label {}, but the model scores {} classes", data.description(), idx_[i], labels_[i],
           classes_);
  }

  // Work per node (for the cost of partial runs).
  const std::size_t nn = rg.nodes().size();
  macs_.assign(nn, 0.0);
  pos_.assign(nn, 0);
  const auto topo = rg.topo_order();
  for (std::size_t i = 0; i < topo.size(); ++i) pos_[static_cast<std::size_t>(topo[i])] = i;
  for (NodeId id : rg.compute_layers()) macs_[static_cast<std::size_t>(id)] = static_cast<double>(rg.stats(id).macs);
  suffix_macs_.assign(topo.size() + 1, 0.0);
  for (std::size_t i = topo.size(); i-- > 0;) suffix_macs_[i] = suffix_macs_[i + 1] + macs_[static_cast<std::size_t>(topo[i])];
  total_macs_ = suffix_macs_[0];

}

void SampleBatches::run_reference(int threads, PrefixCache* capture) {
  const LayerGraph& rg = run_graph();
  ref_logits_.assign(static_cast<std::size_t>(batches_ * batch_ * classes_), 0.0f);
  const int workers = static_cast<int>(std::min<int64_t>(threads > 0 ? threads : ThreadPool::hardware_threads(), batches_));
  ThreadPool pool(workers);
  pool.parallel_for(workers, [&](int64_t w, int) {
    Executor ex(rg, ExecOptions{.threads = 1});
    int64_t b = 0;
    std::optional<PrefixCache::Capture> cap;
    if (capture) cap.emplace(*capture, ex, rg, 0, nullptr, true, &b);
    std::vector<Tensor> input{Tensor(DType::kFloat32, rg.value(rg.inputs()[0]).shape)}, outputs;
    for (b = w; b < batches_; b += workers) {
      load(b, input[0].data<float>().data());
      if (cap) cap->copy_inputs(input);
      ex.run(input, outputs);
      const float* y = outputs[0].data<float>().data();
      std::copy(y, y + batch_ * classes_, ref_logits_.begin() + b * batch_ * classes_);
    }
  });
  ref_logp_.assign(ref_logits_.size(), 0.0f);
  ref_argmax_.assign(idx_.size(), 0);
  std::vector<double> lp;
  for (std::size_t i = 0; i < idx_.size(); ++i) {
    const float* y = ref_logits_.data() + i * static_cast<std::size_t>(classes_);
    log_softmax(y, classes_, lp);
    for (int64_t c = 0; c < classes_; ++c) ref_logp_[i * static_cast<std::size_t>(classes_) + static_cast<std::size_t>(c)] = static_cast<float>(lp[static_cast<std::size_t>(c)]);
    ref_argmax_[i] = argmax(y, classes_);
  }
  float_score_ = OutputScore{};
  for (int64_t b = 0; b < batches_; ++b) float_score_.add(score(b, ref_logits_.data() + b * batch_ * classes_));
}

void SampleBatches::load(int64_t b, float* x) const {
  const int64_t v = valid(b);
  for (int64_t s = 0; s < batch_; ++s) {
    if (s < v) {
      data_.load(idx_[static_cast<std::size_t>(b * batch_ + s)], x + s * per_sample_);
    } else {
      std::fill(x + s * per_sample_, x + (s + 1) * per_sample_, 0.0f);
    }
  }
}

OutputScore SampleBatches::score(int64_t b, const float* y) const {
  OutputScore r;
  r.labelled = labelled_;
  std::vector<double> lq;
  const int64_t v = valid(b);
  for (int64_t s = 0; s < v; ++s) {
    const auto i = static_cast<std::size_t>(b * batch_ + s);
    const float* ys = y + s * classes_;
    const float* f = ref_logits_.data() + i * static_cast<std::size_t>(classes_);
    const float* lp = ref_logp_.data() + i * static_cast<std::size_t>(classes_);
    log_softmax(ys, classes_, lq);
    const int64_t a = argmax(ys, classes_);
    r.agree += a == ref_argmax_[i];
    double kl = 0;
    for (int64_t c = 0; c < classes_; ++c) {
      const double p = std::exp(static_cast<double>(lp[c]));
      kl += p * (static_cast<double>(lp[c]) - lq[static_cast<std::size_t>(c)]);
      r.signal += static_cast<double>(f[c]) * f[c];
      const double d = static_cast<double>(f[c]) - ys[c];
      r.noise += d * d;
    }
    r.kl += std::max(kl, 0.0);
    if (labelled_) {
      r.correct += a == labels_[i];
      r.ce -= lq[static_cast<std::size_t>(labels_[i])];
    }
    ++r.samples;
  }
  return r;
}

PrefixCache::PrefixCache(const SampleBatches& s, std::span<const std::size_t> positions, int64_t budget_bytes) {
  const LayerGraph& rg = s.run_graph();
  std::vector<std::size_t> pos(positions.begin(), positions.end());
  std::sort(pos.begin(), pos.end());
  pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
  pos.erase(std::remove(pos.begin(), pos.end(), std::size_t{0}), pos.end());  // position 0 is the data itself
  candidates_ = static_cast<int64_t>(pos.size());
  std::vector<Cut> all;
  std::vector<int64_t> bytes;
  for (std::size_t p : pos) {
    Cut c;
    c.position = p;
    c.values = live_values(rg, p);
    int64_t b = 0;
    bool ok = !c.values.empty();
    for (ValueId v : c.values) {
      const Value& x = rg.value(v);
      ok = ok && x.dtype == DType::kFloat32;
      c.names.push_back(x.name);
      c.per_batch.push_back(shape_numel(x.shape));
      b += shape_numel(x.shape) * s.batches() * static_cast<int64_t>(sizeof(float));
    }
    if (!ok) continue;  // a non-float value crosses the cut: not kept
    all.push_back(std::move(c));
    bytes.push_back(b);
  }
  const int64_t budget = std::min(budget_bytes, memory_limit() / 4);
  for (std::size_t k = 1; k <= all.size(); ++k) {
    int64_t total = 0;
    for (std::size_t i = 0; i < all.size(); i += k) total += bytes[i];
    if (total > budget) continue;
    for (std::size_t i = 0; i < all.size(); i += k) {
      Cut& c = all[i];
      for (int64_t n : c.per_batch) c.data.emplace_back(static_cast<std::size_t>(n * s.batches()), 0.0f);
      cuts_.push_back(std::move(c));
    }
    bytes_ = total;
    break;
  }
}

PrefixCache::Capture::Capture(PrefixCache& cache, Executor& ex, const LayerGraph& xg, std::size_t after,
                               const QuantizedModel* qm, bool real_inputs, const int64_t* batch)
    : batch_(batch) {
  std::unordered_map<std::string, ValueId> by_name;
  for (std::size_t v = 0; v < xg.values().size(); ++v) by_name.emplace(xg.value(static_cast<ValueId>(v)).name, static_cast<ValueId>(v));
  for (std::size_t j = 0; j < cache.cuts().size(); ++j) {
    Cut& c = cache.cut(j);
    if (c.position <= after) continue;
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const auto it = by_name.find(c.names[k]);
      if (it == by_name.end()) throw std::logic_error("PrefixCache: the executor does not compute " + c.names[k]);
      const ValueId xv = it->second;
      float* dst = c.data[k].data();
      const int64_t n = c.per_batch[k];
      const auto in_it = std::find(xg.inputs().begin(), xg.inputs().end(), xv);
      if (in_it != xg.inputs().end()) {
        copies_.push_back({static_cast<std::size_t>(in_it - xg.inputs().begin()), dst, n,
                           qm && real_inputs ? qm->params(xv) : nullptr});
        continue;
      }
      const NodeId p = xg.producer(xv);
      const Node& pn = xg.node(p);
      const auto out = static_cast<std::size_t>(std::find(pn.outputs.begin(), pn.outputs.end(), xv) - pn.outputs.begin());
      ex.add_hook(p, [dst, n, out, batch](NodeId, std::span<const TensorRef> outs) {
        const float* y = static_cast<const float*>(outs[out].data);
        std::copy(y, y + n, dst + *batch * n);
      });
    }
  }
}

void PrefixCache::Capture::copy_inputs(std::span<const Tensor> inputs) const {
  for (const Copy& c : copies_) {
    const float* src = inputs[c.input].data<float>().data();
    float* d = c.dst + *batch_ * c.n;
    if (!c.q) {
      std::copy(src, src + c.n, d);
    } else {
      for (int64_t i = 0; i < c.n; ++i) d[i] = static_cast<float>(c.q->quantize(src[i]) - c.q->zero_point);
    }
  }
}

const PrefixCache::Cut* PrefixCache::before(std::size_t position) const {
  const Cut* best = nullptr;
  for (const Cut& c : cuts_)
    if (c.position <= position) best = &c;
  return best;
}

}  // namespace qsim
