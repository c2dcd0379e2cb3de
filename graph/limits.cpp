#include "graph/limits.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim {

namespace {

constexpr int64_t kMaxSize = int64_t{1} << 62;

std::atomic<int64_t> g_override{0};

int64_t meminfo_total() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

int64_t default_limit() {
  if (const char* env = std::getenv("QSIM_MEM_LIMIT"); env && *env) return parse_byte_size(env, "QSIM_MEM_LIMIT");
  return static_cast<int64_t>(static_cast<double>(physical_memory_bytes()) * kDefaultMemoryFraction);
}

}  // namespace

int64_t physical_memory_bytes() {
  static const int64_t phys = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && pages <= kMaxSize / page) return static_cast<int64_t>(pages) * page;
    const int64_t m = meminfo_total();
    return m > 0 ? m : int64_t{4} << 30;
  }();
  return phys;
}

int64_t parse_byte_size(std::string_view text, std::string_view what) {
  auto bad = [&]() -> int64_t {
    fail("{}: '{}' is not a size (examples: 2G, 512M, 1.5GiB, 100000, 25%)", what, text);
  };
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  if (s.empty()) bad();
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  const std::string num = s.substr(0, i);
  if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1) bad();
  const double value = std::strtod(num.c_str(), nullptr);
  std::string unit = s.substr(i);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double bytes = 0;
  if (unit == "%") {
    if (value <= 0 || value > 100) fail("{}: '{}': a percentage must be in (0, 100]", what, text);
    bytes = static_cast<double>(physical_memory_bytes()) * value / 100.0;
  } else {
    if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "ib") unit.resize(unit.size() - 2);
    else if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    double mult = 0;
    if (unit.empty()) mult = 1;
    else if (unit == "k") mult = 1024.0;
    else if (unit == "m") mult = 1024.0 * 1024;
    else if (unit == "g") mult = 1024.0 * 1024 * 1024;
    else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
    else bad();
    bytes = value * mult;
  }
  if (!(bytes >= 1)) fail("{}: '{}' is not a positive size", what, text);
  if (bytes > static_cast<double>(kMaxSize)) fail("{}: '{}' is larger than 2^62 bytes", what, text);
  return static_cast<int64_t>(bytes);
}

int64_t memory_limit() {
  const int64_t o = g_override.load(std::memory_order_relaxed);
  if (o > 0) return o;
  // Computed once; a malformed QSIM_MEM_LIMIT throws here (and again on the next call).
  static const int64_t d = default_limit();
  return d;
}

void set_memory_limit(int64_t bytes) { g_override.store(bytes > 0 ? bytes : 0, std::memory_order_relaxed); }

void check_memory(int64_t bytes, std::string_view what) {
  const int64_t limit = memory_limit();
  if (bytes > limit)
    fail("{} needs {}, more than the memory limit of {} (set with --mem-limit or QSIM_MEM_LIMIT)", what,
         format_bytes(bytes), format_bytes(limit));
}

std::string format_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.{}f} {}", v, v < 10 ? 1 : 0, kUnits[u]);
}

}  // namespace qsim
