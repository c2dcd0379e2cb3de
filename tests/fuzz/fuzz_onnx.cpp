// ONNX importer: parse, operator check, static shape inference (hostile shapes),
// constant folding, decoding of the weights, passes; then the stats and the
// analytical backend on what was accepted.
#include "graph/onnx_import.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
std::vector<qsim::HwSpec> g_specs;
}

void fuzz_init() {
  for (const char* c : {"configs/eyeriss.yaml", "configs/scalesim-default.yaml"})
    g_specs.push_back(qsim::hw_spec_from_yaml_text(qsim::fuzz::source_file(c), c));
}

void fuzz_one(std::string_view bytes) {
  qsim::OnnxImportOptions opts;
  opts.keep_weights = true;
  const qsim::LayerGraph g = qsim::import_onnx_bytes(std::string(bytes), "fuzz.onnx", opts);
  qsim::fuzz::exercise_graph(g, g_specs);
}
