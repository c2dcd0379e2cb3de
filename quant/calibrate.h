// Calibration of a quantized model: the activation ranges of every quantized tensor
// at its width, measured by float32 runs over calibration samples, and the weight
// scales (docs/quantization.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "quant/calib.h"
#include "quant/quant_spec.h"
#include "quant/quantizer.h"

namespace qsim {

struct QuantOptions {
  CalibMethod calib = CalibMethod::kMinMax;
  CalibParams calib_params;
  WeightClip weight_clip = WeightClip::kMinMax;
  bool act_symmetric = false;    // symmetric activations (zero point 0)
  bool bias_correction = false;  // empirical bias correction of the weight quantization error
  int acc_bits = 32;             // accumulator width (pe.acc_bits), 16..32
  int64_t calib_samples = 512;
  int threads = 0;               // calibration executor threads (0: all)
};

// Deterministic calibration indices: n evenly spaced samples, floor(i * size / n).
std::vector<int64_t> calibration_indices(int64_t size, int64_t n);

// What calibration observed of a model's activation tensors over the calibration
// samples, by tensor name, and the specs made from it at any widths. Observing once
// and choosing parameters per (tensor, width) afterwards gives exactly what
// calibrate() gives for each allocation (the statistics are float32 ones, independent
// of the widths), so an allocation search calibrates once for all its candidates.
// Thread-safe after collect(): spec() and params() may run concurrently.
class ActivationStats {
 public:
  // Observes `values` of g (every float32 activation tensor when empty) over the
  // samples calibration_indices(calib.size(), o.calib_samples) of `calib`: one float32
  // pass for min/max (and the compute layers' mean inputs with o.bias_correction), a
  // second one for the histogram methods.
  static ActivationStats collect(const LayerGraph& g, const Dataset& calib, const QuantOptions& o,
                                 std::span<const ValueId> values = {});

  bool has(std::string_view tensor) const { return stats_.count(std::string(tensor)) != 0; }
  // Parameters of `tensor` at `bits` (std::logic_error when it was not observed).
  QParams params(std::string_view tensor, int bits) const;
  // The spec of `h` (the model itself, or a part of it cut out by graph/subgraph.h,
  // whose tensor and layer names are the model's) at the widths of `alloc`: weight
  // scales at each layer's wbits (cached per layer and width), bias corrections when
  // collected with them, activation parameters for every (tensor, width) the plan
  // needs. `input_params` (by tensor name) replace the parameters of graph inputs (the
  // values crossing a cut keep the whole model's parameters, which may be another
  // tensor's: a MaxPool output carries its input's).
  QuantSpec spec(const LayerGraph& h, const PrecisionAlloc& alloc, std::string_view alloc_source,
                 std::span<const int> input_widths = {},
                 const std::map<std::string, QParams>* input_params = nullptr) const;
  const QuantOptions& options() const { return o_; }
  int64_t samples() const { return samples_; }
  int64_t float_runs() const { return runs_; }  // float32 executor runs of collect()

 private:
  QuantOptions o_;
  int64_t samples_ = 0, runs_ = 0;
  std::unordered_map<std::string, TensorStats> stats_;
  std::unordered_map<std::string, std::vector<double>> mean_in_;  // by compute-layer input tensor: sums
  nlohmann::json calibration_ = nlohmann::json::object();
  mutable std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
  mutable std::map<std::pair<std::string, int>, std::vector<float>> weight_scales_;  // (layer, wbits)
};

// Calibrates `g` at the widths of `alloc` on `calib` (the samples of
// calibration_indices(calib.size(), o.calib_samples)): ActivationStats::collect of the
// tensors the plan needs, then spec().
QuantSpec calibrate(const LayerGraph& g, const PrecisionAlloc& alloc, std::string_view alloc_source,
                    const Dataset& calib, const QuantOptions& o);

}  // namespace qsim
