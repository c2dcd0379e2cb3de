// The cycle-level backends (--backend systemc and rtl) run in qsim-cycle, a
// dynamically linked sibling of the static qsim built from the same app sources:
// libsystemc cannot be loaded into a static PIE (it would bring a second libc), and
// only runs that simulate cycles should pay for loading it (docs/systemc.md).
//
// cycle_backend() has two definitions, chosen at link time:
//  - qsim links cycle_exec.cpp: it replaces the process by qsim-cycle from the
//    directory of /proc/self/exe, with the identical argv (execv), and so never
//    returns; a missing qsim-cycle is bad input (one line naming it, exit 2).
//  - qsim-cycle links cycle_backends.cpp: it returns the backend's check and factory.
// run_simulate calls it first, before reading any file, so qsim does no work twice.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sim/backend.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim::app {

// What a cycle-level run takes from the command line: the SystemC backend's options
// (rows to run, operands, waveform, traces, fast-forward; rtl uses the rows and the
// operands) and where rtl says that a run will take long.
struct CycleOptions {
  SystemcOptions systemc;
  std::function<void(const std::string& message)> notice;
};

struct CycleBackend {
  // Throws qsim::Error (bad input) when the backend cannot run `hw` at all; called
  // before any heavy work.
  std::function<void(const HwSpec& hw)> check_hw;
  std::function<std::unique_ptr<TimingBackend>(const CycleOptions&)> make;
};

// `name` is a cycle-level backend's name (--backend, already checked).
CycleBackend cycle_backend(std::string_view name);

}  // namespace qsim::app
