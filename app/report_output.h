// OutputFiles — every file one command writes, committed together.
//
// A command renders all its outputs in memory first, then commit() stages each
// as a temporary file beside its target and renames them into place only when
// every one was staged. Bad input therefore never leaves any output file, and a
// full disk or a missing directory leaves none either.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace qsim::app {

class OutputFiles {
 public:
  void add(std::string path, std::string content) { files_.emplace_back(std::move(path), std::move(content)); }
  // A directory to create (with parents) before staging; removed again if staging fails.
  void add_directory(std::string path) { dirs_.push_back(std::move(path)); }
  bool empty() const { return files_.empty(); }
  // Throws qsim::Error("<path>: cannot write: <reason>") and leaves nothing behind.
  void commit() const;

 private:
  std::vector<std::pair<std::string, std::string>> files_;
  std::vector<std::string> dirs_;
};

}  // namespace qsim::app
