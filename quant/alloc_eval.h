// AllocationEvaluator — whole-allocation accuracy on a fixed sample list, fast enough
// to sit inside an allocation search (the greedy-measured allocator of search/alloc.h,
// and the Markov-chain search that re-checks its candidates with it).
//
// An allocation (one LayerPrecision per compute layer) runs exactly as
// `qsim quantize --precision` runs it: the fake-quant executor on the quantized model
// (bit-exact with the integer executor), activation parameters chosen from one
// ActivationStats for every width (what calibrate() would choose per allocation). Its
// score (quant/prefix_cache.h's OutputScore) compares the outputs with the float32
// model's (KL of the softmax outputs, agreement, SQNR) and, on labelled data, with
// the labels (cross-entropy, top-1).
//
// Incremental evaluation. The evaluator keeps a *base* allocation and, for every
// sample, the values of the base model that cross kept cuts (PrefixCache). A
// candidate that equals the base up to compute layer k runs only from the last kept
// cut in front of layer k: the part of the model after the cut is cut out
// (graph/subgraph.h), quantized with the base's widths and parameters for the values
// crossing the cut, and fed the cached values (q - z as the base model held them, so
// they are not quantized again). The result is bit-identical to a run
// from the input (tested). move_base() makes a candidate the new base (a search that
// accepts a move), re-caching only the cuts after its first difference.
//
// Threads: evaluate() runs on the calling thread and may be called from several
// threads at once (it only reads the base); evaluate_many(), set_base() and move_base()
// use the evaluator's workers (one call at a time, not concurrently with evaluate()).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "quant/calibrate.h"
#include "quant/prefix_cache.h"
#include "runtime/thread_pool.h"

namespace qsim {

class AllocationEvaluator {
 public:
  // `g`, `data` and `stats` (observed on g, e.g. by ActivationStats::collect on the
  // calibration samples) must outlive the evaluator. Runs the float32 reference once.
  AllocationEvaluator(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples,
                      const ActivationStats& stats, const AllocEvalOptions& o = {});
  ~AllocationEvaluator();

  const SampleBatches& batches() const { return s_; }
  std::size_t layers() const { return s_.model().compute_layers().size(); }

  // Evaluates `p` from the input and makes it the base.
  OutputScore set_base(std::span<const LayerPrecision> p);
  // Evaluates `p` and makes it the base, re-caching the cuts after its first
  // difference from the current base.
  OutputScore move_base(std::span<const LayerPrecision> p);
  // Evaluates `p` (the base is unchanged).
  OutputScore evaluate(std::span<const LayerPrecision> p) const;
  // Evaluates every allocation, candidates (and, when there are fewer candidates than
  // workers, samples) spread over the workers.
  std::vector<OutputScore> evaluate_many(std::span<const std::vector<LayerPrecision>> ps);

  // Everything run so far (the float32 reference included).
  EvalCost cost() const;
  int kept_cuts() const { return static_cast<int>(cache_.cuts().size()); }
  int64_t cache_bytes() const { return cache_.bytes(); }

 private:
  struct Prepared;
  struct CutInputs;  // per kept cut: the sub-graph, and the base's widths/parameters of its inputs
  std::unique_ptr<Prepared> prepare(std::span<const LayerPrecision> p, bool from_input) const;
  OutputScore run(const Prepared& pr, int64_t first, int64_t stride, bool capture);
  OutputScore run_const(const Prepared& pr, int64_t first, int64_t stride) const;
  OutputScore run_impl(const Prepared& pr, int64_t first, int64_t stride, PrefixCache* capture) const;
  void rebase_inputs(std::span<const LayerPrecision> p);
  OutputScore rebase(std::span<const LayerPrecision> p, bool from_input);

  const ActivationStats& stats_;
  AllocEvalOptions o_;
  SampleBatches s_;
  PrefixCache cache_;
  std::vector<std::unique_ptr<CutInputs>> cut_inputs_;  // per kept cut
  std::vector<LayerPrecision> base_;
  bool has_base_ = false;
  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex mutex_;
  mutable EvalCost cost_;
  // Batches run per start ([0]: the input, [j + 1]: kept cut j), the float32 reference
  // apart; cost() sums them in one order whatever the workers' interleaving.
  mutable std::vector<int64_t> runs_from_;
  mutable std::atomic<int64_t> evaluations_{0};
};

}  // namespace qsim
