// HwSpec YAML parser and validation. An accepted spec must survive the YAML
// round trip unchanged and time a small network (hostile array and buffer
// sizes reach the mapper).
#include "graph/scalesim_topology.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
qsim::LayerGraph g_net;
}

void fuzz_init() { g_net = qsim::import_scalesim_topology(std::string(QSIM_SOURCE_DIR) + "/tests/app/data/tiny.csv"); }

void fuzz_one(std::string_view bytes) {
  const qsim::HwSpec hw = qsim::hw_spec_from_yaml_text(bytes, "fuzz.yaml");
  const std::string yaml = qsim::hw_spec_to_yaml(hw);
  qsim::HwSpec back;
  try {
    back = qsim::hw_spec_from_yaml_text(yaml, "round-trip.yaml");
  } catch (const qsim::Error& e) {
    qsim::fuzz::invariant_failed("hw_spec_to_yaml output is rejected", e.what());
  }
  back.source = hw.source;
  if (!(back == hw)) qsim::fuzz::invariant_failed("YAML round trip changed the spec", yaml);
  const qsim::HwSpec specs[] = {hw};
  qsim::fuzz::exercise_graph(g_net, specs);
}
