// The inputs the timing commands share (app/cmd_simulate.h): the hardware, the
// model, the precision, and the files they name. Apart from run_simulate so that
// the sweep (and its tests) use them without the cycle-level hand-over.
#include <fmt/format.h>

#include "app/cmd_simulate.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "graph/scalesim_topology.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/config/scalesim_cfg.h"

namespace qsim::app {

HwBase load_hw_base(const HwInput& in) {
  if (in.hw.empty() == in.scalesim_cfg.empty())
    fail("give exactly one hardware description: --hw HW.yaml or --scalesim-cfg FILE.cfg");
  if (!in.hw.empty()) return read_hw_config(in.hw);
  return load_scalesim_cfg(in.scalesim_cfg).config;
}

HwSpec build_hw(const HwBase& base, std::span<const std::string> overrides) {
  HwConfig config = base;
  for (const std::string& o : overrides) apply_hw_override(config, parse_hw_override(o));
  return finish_hw_spec(config);
}

CommandFiles timing_inputs(const HwInput& hw, const ModelInput& model, const PrecisionInput& precision) {
  CommandFiles files;
  files.input("--hw", hw.hw).input("--scalesim-cfg", hw.scalesim_cfg);
  files.input("--model", model.model).input("--topology", model.topology);
  files.input("--precision", precision.precision);
  return files;
}

LayerGraph load_model(const ModelInput& in) {
  if (in.model.empty() == in.topology.empty())
    fail("give exactly one model: --model M.onnx or --topology layers.csv");
  if (!in.topology.empty()) return import_scalesim_topology(in.topology);
  OnnxImportOptions io;
  io.keep_weights = false;  // timing needs shapes only
  return import_model(in.model, io);
}

std::vector<LayerPrecision> resolve_precision(const PrecisionInput& in, const LayerGraph& g) {
  if (!in.precision.empty()) {
    if (in.bits != 0 || in.wbits != 0 || in.abits != 0)
      fail("--precision {} cannot be combined with --bits, --wbits or --abits", in.precision);
    return PrecisionAlloc::load(in.precision).resolve(g, in.precision);
  }
  const auto check = [](std::string_view flag, int v) {
    if (v < 0 || v > 32) fail("{} {}: a width must be between 1 and 32", flag, v);
  };
  check("--bits", in.bits);
  check("--wbits", in.wbits);
  check("--abits", in.abits);
  const int base = in.bits != 0 ? in.bits : 8;
  const int w = in.wbits != 0 ? in.wbits : base;
  const int a = in.abits != 0 ? in.abits : base;
  return std::vector<LayerPrecision>(g.compute_layers().size(), LayerPrecision{w, a, false});
}

void check_widths(const LayerGraph& g, std::span<const LayerPrecision> p, const HwSpec& hw) {
  const auto layers = g.compute_layers();
  for (std::size_t i = 0; i < layers.size() && i < p.size(); ++i) {
    if (effective_width(hw.pe, p[i].wbits) != 0 && effective_width(hw.pe, p[i].abits) != 0) continue;
    fail("{}: layer '{}': {}-bit weights x {}-bit activations do not fit the {} PE (pe.widths {})", hw.source,
         g.node(layers[i]).name, p[i].wbits, p[i].abits, pe_model_name(hw.pe.precision),
         fmt::join(hw.pe.widths, ","));
  }
}

}  // namespace qsim::app
