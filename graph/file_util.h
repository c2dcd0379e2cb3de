// Small file helpers shared by every reader and writer in the project.
#pragma once

#include <string>
#include <string_view>

namespace qsim {

// Whole file as bytes; throws qsim::Error("<path>: cannot open: <reason>").
std::string read_file(const std::string& path);

// Atomic write: the content goes to "<path>.tmp.<pid>" and is renamed over `path`
// only when completely written, so a failure never leaves a partial output file.
// Throws qsim::Error("<path>: cannot write: <reason>").
void write_file_atomic(const std::string& path, std::string_view content);

}  // namespace qsim
