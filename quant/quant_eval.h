// Side-by-side evaluation of a float32 model and its quantized versions.
//
// Every sample runs through the float32 executor and the requested quantized
// executors (fake-quant, integer); per mode it counts top-1 hits, top-1 agreement with
// the float32 model, and accumulates the output SQNR over the logits:
//   SQNR = 10 log10( sum y_fp32^2 / sum (y_fp32 - y_quant)^2 )  (dB, all samples).
// With two quantized modes it also compares them with each other (argmax agreement,
// largest logit difference in units of the output quantization step).
// Workers own their executors (one thread each) and pull batches from a shared
// counter, like quant/eval.h; the model is re-batched when it allows it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "data/dataset.h"
#include "quant/quant_model.h"

namespace qsim {

enum class QuantMode : uint8_t { kFake, kInt };
std::optional<QuantMode> parse_quant_mode(std::string_view s);
std::string_view quant_mode_name(QuantMode m);

struct QuantEvalOptions {
  std::vector<QuantMode> modes{QuantMode::kFake};
  int threads = 0;    // workers; 0 = all hardware threads
  int64_t batch = 0;  // samples per run when the graph can be re-batched; 0 = automatic
  bool keep_logits = false;  // keep the first mode's logits (samples x classes)
};

struct QuantModeResult {
  QuantMode mode = QuantMode::kFake;
  int64_t top1_correct = 0;
  int64_t agree_fp32 = 0;   // same argmax as float32
  double signal = 0, noise = 0;  // sums of squares for the SQNR
  double sqnr_db() const;
  double seconds = 0;        // time spent in this mode's executor (all workers)
};

struct QuantEvalResult {
  int64_t samples = 0;
  int64_t classes = 0;
  int64_t fp32_correct = 0;
  std::vector<QuantModeResult> modes;
  // Between modes[0] and modes[1], when two modes ran.
  int64_t modes_agree = 0;
  double modes_max_abs_diff = 0;    // largest |logit difference|
  double modes_max_diff_steps = 0;  // the same in output quantization steps
  double seconds = 0;
  int64_t batch = 1;
  int workers = 1;
  bool rebatched = false;
  std::optional<Tensor> logits;  // keep_logits: modes[0]'s, samples x classes
  double fp32_top1() const { return samples ? static_cast<double>(fp32_correct) / samples : 0.0; }
};

// Throws qsim::Error for a data set that does not fit the model (as evaluate()).
QuantEvalResult evaluate_quantized(const LayerGraph& g, const QuantSpec& spec, const Dataset& data,
                                   const QuantEvalOptions& opts = {});

}  // namespace qsim
