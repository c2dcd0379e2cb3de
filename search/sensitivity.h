// QuantuneV2-style layer sensitivity from local metrics (Kim, Lee, Kwon, Kim;
// FGCS 2025, arXiv 2501.07161; docs/quantune.md).
//
// For every compute layer (Conv/Gemm/MatMul with constant weights; Conv+BN+activation
// are one fused layer after import) and every candidate width b:
// - weight metrics: the layer's weights quantized as the calibrated QuantSpec says
//   (symmetric, per channel by default) against the float32 weights:
//     w_sqnr_db = 10 log10( sum w^2 / sum (w - w_q)^2 ),  w_mse = mean (w - w_q)^2;
// - activation metrics: the layer's output tensor in the quantized model (every layer
//   quantized at once: weights at b bits, activations at `abits`, or b when 0)
//   against the same tensor in the float32 model, summed over all samples:
//     a_sqnr_db = 10 log10( sum y^2 / sum (y - y_q)^2 ),  a_mse = mean (y - y_q)^2;
//   and the same for the tensor the layer reads (a_in_sqnr_db), so
//   a_sqnr_delta_db = a_in_sqnr_db - a_sqnr_db is the SQNR the layer itself loses.
// Cost: per batch of samples, one float32 pass (its layer outputs kept for that batch
// only, shared by every width) and one quantized pass per width: 1 + |bits| executor
// runs per batch, linear in the samples and independent of the number of layers
// (SensitivityResult::float_runs / quant_runs count them with an observer hook).
// Activation ranges are calibrated beforehand by quant/calib.h's calibrate(), once per
// width, on the same samples (its own float32 pass, or two for histogram methods).
//
// The combined score (score_sensitivity) normalises each metric across the layers of
// one width (min-max to [0, 1], oriented so that 1 is the most sensitive layer) and
// takes their weighted mean: higher = more sensitive.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/layer_graph.h"
#include "data/dataset.h"
#include "quant/quant_model.h"

namespace qsim {

// Weights of the normalised metrics in the combined score (docs/quantune.md).
struct ScoreWeights {
  double w_sqnr = 1.0;   // -w_sqnr_db
  double a_sqnr = 0.0;   // -a_sqnr_db
  double w_mse = 1.0;    // w_mse, in dB (10 log10)
  double a_mse = 0.0;    // a_mse, in dB
  double a_delta = 1.0;  // a_sqnr_delta_db
  // "a,b,c,d" or "a,b,c,d,e" (non-negative, not all zero); throws qsim::Error naming `flag`.
  static ScoreWeights parse(std::string_view text, std::string_view flag);
  std::string str() const;
};

struct SensitivityOptions {
  std::vector<int> bits{2, 4, 8};  // candidate widths (weights; activations too unless abits > 0)
  int abits = 0;                   // activation width of every candidate (0: the candidate width)
  bool per_channel = true;         // per-channel weight scales
  QuantOptions quant;              // calibration method, weight clipping, samples, threads, ...
  int64_t batch = 16;              // samples per executor run (when the graph can be re-batched)
  ScoreWeights weights;
};

struct LayerSensitivity {
  std::string layer;
  std::string op;
  int bits = 0;   // weight width of the candidate
  int abits = 0;  // activation width of the candidate
  int64_t weight_count = 0, act_count = 0, in_count = 0;  // elements summed over
  double w_signal = 0, w_noise = 0;    // sums of squares
  double a_signal = 0, a_noise = 0;
  double in_signal = 0, in_noise = 0;
  double score = 0;  // combined, normalised across the layers of this width

  double w_sqnr_db() const;
  double a_sqnr_db() const;
  double a_in_sqnr_db() const;
  double a_sqnr_delta_db() const;
  double w_mse() const { return weight_count ? w_noise / static_cast<double>(weight_count) : 0.0; }
  double a_mse() const { return act_count ? a_noise / static_cast<double>(act_count) : 0.0; }
};

struct SensitivityResult {
  std::string model;
  std::string source;  // the file it was read from (from_json), for messages; "" when measured
  std::vector<std::string> layers;  // compute layers measured, topological order
  std::vector<int> bits;
  int abits = 0;
  bool per_channel = true;
  std::vector<LayerSensitivity> rows;  // width-major: rows[w * layers.size() + l]
  ScoreWeights weights;
  int64_t samples = 0;
  int64_t batch = 1;
  int64_t batches = 0;
  int64_t float_runs = 0;  // float32 executor runs (observer hook on the first node)
  int64_t quant_runs = 0;  // quantized executor runs, all widths
  nlohmann::json calibration = nlohmann::json::object();
  double seconds = 0;

  const LayerSensitivity& at(std::size_t width_index, std::size_t layer_index) const {
    return rows.at(width_index * layers.size() + layer_index);
  }
  // Index of `bits` in bits, or -1.
  int width_index(int bits) const;

  nlohmann::json to_json() const;
  // The JSON written by to_json(); throws qsim::Error("<source>: ...") when malformed.
  static SensitivityResult from_json(const nlohmann::json& j, std::string_view source);
  // One row per (layer, width): layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,...
  std::string to_csv() const;
};

// Measures every compute layer with constant weights at every width of o.bits, on
// the samples calibration_indices(data.size(), o.quant.calib_samples) of `data`.
// Throws qsim::Error for data that does not fit the model or a width outside 2..16.
SensitivityResult measure_sensitivity(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o);

// (Re)computes every row's score with `w` (stored in r.weights).
void score_sensitivity(SensitivityResult& r, const ScoreWeights& w);

// Spearman's rank correlation of x and y (average ranks for ties); NaN when either
// is constant or the sizes differ or are below 2.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace qsim
