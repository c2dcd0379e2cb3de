// What `qsim quantize` and `qsim run --precision` share: option checking, data
// sources and where the quantization parameters come from (cmd_quantize.cpp).
#pragma once

#include <memory>
#include <string>

#include "app/commands.h"
#include "app/output_paths.h"
#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "data/dataset.h"
#include "quant/quant_eval.h"
#include "quant/quant_model.h"

namespace qsim::app {

// Checked options (qsim::Error naming the flag for unknown names or bad values).
QuantOptions quant_options(const QuantCliOptions& q, int threads);
QuantMode quant_mode(const QuantCliOptions& q);

// The files a data source reads, as inputs of the output-path policy: the IDX files
// of fashion-mnist[:DIR] (both splits), the folder of images:DIR, the file of
// npy:FILE. A malformed `spec` declares nothing (its reader reports it).
void data_inputs(CommandFiles& files, std::string_view option, const std::string& spec);

// fashion-mnist[:DIR] (the given split) or npy:FILE (labels from `labels`, required
// when need_labels). images:DIR is not a quantization data source.
std::unique_ptr<Dataset> open_quant_data(const std::string& spec, const std::string& labels, Split split,
                                         int64_t limit, bool need_labels, const char* flag);

// The parameters to run `g` with: those stored in `alloc` (its "quantization"
// section) unless q.recalibrate, else calibrated on q.calib_data (or on
// `default_calib` when that is empty). Throws qsim::Error when neither exists.
struct SpecSource {
  QuantSpec spec;
  bool calibrated = false;
  std::string how;  // "scales from FILE" or "minmax on 512 samples of ..."
};
SpecSource quant_spec(const LayerGraph& g, const PrecisionAlloc& alloc, const std::string& alloc_source,
                      const QuantCliOptions& q, const std::string& default_calib, int threads);

}  // namespace qsim::app
