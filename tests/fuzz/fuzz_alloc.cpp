// alloc.json reader (PrecisionAlloc::parse). An accepted file must write back
// and read again to the same allocation, and resolve against a small network
// either cleanly or with a qsim::Error.
#include "graph/precision_alloc.h"
#include "graph/scalesim_topology.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
qsim::LayerGraph g_net;
}

void fuzz_init() { g_net = qsim::import_scalesim_topology(std::string(QSIM_SOURCE_DIR) + "/tests/app/data/tiny.csv"); }

void fuzz_one(std::string_view bytes) {
  const qsim::PrecisionAlloc a = qsim::PrecisionAlloc::parse(bytes, "fuzz.json");
  const std::string text = a.to_json().dump(2);
  qsim::PrecisionAlloc back;
  try {
    back = qsim::PrecisionAlloc::parse(text, "round-trip.json");
  } catch (const qsim::Error& e) {
    qsim::fuzz::invariant_failed("to_json output is rejected", e.what());
  }
  if (back.entries() != a.entries() || back.to_json() != a.to_json())
    qsim::fuzz::invariant_failed("alloc.json round trip changed the allocation", text);
  (void)a.resolve(g_net, "fuzz.json");
}
