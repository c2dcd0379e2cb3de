// qsim [simulate]: one model on one accelerator, the per-layer timing table and
// its exports. Also the input helpers the lut and sweep commands share.
#include "app/cmd_simulate.h"

#include <filesystem>
#include <iostream>

#include "app/html_report.h"
#include "app/provenance.h"
#include "app/report.h"
#include "app/report_output.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "graph/scalesim_topology.h"
#include "sim/analytical/analytical_backend.h"
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

int run_simulate(const SimulateOptions& o) {
  const HwSpec hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  const LayerGraph g = load_model(o.model);
  const std::vector<LayerPrecision> precision = resolve_precision(o.precision, g);
  check_widths(g, precision, hw);

  const AnalyticalBackend backend;
  const TimingReport report = backend.run(g, std::span<const LayerPrecision>(precision), hw);

  // Everything is rendered before anything is written, and written all together.
  OutputFiles out;
  if (!o.csv.empty()) out.add(o.csv, format_csv(report));
  if (!o.json.empty() || !o.report.empty()) {
    nlohmann::json j = to_json(report);
    j["provenance"] = provenance_json(o.command_line, o.hw, hw, o.model);
    if (!o.report.empty()) {
      const ReportInput in[] = {{report.model + " on " + report.hw, j}};
      out.add(o.report, render_html_report(in));
    }
    if (!o.json.empty()) out.add(o.json, j.dump(2) + "\n");
  }
  if (!o.scalesim_out.empty()) {
    const std::filesystem::path dir(o.scalesim_out);
    out.add_directory(o.scalesim_out);
    out.add((dir / "COMPUTE_REPORT.csv").string(), format_scalesim_compute_report(report));
    out.add((dir / "BANDWIDTH_REPORT.csv").string(), format_scalesim_bandwidth_report(report));
  }
  const std::string table = format_table(report);
  out.commit();
  std::cout << table;
  return 0;
}

int run_report(const ReportOptions& o) {
  const std::vector<ReportInput> inputs = load_report_inputs(o.from);
  OutputFiles out;
  out.add(o.out, render_html_report(inputs));
  out.commit();
  std::cerr << fmt::format("qsim report: {} result(s) -> {}\n", inputs.size(), o.out);
  return 0;
}

}  // namespace qsim::app
