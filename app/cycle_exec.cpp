// cycle_backend() of the static qsim: hand the run to qsim-cycle (app/cycle_backend.h).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "app/cycle_backend.h"
#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim::app {

CycleBackend cycle_backend(std::string_view name) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("--backend {}: cannot locate qsim-cycle: /proc/self/exe: {}", name, ec.message());
  const std::string cycle = (exe.parent_path() / "qsim-cycle").string();
  if (::access(cycle.c_str(), X_OK) != 0)
    fail("--backend {}: {} is missing (the cycle-level backends run in qsim-cycle, built and installed beside qsim)",
         name, cycle);
  // The identical argv, as the kernel keeps it: NUL-terminated arguments.
  std::string cmdline = read_file("/proc/self/cmdline");
  std::vector<char*> argv;
  for (std::size_t at = 0; at < cmdline.size(); at = cmdline.find('\0', at) + 1) argv.push_back(cmdline.data() + at);
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(cycle.c_str(), argv.data());
  fail("--backend {}: cannot run {}: {}", name, cycle, std::strerror(errno));
}

}  // namespace qsim::app
