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
#include <string_view>

#include <fmt/format.h>

namespace qsim {

// Control characters (a newline, a tab, a NUL quoted from a hostile file) are
// written as \xNN, so a message is always exactly one line.
inline std::string one_line_message(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(one_line_message(what)) {}
};

// Convenience: throw Error(fmt::format(...)).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace qsim
