// qsim command line. The only translation unit that includes CLI11.
#include <cstdio>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "app/version.h"
#include "graph/error.h"

namespace {

// Exit codes: 0 success, 1 a check that the command performs failed, 2 bad input.
constexpr int kExitBadInput = 2;

}  // namespace

int main(int argc, char** argv) {
  using namespace qsim::app;
  CLI::App app{
      "qsim — hardware/quantization co-design for CNN accelerators.\n"
      "Imports an ONNX model (or a SCALE-Sim topology) and reports per-layer latency, memory\n"
      "traffic and energy on a configurable systolic array at any per-layer precision.",
      "qsim"};
  app.set_version_flag("--version", std::string("qsim ") + QSIM_VERSION_STRING);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  // ---- qsim info ----
  InfoOptions info;
  auto* info_cmd = app.add_subcommand("info", "Print the fused layer graph: one row per layer, GEMM view, MACs, params");
  info_cmd->add_option("--model,-m", info.model, "Model file: .onnx, or a SCALE-Sim topology .csv")->required();
  info_cmd->add_flag("--json", info.json,
                     "Print JSON to stdout: layers[{name,op,M,N,K,macs,params,...}], compute_layers, "
                     "total_macs, total_params");

  // ---- main job: qsim --hw HW.yaml --model M.onnx ----
  std::string main_model, main_hw;
  app.add_option("--model,-m", main_model, "Model file (.onnx or SCALE-Sim topology .csv) for the main job");
  app.add_option("--hw", main_hw, "Hardware config (configs/*.yaml) for the main job");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "qsim: error: " << e.what() << "\n";
    return kExitBadInput;
  }

  try {
    if (*info_cmd) return run_info(info);
    if (!main_model.empty()) {
      // Until the timing backend lands, the main job prints the layer table.
      return run_info({main_model, false});
    }
    std::cout << app.help();
    return 0;
  } catch (const qsim::Error& e) {
    std::cerr << "qsim: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::cerr << "qsim: error: out of memory\n";
    return kExitBadInput;
  }
}
