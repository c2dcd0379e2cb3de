// The SystemC backend, loaded on first use from libqsim_systemc_plugin.so beside the
// qsim binary (sim/systemc/plugin.cpp): commands that do not simulate never load
// libsystemc (about 10 ms of CPU per process start-up).
#pragma once

#include <memory>

#include "sim/backend.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim::app {

// Throws qsim::Error when the plugin cannot be loaded (missing beside the binary,
// or QSIM_SYSTEMC_PLUGIN names a bad file).
std::unique_ptr<TimingBackend> make_systemc_backend(const SystemcOptions& o);

}  // namespace qsim::app
