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
//
// Methods (SensitivityMethod; docs/quantune.md section 2a). The above is `quantunev2`.
// The three others measure one fused group (search/quantune.h) at a time, quantized
// alone at the width with every other layer in float32 (quant/group_probe.h: the float
// prefix cached, groups in parallel):
//   isolated    the same local metrics and combined score, measured on the group alone
//               (the error is the group's own, not what accumulated upstream);
//   output-kl   label-free: the mean KL divergence of the network's softmax output from
//               the float32 one (and the output SQNR, the argmax flips);
//   measured    the top-1 drop and the cross-entropy increase on the labelled samples.
// Every row gets est_drop, the estimated top-1 drop in points with only its group at
// that width: the measured drop, or a mapping from the method's metric fitted on the
// bundled models (est_drop_model(), docs/quantune.md).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <limits>

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

enum class SensitivityMethod : uint8_t { kQuantuneV2, kIsolated, kOutputKl, kMeasured };
std::optional<SensitivityMethod> parse_sensitivity_method(std::string_view s);
std::string_view sensitivity_method_name(SensitivityMethod m);
bool method_needs_labels(SensitivityMethod m);
// The method `qsim allocate --data` and `qsim search` use when none is named: measured
// on labelled data, output-kl otherwise (docs/quantune.md section 6).
SensitivityMethod default_sensitivity_method(bool labelled);
// "--method 'x': unknown method (did you mean measured?); methods: ..." for bad names.
SensitivityMethod sensitivity_method_or_fail(std::string_view s, std::string_view flag);

// The mapping from a label-free method's metric to est_drop (points of top-1):
// est_drop = scale * metric^power (metric: the mean output KL in nats for output-kl,
// the combined score for quantunev2 and isolated), fitted by least squares in log space
// on measured single-group drops (bench/quantune_validate).
struct EstDropModel {
  double scale = 0;
  double power = 1;
  double operator()(double metric) const;
};
EstDropModel est_drop_model(SensitivityMethod m);

struct SensitivityOptions {
  SensitivityMethod method = SensitivityMethod::kQuantuneV2;
  std::vector<int> bits{2, 4, 8};  // candidate widths (weights; activations too unless abits > 0)
  int abits = 0;                   // activation width of every candidate (0: the candidate width)
  bool per_channel = true;         // per-channel weight scales
  QuantOptions quant;              // calibration method, weight clipping, samples, threads, ...
  int64_t batch = 16;              // samples per executor run (when the graph can be re-batched)
  ScoreWeights weights;
  bool fuse_elementwise = true;    // groups as the hardware fuses them (search/quantune.h fused_groups)
  int64_t cache_bytes = int64_t{1} << 30;  // float32 prefix cache of the per-group methods
  std::optional<EstDropModel> est_drop;    // overrides est_drop_model(method) (leave-one-model-out fits)
  // Called after each group (per-group methods) with (done, total), from a worker.
  std::function<void(int64_t, int64_t)> progress;
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
  double score = 0;  // ranking score, normalised across the layers of this width (1: most sensitive)
  // Per-group methods (the row's group quantized alone); NaN where not measured.
  double metric = 0;       // the method's raw sensitivity (combined score, KL in nats, drop in points)
  double est_drop = std::numeric_limits<double>::quiet_NaN();  // estimated top-1 drop, points
  double kl = std::numeric_limits<double>::quiet_NaN();        // mean KL(float32 || quantized) of the output, nats
  double flip_rate = std::numeric_limits<double>::quiet_NaN(); // samples whose argmax changes
  double output_sqnr_db = std::numeric_limits<double>::quiet_NaN();
  double ce_increase = std::numeric_limits<double>::quiet_NaN();  // mean cross-entropy increase (labels)
  double top1_drop = std::numeric_limits<double>::quiet_NaN();    // points (labels)
  int group = -1;          // index into SensitivityResult::groups

  double w_sqnr_db() const;
  double a_sqnr_db() const;
  double a_in_sqnr_db() const;
  double a_sqnr_delta_db() const;
  double w_mse() const { return weight_count ? w_noise / static_cast<double>(weight_count) : 0.0; }
  double a_mse() const { return act_count ? a_noise / static_cast<double>(act_count) : 0.0; }
};

// What a measurement cost (JSON "cost", printed by the CLI).
struct SensitivityCost {
  int64_t calibration_runs = 0;  // float32 executor runs of the activation calibration
  int64_t runs = 0;              // every executor run (one batch each), calibration included
  double pass_equivalents = 0;   // work in whole-model passes over the samples (MACs), calibration included
  double seconds = 0;
};

struct SensitivityGroup {
  std::vector<std::string> layers;  // compute layers (names)
  std::vector<std::string> fused;   // element-wise ops fused into its output stage
};

struct SensitivityResult {
  SensitivityMethod method = SensitivityMethod::kQuantuneV2;
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
  std::vector<SensitivityGroup> groups;  // per-group methods: the groups measured
  SensitivityCost cost;
  double float_top1 = std::numeric_limits<double>::quiet_NaN();  // on the measured samples (labels)

  const LayerSensitivity& at(std::size_t width_index, std::size_t layer_index) const {
    return rows.at(width_index * layers.size() + layer_index);
  }
  // Index of `bits` in bits, or -1.
  int width_index(int bits) const;
  // How messages name it: its file when read from one (it may be another model's or
  // another run's), else "the sensitivity".
  std::string shown_name() const { return source.empty() ? std::string("the sensitivity") : source; }

  nlohmann::json to_json() const;
  // The JSON written by to_json(); throws qsim::Error("<source>: ...") when malformed.
  static SensitivityResult from_json(const nlohmann::json& j, std::string_view source);
  // One row per (layer, width): layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,...
  std::string to_csv() const;
};

// Measures every compute layer with constant weights at every width of o.bits, on
// the samples calibration_indices(data.size(), o.quant.calib_samples) of `data`, with
// o.method. Throws qsim::Error for data that does not fit the model, a width outside
// 2..16, or `measured` on data without labels.
SensitivityResult measure_sensitivity(const LayerGraph& g, const Dataset& data, const SensitivityOptions& o);

// (Re)computes every row's score with `w` (stored in r.weights): quantunev2 and
// isolated (the combined score, and est_drop from it); other methods keep theirs.
void score_sensitivity(SensitivityResult& r, const ScoreWeights& w);
// (Re)computes est_drop of every row from its metric with `m` (label-free methods).
void map_est_drop(SensitivityResult& r, const EstDropModel& m);

// Spearman's rank correlation of x and y (average ranks for ties); NaN when either
// is constant or the sizes differ or are below 2.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace qsim
