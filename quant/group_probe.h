// GroupProber — one group of layers quantized alone, every other layer in float32:
// the measurement behind the per-layer sensitivity methods of search/sensitivity.h
// (isolated local metrics, output KL, the measured drop).
//
// Quantized alone means simulated quantization in the float32 executor (QDQ, as
// ZeroQ and HAWQ measure): the group's compute layers read their activation input
// quantized at `abits` (the calibrated parameters of that tensor), their weights are
// the quantized weights at `wbits` dequantized (symmetric, per channel or per tensor,
// the model's weight clipping), and every tensor the group writes for the rest of the
// network (its compute layers' outputs, after the fused activation, and the fused
// element-wise ops' outputs) is quantized at `abits` in place; everything else runs in
// float32. Against qsim's integer pipeline this differs only by float rounding of the
// sums and of the rescale (no ties in practice), and it needs no integer model of
// the float32 layers around the group.
//
// Cost. The float32 model runs once over the samples (the reference outputs), keeping
// the values that cross cuts in front of compute layers (quant/prefix_cache.h). A
// probe then runs only the part of the model from the last kept cut in front of the
// group: up to the group's last node for the local metrics, or to the output for the
// output metrics, plus one float32 run of the same part up to the group (the local
// reference), shared by the probes of one group at several widths. Groups run in
// parallel on the workers, one executor each.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "quant/calibrate.h"
#include "quant/prefix_cache.h"

namespace qsim {

struct GroupProbe {
  std::vector<NodeId> nodes;  // the group: compute layers and the element-wise ops fused into their output stage
  int wbits = 8;
  int abits = 8;
  bool per_channel = true;
};

struct ProbeResult {
  // The tensors the group writes for the rest of the network, against float32.
  double out_signal = 0, out_noise = 0;
  int64_t out_count = 0;
  // Its compute layers' activation inputs, as quantized, against float32.
  double in_signal = 0, in_noise = 0;
  int64_t in_count = 0;
  // Its weights, quantized, against float32.
  double w_signal = 0, w_noise = 0;
  int64_t w_count = 0;
  // The network's output (probes run to the output only).
  OutputScore output;
  double out_sqnr_db() const;
  double in_sqnr_db() const;
  double w_sqnr_db() const;
};

class GroupProber {
 public:
  // `g`, `data` and `stats` (observed on every tensor of g) must outlive the prober.
  // Runs the float32 model once over the samples.
  GroupProber(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples, const ActivationStats& stats,
              const AllocEvalOptions& o = {});

  const SampleBatches& batches() const { return s_; }

  // Runs every probe (results in the same order). to_output: run to the network's
  // output (OutputScore filled); otherwise only up to the group's last node.
  // `progress(done, total)` is called (from a worker, serialised) after each group.
  std::vector<ProbeResult> run(std::span<const GroupProbe> probes, bool to_output,
                               const std::function<void(int64_t, int64_t)>& progress = {});

  EvalCost cost() const;
  int kept_cuts() const { return static_cast<int>(cache_.cuts().size()); }
  int64_t cache_bytes() const { return cache_.bytes(); }

 private:
  const ActivationStats& stats_;
  AllocEvalOptions o_;
  SampleBatches s_;
  PrefixCache cache_;
  mutable std::mutex mutex_;
  EvalCost cost_;
};

}  // namespace qsim
