#include "app/exec_sibling.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim::app {

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

std::string exec_sibling(std::string_view name) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return fmt::format("cannot find this executable: /proc/self/exe: {}", ec.message());
  const std::string path = (self.parent_path() / name).string();
  if (::access(path.c_str(), X_OK) != 0) return fmt::format("{} is missing", path);
  // The identical argv, as the kernel keeps it: NUL-terminated arguments.
  std::string cmdline;
  try {
    cmdline = read_file("/proc/self/cmdline");
  } catch (const Error& e) {
    return e.what();
  }
  std::vector<char*> argv;
  for (std::size_t at = 0; at < cmdline.size(); at = cmdline.find('\0', at) + 1) argv.push_back(cmdline.data() + at);
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(path.c_str(), argv.data());
  return fmt::format("{}: {}", path, std::strerror(errno));
}

}  // namespace qsim::app
