// What the allocation evaluator (quant/alloc_eval.h) and the group prober
// (quant/group_probe.h) share: a fixed list of samples run in batches, the float32
// model's outputs on them (the reference every score compares with), the scores of a
// model's outputs, and the prefix cache — the values that cross cuts of the model,
// kept for every sample, so that a run which changes nothing before a cut starts
// there instead of at the input.
//
// Cuts. A cut at topological position p (of the re-batched model) separates the
// nodes before p from the rest; the values crossing it are graph/subgraph.h's
// live_values. Candidate cuts sit in front of compute layers; as many are kept as fit
// in the memory budget, spread evenly over the candidates (every k-th), so the cost
// of a run that starts at a cut is at most the part of the model after the previous
// kept one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "graph/tensor.h"

namespace qsim {

class Executor;
class PrefixCache;
class QuantizedModel;
struct QParams;

struct AllocEvalOptions {
  int threads = 0;                       // workers (0: every hardware thread)
  int64_t batch = 16;                    // samples per executor run (when the model can be re-batched)
  int64_t cache_bytes = int64_t{1} << 30;  // memory for the values kept at cuts (capped at a quarter of the memory limit)
};

// How a model's outputs compare with the float32 model's and with the labels, over
// some samples (sums, so scores of sample subsets add up).
struct OutputScore {
  int64_t samples = 0;
  int64_t correct = 0;   // top-1 hits (labelled data only)
  int64_t agree = 0;     // same argmax as the float32 model
  double ce = 0;         // sum of cross-entropies -log softmax(y)[label] (labelled data only)
  double kl = 0;         // sum of KL(softmax(float32) || softmax(y)), nats
  double signal = 0, noise = 0;  // sums of squares for the output SQNR
  bool labelled = false;

  void add(const OutputScore& o);
  double top1() const;           // NaN without labels
  double mean_ce() const;        // NaN without labels
  double mean_kl() const;
  double flip_rate() const;      // 1 - agreement
  double sqnr_db() const;
};

// Cost of what ran: executor runs (one batch each), their work as a fraction of one
// whole-model pass over the samples (MACs; a run that starts at a cut counts only the
// part after it), and wall seconds.
struct EvalCost {
  int64_t evaluations = 0;
  int64_t runs = 0;
  double pass_equivalents = 0;
  double seconds = 0;
  void add(const EvalCost& o);
};

// The samples, batched, and the float32 reference outputs on them.
class SampleBatches {
 public:
  // Re-batches `g` to o.batch samples when it allows it. Throws qsim::Error when the
  // model does not take the data's samples or has no float32 output with the batch
  // on axis 0.
  SampleBatches(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples, const AllocEvalOptions& o);
  // Runs the float32 model over the samples (`threads` workers on separate batches):
  // the reference outputs, and the values at `capture`'s cuts when given. Call once,
  // before score().
  void run_reference(int threads, PrefixCache* capture);

  const LayerGraph& model() const { return g_; }
  const LayerGraph& run_graph() const { return run_g_ ? *run_g_ : g_; }  // re-batched
  const Dataset& data() const { return data_; }
  int64_t batch() const { return batch_; }
  int64_t batches() const { return batches_; }
  int64_t samples() const { return static_cast<int64_t>(idx_.size()); }
  int64_t classes() const { return classes_; }
  int64_t valid(int64_t b) const { return std::min(batch_, samples() - b * batch_); }
  bool labelled() const { return labelled_; }
  // Writes batch b's inputs (padded with zeros) to x (batch * per_sample floats).
  void load(int64_t b, float* x) const;
  int64_t per_sample() const { return per_sample_; }
  // Scores batch b's outputs y (batch x classes) against the reference.
  OutputScore score(int64_t b, const float* y) const;
  const OutputScore& float_score() const { return float_score_; }
  // MACs of a node per run (compute layers; 0 for the rest), and of the whole model.
  double macs(NodeId n) const { return macs_[static_cast<std::size_t>(n)]; }
  double total_macs() const { return total_macs_; }
  std::size_t position(NodeId n) const { return pos_[static_cast<std::size_t>(n)]; }
  double macs_from(std::size_t position) const { return suffix_macs_[position]; }  // nodes at >= position

 private:
  const LayerGraph& g_;
  const Dataset& data_;
  std::optional<LayerGraph> run_g_;
  std::vector<int64_t> idx_;
  int64_t batch_ = 1, batches_ = 0, per_sample_ = 0, classes_ = 0;
  bool labelled_ = false;
  std::vector<float> ref_logp_;   // samples x classes: log softmax of the float32 logits
  std::vector<float> ref_logits_;
  std::vector<int64_t> ref_argmax_, labels_;
  OutputScore float_score_;
  std::vector<double> macs_, suffix_macs_;
  std::vector<std::size_t> pos_;
  double total_macs_ = 0;
};

// Values crossing kept cuts, for every batch.
class PrefixCache {
 public:
  struct Cut {
    std::size_t position = 0;
    std::vector<ValueId> values;      // run-graph ids (live_values)
    std::vector<std::string> names;
    std::vector<int64_t> per_batch;   // elements of each value per batch
    std::vector<std::vector<float>> data;  // per value: batches x per_batch, as the executor held them
  };
  // Keeps as many of `positions` (ascending) as fit in `budget_bytes`, evenly spread.
  PrefixCache(const SampleBatches& s, std::span<const std::size_t> positions, int64_t budget_bytes);
  // The latest kept cut at or before `position`, or null.
  const Cut* before(std::size_t position) const;
  std::span<const Cut> cuts() const { return cuts_; }
  Cut& cut(std::size_t i) { return cuts_[i]; }
  int64_t bytes() const { return bytes_; }
  int64_t candidates() const { return candidates_; }

  // Copies what an executor computes into the cuts after topological position `after`,
  // for the batch `*batch` names when each run happens. `xg` is the executor's graph
  // (the run graph, a part of it, or a quantized model's graph; values are matched by
  // name), and values are stored as it holds them (q - z for a fake-quant model's
  // quantized tensors). Call copy_inputs(inputs) before each run for the cut values
  // that are the executor's own graph inputs; with `qm` and `real_inputs`, inputs that
  // carry parameters are quantized as the fake-quant executor quantizes them. One
  // Capture per executor (workers write separate batches).
  class Capture {
   public:
    Capture(PrefixCache& cache, Executor& ex, const LayerGraph& xg, std::size_t after, const QuantizedModel* qm,
            bool real_inputs, const int64_t* batch);
    void copy_inputs(std::span<const Tensor> inputs) const;

   private:
    struct Copy {
      std::size_t input;
      float* dst;
      int64_t n;
      const QParams* q;  // quantize on copy (real inputs of a quantized model)
    };
    std::vector<Copy> copies_;
    const int64_t* batch_;
  };

 private:
  std::vector<Cut> cuts_;
  int64_t bytes_ = 0, candidates_ = 0;
};

}  // namespace qsim
