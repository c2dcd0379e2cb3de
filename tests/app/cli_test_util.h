// Running the real qsim binary (QSIM_BINARY) from tests, and small file helpers.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_files.h"  // slurp

namespace qsim::test {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A fresh directory per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // Parameterized names hold '/' ("Reference/Suite"): one flat directory, nothing left above it.
    std::string name = "qsim_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
                       std::to_string(::getpid());
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = fs::temp_directory_path() / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  // Every entry under the directory (to check that nothing was written).
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : fs::recursive_directory_iterator(path_)) v.push_back(e.path().string());
    return v;
  }

 private:
  fs::path path_;
};

// Runs `binary` with `args`; stdout and stderr go through files in `tmp`.
inline RunResult run_binary(const std::string& binary, const std::vector<std::string>& args, const TempDir& tmp) {
  std::string cmd = shell_quote(binary);
  for (const auto& a : args) cmd.append(" ").append(shell_quote(a));
  const fs::path out = tmp.path() / ".stdout";
  const fs::path err = tmp.path() / ".stderr";
  cmd.append(" >").append(shell_quote(out.string())).append(" 2>").append(shell_quote(err.string()));
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

inline RunResult run_qsim(const std::vector<std::string>& args, const TempDir& tmp) {
  return run_binary(QSIM_BINARY, args, tmp);
}

// Splits "a, b, c," (SCALE-Sim's rows: ", " separators and a trailing comma).
inline std::vector<std::string> split_row(const std::string& line) {
  std::vector<std::string> f;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      std::size_t b = cur.find_first_not_of(' ');
      f.push_back(b == std::string::npos ? "" : cur.substr(b));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (cur.find_first_not_of(" \r") != std::string::npos) f.push_back(cur.substr(cur.find_first_not_of(' ')));
  return f;
}

inline std::vector<std::vector<std::string>> read_rows(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(split_row(line));
  return rows;
}

inline std::string data_dir() { return std::string(QSIM_SOURCE_DIR) + "/tests/app/data/"; }
// SCALE-Sim v2 reference runs, configs and topologies (tests/data/scalesim/README.md).
inline std::string reference_dir() { return std::string(QSIM_SCALESIM_DIR) + "/"; }

}  // namespace qsim::test
