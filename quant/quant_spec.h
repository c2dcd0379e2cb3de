// QuantSpec — the calibrated, batch-independent parameters of a quantized model
// (activation parameters per tensor and width, weight scales per layer), as
// `qsim quantize` stores them in alloc.json and every quantized run reads them back.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/precision_alloc.h"
#include "quant/quantizer.h"

namespace qsim {

// The calibrated, batch-independent parameters of a quantized model, by tensor and
// layer name: what `qsim quantize` writes into alloc.json and reads back.
struct QuantSpec {
  PrecisionAlloc alloc;  // wbits / abits / per_channel of every compute layer
  int acc_bits = 32;
  bool act_symmetric = false;
  struct Act {
    std::string tensor;
    QParams q;
  };
  std::vector<Act> activations;  // one entry per (tensor, width)
  struct Layer {
    std::vector<float> weight_scales;    // per output channel, or one
    std::vector<float> bias_correction;  // per output channel, subtracted from the bias (empty: none)
  };
  std::map<std::string, Layer> layers;
  nlohmann::json calibration = nlohmann::json::object();  // provenance: method, samples, data, ...

  const QParams* find(std::string_view tensor, int bits) const;
  void set(const std::string& tensor, const QParams& q);
  // alloc with the per-layer keys "weight_scale" (and "bias_correction") and the
  // top-level section "quantization" {acc_bits, act_scheme, calibration, activations}.
  PrecisionAlloc to_alloc() const;
  // The spec stored in `a`, or nullopt when `a` has no "quantization" section (widths
  // only: calibrate). Throws qsim::Error("<source>: ...") for a malformed section.
  static std::optional<QuantSpec> from_alloc(const PrecisionAlloc& a, std::string_view source);
};

}  // namespace qsim
