// Inputs shared by the timing commands (simulate, lut, sweep): where the
// hardware and the model come from and at which precision the layers run.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/output_paths.h"
#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "sim/hw_keys.h"
#include "sim/hw_spec.h"

namespace qsim::app {

// The hardware description as read once: the keys --hw HW.yaml or --scalesim-cfg
// FILE.cfg states, typed and located (not yet defaulted or validated). Every HwSpec
// (one per sweep point) is built from it by stating overrides on a copy and
// finishing it, so --set behaves the same for both sources and no YAML is re-read.
using HwBase = HwConfig;
HwBase load_hw_base(const HwInput& in);
// The validated spec with `overrides` ("KEY=VALUE", parse_hw_override) stated in order.
HwSpec build_hw(const HwBase& base, std::span<const std::string> overrides);

// The files a timing command reads (--hw, --scalesim-cfg, --model, --topology,
// --precision), for the output-path policy (app/output_paths.h).
CommandFiles timing_inputs(const HwInput& hw, const ModelInput& model, const PrecisionInput& precision);

// --model (.onnx or topology .csv) or --topology (SCALE-Sim CSV), shapes only.
LayerGraph load_model(const ModelInput& in);

// One entry per compute layer (graph.compute_layers() order) from --precision,
// or --bits / --wbits / --abits (default 8 x 8). Throws qsim::Error naming the
// file and the layer for a layer missing from --precision.
std::vector<LayerPrecision> resolve_precision(const PrecisionInput& in, const LayerGraph& g);

// Throws qsim::Error naming the layer when the PE cannot run its widths.
void check_widths(const LayerGraph& g, std::span<const LayerPrecision> p, const HwSpec& hw);

}  // namespace qsim::app
