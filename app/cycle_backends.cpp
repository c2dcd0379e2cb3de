// cycle_backend() of qsim-cycle: the cycle-level backends linked into this binary
// (app/cycle_backend.h).
#include <systemc>

#include "app/cycle_backend.h"
#include "graph/error.h"
#include "sim/rtl/rtl_backend.h"

namespace qsim::app {

CycleBackend cycle_backend(std::string_view name) {
  if (name == "systemc")
    return {[](const HwSpec&) {},  // SystemcBackend::run checks what it cannot run
            [](const CycleOptions& o) -> std::unique_ptr<TimingBackend> {
              return std::make_unique<SystemcBackend>(o.systemc);
            }};
  if (name == "rtl")
    return {[](const HwSpec& hw) { RtlBackend::check_hw(hw); },
            [](const CycleOptions& o) -> std::unique_ptr<TimingBackend> {
              return std::make_unique<RtlBackend>(RtlOptions{o.systemc.select, o.systemc.values, o.notice});
            }};
  fail("--backend {}: not built into qsim-cycle", name);
}

}  // namespace qsim::app

// libsystemc refers to the program's sc_main (its own main() would call it). Here the
// program is the qsim CLI, whose main() elaborates and runs the model through
// SystemcBackend; this thin sc_main only completes the library.
int sc_main(int, char*[]) {
  SC_REPORT_ERROR("qsim", "qsim-cycle is the qsim command line, not a SystemC program: its main() runs the model");
  return 1;
}
