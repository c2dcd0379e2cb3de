#include "quant/alloc_eval.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <optional>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/subgraph.h"
#include "quant/quant_fake.h"
#include "quant/quant_model.h"
#include "quant/quant_plan.h"

namespace qsim {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct AllocationEvaluator::CutInputs {
  std::unique_ptr<LayerGraph> sub;   // the run graph's nodes from the cut on
  std::vector<std::size_t> slot;     // per sub input: index into the cut's values
  std::vector<int> widths;           // per sub input: the width the base stores it at
  std::map<std::string, QParams> params;  // per sub input name: the base's parameters
  bool usable = false;               // the base stores every value crossing the cut quantized
  double work = 0;                   // MACs of the sub-graph / MACs of the model
};

struct AllocationEvaluator::Prepared {
  int cut = -1;                      // kept cut the run starts at; -1: the input
  const LayerGraph* h = nullptr;     // the graph run (the run graph or a cut's sub-graph)
  std::unique_ptr<QuantizedModel> qm;
};

AllocationEvaluator::AllocationEvaluator(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples,
                                         const ActivationStats& stats, const AllocEvalOptions& o)
    : stats_(stats),
      o_(o),
      s_(g, data, std::move(samples), o),
      cache_(s_,
             [&] {
               std::vector<std::size_t> pos;
               for (NodeId id : s_.run_graph().compute_layers()) pos.push_back(s_.position(id));
               return pos;
             }(),
             o.cache_bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  const LayerGraph& rg = s_.run_graph();
  pool_ = std::make_unique<ThreadPool>(o.threads);
  s_.run_reference(o.threads, nullptr);
  for (const PrefixCache::Cut& c : cache_.cuts()) {
    auto ci = std::make_unique<CutInputs>();
    std::vector<NodeId> nodes;
    for (NodeId id : rg.topo_order())
      if (s_.position(id) >= c.position) nodes.push_back(id);
    ci->sub = std::make_unique<LayerGraph>(extract_subgraph(rg, nodes, rg.outputs()));
    for (ValueId v : ci->sub->inputs()) {
      const auto it = std::find(c.names.begin(), c.names.end(), ci->sub->value(v).name);
      if (it == c.names.end()) throw std::logic_error("AllocationEvaluator: cut input is not a live value");
      ci->slot.push_back(static_cast<std::size_t>(it - c.names.begin()));
    }
    ci->work = s_.total_macs() > 0 ? s_.macs_from(c.position) / s_.total_macs() : 1.0;
    cut_inputs_.push_back(std::move(ci));
  }
  cost_.runs = s_.batches();  // the float32 reference
  cost_.pass_equivalents = 1.0;
  runs_from_.assign(cut_inputs_.size() + 1, 0);
  cost_.seconds = seconds_since(t0);
}

AllocationEvaluator::~AllocationEvaluator() = default;

EvalCost AllocationEvaluator::cost() const {
  std::lock_guard lock(mutex_);
  EvalCost c = cost_;
  for (std::size_t i = 0; i < runs_from_.size(); ++i) {
    c.runs += runs_from_[i];
    c.pass_equivalents += (i == 0 ? 1.0 : cut_inputs_[i - 1]->work) * static_cast<double>(runs_from_[i]) /
                          static_cast<double>(s_.batches());
  }
  c.evaluations = evaluations_.load();
  return c;
}

std::unique_ptr<AllocationEvaluator::Prepared> AllocationEvaluator::prepare(std::span<const LayerPrecision> p,
                                                                            bool from_input) const {
  const LayerGraph& rg = s_.run_graph();
  const auto compute = rg.compute_layers();
  if (p.size() != compute.size())
    throw std::logic_error("AllocationEvaluator: one precision per compute layer expected");
  auto pr = std::make_unique<Prepared>();
  if (has_base_ && !from_input) {
    std::size_t k = 0;
    while (k < p.size() && p[k] == base_[k]) ++k;
    if (k == p.size()) k = p.size() - 1;  // the base itself: from the cut before its last layer
    if (k > 0) {
      const std::size_t pos = s_.position(compute[k]);
      const auto cuts = cache_.cuts();
      for (std::size_t j = 0; j < cuts.size(); ++j)
        if (cuts[j].position <= pos && cut_inputs_[j]->usable) pr->cut = static_cast<int>(j);
    }
  }
  PrecisionAlloc alloc;
  std::span<const int> widths;
  const std::map<std::string, QParams>* params = nullptr;
  if (pr->cut < 0) {
    pr->h = &rg;
  } else {
    const CutInputs& ci = *cut_inputs_[static_cast<std::size_t>(pr->cut)];
    pr->h = ci.sub.get();
    widths = ci.widths;
    params = &ci.params;
  }
  // The sub-graph's compute layers are the model's last ones, in the same order.
  const auto hc = pr->h->compute_layers();
  const std::size_t skip = compute.size() - hc.size();
  for (std::size_t i = 0; i < hc.size(); ++i) alloc.set(pr->h->node(hc[i]).name, p[skip + i]);
  const QuantSpec spec = stats_.spec(*pr->h, alloc, "allocation", widths, params);
  pr->qm = std::make_unique<QuantizedModel>(*pr->h, spec, "allocation", widths);
  return pr;
}

OutputScore AllocationEvaluator::run_impl(const Prepared& pr, int64_t first, int64_t stride,
                                          PrefixCache* capture) const {
  const QuantizedModel& qm = *pr.qm;
  FakeQuantExecutor ex(qm, ExecOptions{.threads = 1});
  const LayerGraph& qg = qm.graph();
  std::vector<Tensor> inputs, outputs;
  for (ValueId v : qg.inputs()) inputs.emplace_back(DType::kFloat32, qg.value(v).shape);
  const PrefixCache::Cut* from = pr.cut < 0 ? nullptr : &cache_.cuts()[static_cast<std::size_t>(pr.cut)];
  const CutInputs* ci = pr.cut < 0 ? nullptr : cut_inputs_[static_cast<std::size_t>(pr.cut)].get();
  int64_t b = 0;  // the batch being run (read by the capture hooks)

  // Values of later cuts this run recomputes: copied into the cache for batch b.
  std::optional<PrefixCache::Capture> cap;
  if (capture) cap.emplace(*capture, ex.executor(), qg, from ? from->position : 0, &qm, from == nullptr, &b);

  OutputScore score;
  int64_t runs = 0;
  for (b = first; b < s_.batches(); b += stride) {
    if (!from) {
      s_.load(b, inputs[0].data<float>().data());
    } else {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::size_t k = ci->slot[i];
        const int64_t n = from->per_batch[k];
        const float* src = from->data[k].data() + b * n;
        std::copy(src, src + n, inputs[i].data<float>().data());
      }
    }
    if (cap) cap->copy_inputs(inputs);
    // The cached values are the base model's own (q - z where quantized).
    if (from) {
      ex.run_prequantized(inputs, outputs);
    } else {
      ex.run(inputs, outputs);
    }
    ++runs;
    score.add(s_.score(b, outputs[0].data<float>().data()));
  }
  {
    std::lock_guard lock(mutex_);
    runs_from_[static_cast<std::size_t>(pr.cut + 1)] += runs;
  }
  return score;
}

OutputScore AllocationEvaluator::run_const(const Prepared& pr, int64_t first, int64_t stride) const {
  return run_impl(pr, first, stride, nullptr);
}

OutputScore AllocationEvaluator::run(const Prepared& pr, int64_t first, int64_t stride, bool capture) {
  return run_impl(pr, first, stride, capture ? &cache_ : nullptr);
}

void AllocationEvaluator::rebase_inputs(std::span<const LayerPrecision> p) {
  const LayerGraph& rg = s_.run_graph();
  const QuantPlan plan = plan_quantization(rg, p);
  for (std::size_t j = 0; j < cut_inputs_.size(); ++j) {
    const PrefixCache::Cut& c = cache_.cuts()[j];
    CutInputs& ci = *cut_inputs_[j];
    ci.widths.clear();
    ci.params.clear();
    ci.usable = true;
    for (std::size_t i = 0; i < ci.slot.size(); ++i) {
      const auto v = static_cast<std::size_t>(c.values[ci.slot[i]]);
      const ValueId src = plan.params_of[v];
      const int w = plan.width[v];
      if (src < 0 || w == 0) {
        ci.usable = false;
        break;
      }
      ci.widths.push_back(w);
      ci.params.emplace(c.names[ci.slot[i]], stats_.params(rg.value(src).name, w));
    }
  }
  base_.assign(p.begin(), p.end());
  has_base_ = true;
}

OutputScore AllocationEvaluator::rebase(std::span<const LayerPrecision> p, bool from_input) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto pr = prepare(p, from_input);
  const int workers = static_cast<int>(std::min<int64_t>(pool_->size(), s_.batches()));
  std::vector<OutputScore> part(static_cast<std::size_t>(workers));
  pool_->parallel_for(workers, [&](int64_t w, int) { part[static_cast<std::size_t>(w)] = run(*pr, w, workers, true); });
  OutputScore r;
  for (const OutputScore& x : part) r.add(x);
  rebase_inputs(p);
  ++evaluations_;
  std::lock_guard lock(mutex_);
  cost_.seconds += seconds_since(t0);
  return r;
}

OutputScore AllocationEvaluator::set_base(std::span<const LayerPrecision> p) { return rebase(p, true); }

OutputScore AllocationEvaluator::move_base(std::span<const LayerPrecision> p) { return rebase(p, !has_base_); }

OutputScore AllocationEvaluator::evaluate(std::span<const LayerPrecision> p) const {
  const auto t0 = std::chrono::steady_clock::now();
  const auto pr = prepare(p, false);
  const OutputScore r = run_const(*pr, 0, 1);
  ++evaluations_;
  std::lock_guard lock(mutex_);
  cost_.seconds += seconds_since(t0);
  return r;
}

std::vector<OutputScore> AllocationEvaluator::evaluate_many(std::span<const std::vector<LayerPrecision>> ps) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<OutputScore> r(ps.size());
  // Waves of one candidate per worker, so that only that many quantized models exist
  // at once; a wave smaller than the workers splits its candidates' batches.
  const auto workers = static_cast<std::size_t>(pool_->size());
  for (std::size_t w0 = 0; w0 < ps.size(); w0 += workers) {
    const auto n = static_cast<int64_t>(std::min(workers, ps.size() - w0));
    std::vector<std::unique_ptr<Prepared>> pr(static_cast<std::size_t>(n));
    pool_->parallel_for(n, [&](int64_t i, int) {
      pr[static_cast<std::size_t>(i)] = prepare(ps[w0 + static_cast<std::size_t>(i)], false);
    });
    const int64_t chunks = std::clamp<int64_t>(static_cast<int64_t>(workers) / n, 1, s_.batches());
    std::vector<OutputScore> part(static_cast<std::size_t>(n * chunks));
    pool_->parallel_for(n * chunks, [&](int64_t t, int) {
      part[static_cast<std::size_t>(t)] = run_const(*pr[static_cast<std::size_t>(t / chunks)], t % chunks, chunks);
    });
    for (int64_t t = 0; t < n * chunks; ++t) r[w0 + static_cast<std::size_t>(t / chunks)].add(part[static_cast<std::size_t>(t)]);
  }
  evaluations_ += static_cast<int64_t>(ps.size());
  std::lock_guard lock(mutex_);
  cost_.seconds += seconds_since(t0);
  return r;
}

}  // namespace qsim
