// The qsim command line as a function: what main() runs, and what the command-line
// fuzz target (tests/fuzz/fuzz_cli.cpp) calls in-process with generated arguments.
#pragma once

namespace qsim::app {

// Parses `argv` (argv[0] is the program name), runs the command and returns the
// exit code: 0 success, 1 a check the command performs failed, 2 bad input (one
// line "qsim: error: ..." on std::cerr, nothing on std::cout, no file written).
// Never throws; an unexpected exception is reported as "qsim: error: internal
// error: ..." with code 2.
int run_cli(int argc, const char* const* argv);

}  // namespace qsim::app
