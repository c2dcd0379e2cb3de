// SCALE-Sim v2 .cfg reader; an accepted config times a small network.
#include "graph/scalesim_topology.h"
#include "sim/config/scalesim_cfg.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
qsim::LayerGraph g_net;
}

void fuzz_init() { g_net = qsim::import_scalesim_topology(std::string(QSIM_SOURCE_DIR) + "/tests/app/data/tiny.csv"); }

void fuzz_one(std::string_view bytes) {
  const qsim::ScaleSimConfig cfg = qsim::parse_scalesim_cfg(bytes, "fuzz.cfg");
  const qsim::HwSpec specs[] = {cfg.hw};
  qsim::fuzz::exercise_graph(g_net, specs);
}
