// Running a sibling executable in place of this process: `qsim` stays one static
// executable with a fast start-up, and work that needs shared libraries lives in a
// dynamically linked sibling beside it, which `qsim` execs with its own arguments:
// qsim-cycle for --backend systemc|rtl (libsystemc; app/cycle_backend.h) and
// qsim-mpi for `qsim sweep` under an MPI launcher (OpenMPI; app/sweep_mpi.cpp).
// One rule for both: the sibling sits in the directory of /proc/self/exe, and it
// gets the argument vector exactly as the kernel keeps it (/proc/self/cmdline).
#pragma once

#include <string>
#include <string_view>

namespace qsim::app {

// True when an MPI launcher started this process (mpirun/mpiexec of OpenMPI or
// MPICH, Slurm's srun with PMI/PMIx): the environment names a world size.
bool launched_by_mpi();

// Replaces this process with `name` from the directory of /proc/self/exe, passing
// this process's arguments unchanged. Returns only on failure: the reason, one
// line ("/usr/bin/qsim-cycle is missing", "<path>: <system error>").
std::string exec_sibling(std::string_view name);

}  // namespace qsim::app
