// Calibration of a quantized model: the activation ranges of every quantized tensor
// at its width, measured by float32 runs over calibration samples, and the weight
// scales (docs/quantization.md).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

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

// Calibrates `g` at the widths of `alloc` on `calib` (the samples of
// calibration_indices(calib.size(), o.calib_samples)).
QuantSpec calibrate(const LayerGraph& g, const PrecisionAlloc& alloc, std::string_view alloc_source,
                    const Dataset& calib, const QuantOptions& o);

}  // namespace qsim
