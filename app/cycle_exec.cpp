// cycle_backend() of the static qsim: hand the run to qsim-cycle (app/cycle_backend.h)
// through the one rule for sibling executables (app/exec_sibling.h).
#include "app/cycle_backend.h"
#include "app/exec_sibling.h"
#include "graph/error.h"

namespace qsim::app {

CycleBackend cycle_backend(std::string_view name) {
  fail("--backend {}: {} (the cycle-level backends run in qsim-cycle, built and installed beside qsim)", name,
       exec_sibling("qsim-cycle"));
}

}  // namespace qsim::app
