// Running a sibling executable in place of this process: `qsim` stays one static
// executable with a fast start-up, and work that needs shared libraries (MPI here)
// lives in a dynamically linked sibling beside it (qsim-mpi), which `qsim` execs
// with the same arguments when it finds itself launched for that work.
#pragma once

#include <string>

namespace qsim::app {

// True when an MPI launcher started this process (mpirun/mpiexec of OpenMPI or
// MPICH, Slurm's srun with PMI/PMIx): the environment names a world size.
bool launched_by_mpi();

// Replaces this process with `name` from the directory of /proc/self/exe, passing
// argv unchanged. Returns only on failure: the reason, one line.
std::string exec_sibling(const char* name, char** argv);

}  // namespace qsim::app
