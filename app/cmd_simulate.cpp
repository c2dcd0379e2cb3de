// qsim [simulate]: one model on one accelerator, the per-layer timing table and
// its exports (the input helpers the timing commands share: timing_inputs.cpp);
// qsim report.
#include "app/cmd_simulate.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "app/cycle_backend.h"
#include "app/html_report.h"
#include "app/provenance.h"
#include "app/quant_cli.h"
#include "app/report.h"
#include "app/verify.h"
#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/model_import.h"
#include "graph/scalesim_topology.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/config/scalesim_cfg.h"

namespace qsim::app {

namespace {

// The checks of the cycle-level options that need no model (bad input: exit 2).
void check_backend_options(const SimulateOptions& o) {
  if (o.backend != "analytical" && o.backend != "systemc" && o.backend != "rtl")
    fail("--backend '{}': expected analytical, systemc or rtl", o.backend);
  const bool sc = o.backend == "systemc";
  for (const auto& [flag, given] : {std::pair<const char*, bool>{"--vcd", !o.vcd.empty()},
                                    {"--trace", !o.trace.empty()},
                                    {"--no-fast-forward", o.no_fast_forward}})
    if (given && !sc) fail("{} needs --backend systemc", flag);
  if (o.verify && o.backend == "analytical") fail("--verify needs --backend systemc or rtl");
  if (!o.data.empty() && !o.verify) fail("--data {}: only --verify reads data", o.data);
  if (!o.vcd.empty() && o.layers.size() != 1)
    fail("--vcd {}: a waveform covers exactly one layer: name it with --layers (got {} names)", o.vcd,
         o.layers.size());
}

// --layers: every name must be a row of the report.
std::vector<std::string> checked_layers(const SimulateOptions& o, const TimingReport& full, const std::string& model) {
  std::vector<std::string> names;
  for (const std::string& n : o.layers) {
    if (n.empty()) fail("--layers: empty layer name");
    const bool known = std::any_of(full.layers.begin(), full.layers.end(), [&](const LayerTiming& r) { return r.name == n; });
    if (!known) fail("--layers: model {} has no layer '{}'", model, n);
    names.push_back(n);
  }
  return names;
}

}  // namespace

int run_simulate(const SimulateOptions& o) {
  check_backend_options(o);
  // The static qsim hands a cycle-level run to qsim-cycle here (execv), before any work.
  const CycleBackend cycle = o.backend == "analytical" ? CycleBackend{} : cycle_backend(o.backend);
  const std::vector<std::string> scalesim_reports = {"COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv"};
  CommandFiles declared = timing_inputs(o.hw, o.model, o.precision);
  data_inputs(declared, "--data", o.data);
  OutputFiles out = declared.output("--csv", o.csv)
                        .output("--json", o.json)
                        .output("--report", o.report)
                        .output_folder("--scalesim-out", o.scalesim_out, scalesim_reports)
                        .output("--vcd", o.vcd)
                        .output_tree("--trace", o.trace)
                        .check();
  const HwSpec hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  if (cycle.check_hw) cycle.check_hw(hw);  // before any heavy work
  LayerGraph g;
  if (o.verify) {  // the integer executor needs the weights
    if (!o.model.topology.empty() || !o.model.model.ends_with(".onnx"))
      fail("--verify needs an ONNX model with weights (--model M.onnx)");
    g = import_model(o.model.model);
  } else {
    g = load_model(o.model);
  }
  const std::vector<LayerPrecision> precision = resolve_precision(o.precision, g);
  check_widths(g, precision, hw);

  const AnalyticalBackend analytical;
  const TimingReport full = analytical.run(g, std::span<const LayerPrecision>(precision), hw);
  const std::string model_name = o.model.model.empty() ? o.model.topology : o.model.model;
  const std::vector<std::string> selected = checked_layers(o, full, model_name);
  if (!o.vcd.empty()) {  // a waveform shows the array: the one layer must run on it
    const auto row = std::find_if(full.layers.begin(), full.layers.end(),
                                  [&](const LayerTiming& r) { return r.name == selected.front(); });
    if (!row->is_compute)
      fail("--vcd {}: layer '{}' runs on the vector unit, not on the array: name a compute layer", o.vcd,
           selected.front());
  }
  auto select = [&](std::string_view row) {
    return selected.empty() || std::find(selected.begin(), selected.end(), row) != selected.end();
  };

  TimingReport report;
  std::unique_ptr<Verifier> verifier;
  if (o.backend == "analytical") {
    report = full;
    std::erase_if(report.layers, [&](const LayerTiming& r) { return !select(r.name); });
  } else {
    if (o.verify) verifier = std::make_unique<Verifier>(o, g, hw);
    SystemcOptions so;
    if (!selected.empty()) so.select = select;
    so.values = verifier.get();
    so.fast_forward = !o.no_fast_forward;
    // SystemC names the waveform <base>.vcd: a short hidden name beside the target.
    const std::string vcd_base =
        o.vcd.empty() ? ""
                      : (std::filesystem::path(o.vcd).parent_path() / fmt::format(".qsim.vcd.{}", ::getpid())).string();
    so.vcd = vcd_base;
    struct RemoveOnExit {  // SystemC writes the waveform beside the target; it never stays there
      std::string path;
      ~RemoveOnExit() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
      }
    } vcd_temp{vcd_base.empty() ? "" : vcd_base + ".vcd"};
    std::string trace_index;  // layer<i>,name
    if (!o.trace.empty()) {
      // `compute` by value: the callback runs after this block.
      so.trace = [&, compute = g.compute_layers()](std::size_t i,
                                                   std::vector<std::pair<std::string, std::string>> files) {
        const std::string sub = fmt::format("layer{}", i);
        for (auto& [file, text] : files) out.set_in(o.trace, sub + "/" + file, std::move(text));
        trace_index += fmt::format("layer{},{}\n", i, csv_field(g.node(compute[i]).name));
      };
    }
    const CycleOptions co{so, [](const std::string& m) { std::cerr << "qsim: " << m << "\n"; }};
    report = cycle.make(co)->run(g, std::span<const LayerPrecision>(precision), hw);
    if (!o.trace.empty()) out.set_in(o.trace, "layers.csv", "layer,name\n" + trace_index);
    if (!vcd_base.empty()) out.set(o.vcd, read_file(vcd_temp.path));
    if (verifier && !verifier->failure().empty()) {
      std::cerr << "qsim: verify failed: " << verifier->failure() << "\n";
      return 1;
    }
  }
  report.rows_omitted = full.layers.size() - report.layers.size();

  // Everything is rendered before anything is written, and written all together.
  if (!o.csv.empty()) out.set(o.csv, format_csv(report));
  if (!o.json.empty() || !o.report.empty()) {
    nlohmann::json j = to_json(report);
    j["provenance"] = provenance_json(o.command_line, o.hw, hw, o.model);
    if (!o.report.empty()) {
      const ReportInput in[] = {{report.model + " on " + report.hw, j}};
      out.set(o.report, render_html_report(in));
    }
    if (!o.json.empty()) out.set(o.json, j.dump(2) + "\n");
  }
  if (!o.scalesim_out.empty()) {
    const std::filesystem::path dir(o.scalesim_out);
    out.set((dir / scalesim_reports[0]).string(), format_scalesim_compute_report(report));
    out.set((dir / scalesim_reports[1]).string(), format_scalesim_bandwidth_report(report));
  }
  const std::string table = format_table(report);
  out.commit();
  std::cout << table;
  if (verifier)
    std::cerr << fmt::format("verify: {} layers, {} outputs equal to the integer executor's ({})\n",
                             verifier->layers(), verifier->outputs(), verifier->input());
  return 0;
}

int run_report(const ReportOptions& o) {
  CommandFiles declared;
  declared.input("--from", o.from);
  std::error_code ec;
  if (std::filesystem::is_directory(o.from, ec))  // the result JSONs it reads (load_report_inputs)
    for (const auto& e : std::filesystem::directory_iterator(o.from, ec))
      if (e.path().extension() == ".json") declared.input("--from", e.path().string());
  OutputFiles out = declared.output("--out", o.out).check();
  const std::vector<ReportInput> inputs = load_report_inputs(o.from);
  out.set(o.out, render_html_report(inputs));
  out.commit();
  std::cerr << fmt::format("qsim report: {} result(s) -> {}\n", inputs.size(), o.out);
  return 0;
}

}  // namespace qsim::app
