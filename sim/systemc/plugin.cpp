// The SystemC backend as a plugin of the qsim binary (libqsim_systemc_plugin.so,
// loaded by app/systemc_plugin.h on --backend systemc).
#include <systemc>

#include "sim/systemc/systemc_backend.h"

extern "C" qsim::TimingBackend* qsim_systemc_backend_create(const qsim::SystemcOptions* options) {
  return new qsim::SystemcBackend(*options);
}

// libsystemc refers to the program's sc_main (its own main() calls it). In qsim the
// program is the qsim CLI, which elaborates and runs the model through
// SystemcBackend; this thin sc_main only completes the library, and says so if a
// SystemC launcher ever calls it.
int sc_main(int, char*[]) {
  SC_REPORT_ERROR("qsim", "libqsim_systemc_plugin.so is a qsim plugin, not a SystemC program: run qsim --backend systemc");
  return 1;
}
