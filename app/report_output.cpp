#include "app/report_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "graph/error.h"

namespace qsim::app {

namespace fs = std::filesystem;

void OutputFiles::commit() const {
  std::vector<fs::path> created_dirs;  // outermost first, to undo on failure
  std::vector<std::string> staged;
  const auto undo = [&] {
    for (const auto& t : staged) std::remove(t.c_str());
    for (auto it = created_dirs.rbegin(); it != created_dirs.rend(); ++it) {
      std::error_code ec;
      fs::remove(*it, ec);  // only succeeds while empty: never removes what others put there
    }
  };
  try {
    for (const std::string& d : dirs_) {
      std::vector<fs::path> missing;
      for (fs::path p = fs::path(d).lexically_normal(); !p.empty() && !fs::exists(p); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
      }
      for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        std::error_code ec;
        if (!fs::create_directory(*it, ec) && ec) fail("{}: cannot create directory: {}", it->string(), ec.message());
        created_dirs.push_back(*it);
      }
      if (!fs::is_directory(d)) fail("{}: cannot write: not a directory", d);
    }
    const std::string suffix = ".tmp." + std::to_string(::getpid());
    for (const auto& [path, content] : files_) {
      if (fs::is_directory(path)) fail("{}: cannot write: is a directory", path);
      const std::string tmp = path + suffix;
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) fail("{}: cannot write: {}", path, std::strerror(errno));
      staged.push_back(tmp);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      out.flush();
      if (!out) fail("{}: cannot write: {}", path, std::strerror(errno));
    }
  } catch (...) {
    undo();
    throw;
  }
  // Every file is complete on disk; renames within one directory do not fail for
  // lack of space, so this is the all-or-nothing point.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (std::rename(staged[i].c_str(), files_[i].first.c_str()) != 0) {
      const int err = errno;
      for (std::size_t j = i; j < staged.size(); ++j) std::remove(staged[j].c_str());
      fail("{}: cannot write: {}", files_[i].first, std::strerror(err));
    }
  }
}

}  // namespace qsim::app
