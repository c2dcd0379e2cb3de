// qsim::Error — the one exception type for bad input.
//
// Every problem a user can cause (bad file, unknown key, unsupported operator,
// out-of-range value) is reported by throwing Error with a message that already
// names the file (and line, where there is one). The CLI catches it, prints the
// message on one line and exits with code 2. Internal invariant violations use
// assert/std::logic_error instead: those are our bugs, not the user's.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace qsim {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Convenience: throw Error(fmt::format(...)).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace qsim
