// Top-1/top-5 evaluation of a classifier over a Dataset, in float32.
//
// Models exported with a fixed batch of 1 still evaluate a whole data set: when
// every operator treats axis 0 as independent samples, rebatch() makes a copy of
// the graph with a larger batch; otherwise samples run one model batch at a
// time. Either way each worker thread owns an Executor (single-threaded) and
// pulls batches from a shared counter, so the two cores work on different
// samples instead of splitting small kernels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "graph/layer_graph.h"
#include "data/dataset.h"

namespace qsim {

// A copy of `g` with batch size `batch` instead of its current (equal on every
// graph input) first dimension, or nullopt with the reason in *why when some
// operator mixes samples or depends on the batch size (a Reshape that merges
// the batch axis, Concat/Softmax/Transpose over axis 0, a constant with the batch
// dimension, ...).
std::optional<LayerGraph> rebatch(const LayerGraph& g, int64_t batch, std::string* why = nullptr);

// What both evaluations (this one and quant_eval.h's) check and decide before running.
struct EvalBatching {
  int64_t model_batch = 0;  // the graph input's first dimension
  int64_t per_sample = 0;   // input values per sample
  int64_t want = 1;         // samples per run to rebatch to
};
// Checks that `g` has one float32 input taking the data set's samples and an output,
// and that the data set is non-empty and labelled (qsim::Error otherwise); picks the
// batch: `requested` if positive, else as many samples as keep a batch's activations in
// L2 (at most 16), never more than each of `workers` workers' share.
EvalBatching plan_eval_batching(const LayerGraph& g, const Dataset& data, int64_t requested, int workers);

struct EvalOptions {
  int threads = 0;     // workers; 0 = all hardware threads
  int64_t batch = 0;   // samples per run when the graph can be re-batched; 0 = automatic
};

struct EvalResult {
  int64_t samples = 0;
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  int64_t classes = 0;
  bool has_top5 = false;  // more than 5 classes
  double seconds = 0;      // inference loop wall time (data loading included)
  double cpu_seconds = 0;  // CPU time (user + system, all threads) of the same loop
  int64_t batch = 1;      // samples per executor run
  int workers = 1;
  bool rebatched = false;
  std::string why_not_rebatched;
  double top1() const { return samples ? static_cast<double>(top1_correct) / samples : 0.0; }
  double top5() const { return samples ? static_cast<double>(top5_correct) / samples : 0.0; }
};

// Throws qsim::Error when the model's input does not take the data set's samples
// (element count per sample), the data set has no labels, or a label is out of range.
EvalResult evaluate(const LayerGraph& g, const Dataset& data, const EvalOptions& opts = {});

}  // namespace qsim
