// The cycle-level backends (--backend systemc; rtl joins them) run in qsim-cycle, a
// dynamically linked sibling of the static qsim built from the same app sources:
// libsystemc cannot be loaded into a static PIE (it would bring a second libc), and
// only runs that simulate cycles should pay for loading it (docs/systemc.md).
//
// cycle_backend() has two definitions, chosen at link time:
//  - qsim links cycle_exec.cpp: it replaces the process by qsim-cycle from the
//    directory of /proc/self/exe, with the identical argv (execv), and so never
//    returns; a missing qsim-cycle is bad input (one line naming it, exit 2).
//  - qsim-cycle links cycle_backends.cpp: it returns the backend's factory.
// run_simulate calls it first, before reading any file, so qsim does no work twice.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "sim/backend.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim::app {

using CycleBackendFactory = std::function<std::unique_ptr<TimingBackend>(const SystemcOptions&)>;

// `name` is a cycle-level backend's name (--backend, already checked).
CycleBackendFactory cycle_backend(std::string_view name);

}  // namespace qsim::app
