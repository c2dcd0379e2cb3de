// SHA-256 of a file, so a result JSON names exactly which model produced it.
#pragma once

#include <string>
#include <string_view>

namespace qsim::app {

// Lower-case hex SHA-256 of the file's bytes. Throws qsim::Error naming the file
// when it cannot be read.
std::string sha256_file_hex(const std::string& path);
// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace qsim::app
