// SCALE-Sim topology CSV reader (conv and GEMM forms), then stats and the
// analytical backend on the layers it accepted.
#include "graph/scalesim_topology.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
std::vector<qsim::HwSpec> g_specs;
}

void fuzz_init() {
  for (const char* c : {"configs/eyeriss.yaml", "configs/tpu-like.yaml"})
    g_specs.push_back(qsim::hw_spec_from_yaml_text(qsim::fuzz::source_file(c), c));
}

void fuzz_one(std::string_view bytes) {
  const qsim::LayerGraph g = qsim::import_scalesim_topology_text(std::string(bytes), "fuzz.csv");
  qsim::fuzz::exercise_graph(g, g_specs);
}
