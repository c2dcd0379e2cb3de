#include "app/exec_sibling.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace qsim::app {

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

std::string exec_sibling(const char* name, char** argv) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fmt::format("cannot find this executable: {}", std::strerror(errno));
  std::string path(self, static_cast<std::size_t>(n));
  path.resize(path.rfind('/') + 1);
  path += name;
  ::execv(path.c_str(), argv);
  return fmt::format("{}: {}", path, std::strerror(errno));
}

}  // namespace qsim::app
