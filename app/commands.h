// The qsim subcommands as plain functions over plain option structs.
//
// main.cpp is the only file that knows CLI11 (it is expensive to compile); each
// command lives in its own cmd_*.cpp, does its work through the libraries and
// returns the process exit code. Bad input is reported by throwing qsim::Error,
// which main() turns into one line on stderr and exit code 2.
#pragma once

#include <string>
#include <vector>

namespace qsim::app {

struct InfoOptions {
  std::string model;
  bool json = false;
};
int run_info(const InfoOptions& o);

}  // namespace qsim::app
