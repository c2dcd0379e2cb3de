// qsim::Error — the one exception type for bad input.
//
// Every problem a user can cause (bad file, unknown key, unsupported operator,
// out-of-range value) is reported by throwing Error with a message that already
// names the file (and line, where there is one). The CLI catches it, prints the
// message on one line and exits with code 2. Internal invariant violations use
// assert/std::logic_error instead: those are our bugs, not the user's.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

// Levenshtein distance, for "did you mean" suggestions.
inline std::size_t name_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate nearest to `word` (edit distance, or one more than the distance to the
// candidate's start of the same length, so that an abbreviation finds its word; the
// first on ties).
inline std::string_view closest_name(std::string_view word, std::initializer_list<std::string_view> candidates) {
  std::string_view best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates)
    if (const std::size_t d = std::min(name_distance(word, c), name_distance(word, c.substr(0, word.size())) + 1);
        d < best_d) {
      best_d = d;
      best = c;
    }
  return best;
}

}  // namespace qsim
