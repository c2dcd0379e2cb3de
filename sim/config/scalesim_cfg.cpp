#include "sim/config/scalesim_cfg.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "graph/error.h"
#include "graph/file_util.h"
#include "sim/hw_keys.h"

namespace qsim {

namespace {

struct Entry {
  std::string key;  // as spelled in the file (for messages)
  std::string value;
  int line = 0;
};

struct Section {
  int line = 0;
  std::map<std::string, Entry> entries;  // by lower-case key
};

struct KeySpec {
  std::string_view section;
  std::string_view key;  // canonical spelling; matched case-insensitively like configparser
  bool required;
};

// Every key SCALE-Sim v2 reads (scale_config.py). Bandwidth is required only in
// USER mode (checked separately); MemoryBanks is in every shipped config but never read.
constexpr std::array kKeys = {
    KeySpec{"general", "run_name", true},
    KeySpec{"architecture_presets", "ArrayHeight", true},
    KeySpec{"architecture_presets", "ArrayWidth", true},
    KeySpec{"architecture_presets", "IfmapSramSzkB", true},
    KeySpec{"architecture_presets", "FilterSramSzkB", true},
    KeySpec{"architecture_presets", "OfmapSramSzkB", true},
    KeySpec{"architecture_presets", "IfmapOffset", true},
    KeySpec{"architecture_presets", "FilterOffset", true},
    KeySpec{"architecture_presets", "OfmapOffset", true},
    KeySpec{"architecture_presets", "Dataflow", true},
    KeySpec{"architecture_presets", "Bandwidth", false},
    KeySpec{"architecture_presets", "MemoryBanks", false},
    KeySpec{"run_presets", "InterfaceBandwidth", true},
    KeySpec{"network_presets", "TopologyCsvLoc", false},
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool known_section(std::string_view name) {
  return std::any_of(kKeys.begin(), kKeys.end(), [&](const KeySpec& k) { return k.section == name; });
}

const KeySpec* find_key(std::string_view section, std::string_view lower_key) {
  for (const KeySpec& k : kKeys)
    if (k.section == section && lower(k.key) == lower_key) return &k;
  return nullptr;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : source_(source) { parse(text); }

  const Entry* find(std::string_view section, std::string_view key) const {
    const auto s = sections_.find(std::string(section));
    if (s == sections_.end()) return nullptr;
    const auto e = s->second.entries.find(lower(key));
    return e == s->second.entries.end() ? nullptr : &e->second;
  }

  const Entry& require(std::string_view section, std::string_view key) const {
    if (const Entry* e = find(section, key)) return *e;
    if (!sections_.contains(std::string(section))) fail("{}: missing section [{}]", source_, section);
    fail("{}:{}: section [{}] lacks required key '{}'", source_, sections_.at(std::string(section)).line, section,
         key);
  }

  [[noreturn]] void bad(const Entry& e, std::string_view why) const {
    fail("{}:{}: bad value '{}' for {}: {}", source_, e.line, e.value, e.key, why);
  }

  // Python's int(): optional sign, decimal digits (and '_' between digits).
  int64_t integer(const Entry& e, int64_t min) const { return integer_text(e, e.value, min); }

  int64_t integer_text(const Entry& e, std::string_view text, int64_t min) const {
    std::string digits;
    std::string_view t = trim(text);
    bool neg = false;
    if (!t.empty() && (t.front() == '+' || t.front() == '-')) {
      neg = t.front() == '-';
      t.remove_prefix(1);
    }
    for (std::size_t i = 0; i < t.size(); ++i) {
      const char c = t[i];
      if (c == '_' && i > 0 && i + 1 < t.size() && t[i - 1] != '_') continue;
      if (c < '0' || c > '9') bad(e, "expected an integer");
      digits += c;
    }
    if (digits.empty()) bad(e, "expected an integer");
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || p != digits.data() + digits.size()) bad(e, "integer out of range");
    if (neg) v = -v;
    if (v < min) bad(e, fmt::format("must be at least {}", min));
    return v;
  }

 private:
  void parse(std::string_view text) {
    Section* current = nullptr;
    std::string current_name;
    int line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      const std::size_t nl = text.find('\n', pos);
      const std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      ++line_no;
      const std::string_view line = trim(raw);
      if (line.empty() || line.front() == '#' || line.front() == ';') continue;

      if (line.front() == '[') {
        if (line.back() != ']' || line.size() < 3) fail("{}:{}: malformed section header '{}'", source_, line_no, line);
        current_name = std::string(line.substr(1, line.size() - 2));
        if (!known_section(current_name))
          fail("{}:{}: unknown section [{}] (SCALE-Sim v2 reads [general], [architecture_presets], "
               "[run_presets], [network_presets])",
               source_, line_no, current_name);
        if (sections_.contains(current_name)) fail("{}:{}: duplicate section [{}]", source_, line_no, current_name);
        current = &sections_[current_name];
        current->line = line_no;
        continue;
      }

      const std::size_t delim = line.find_first_of("=:");
      if (delim == std::string_view::npos)
        fail("{}:{}: expected 'key = value' or 'key : value', got '{}'", source_, line_no, line);
      const std::string_view key = trim(line.substr(0, delim));
      if (key.empty()) fail("{}:{}: missing key before '{}'", source_, line_no, line[delim]);
      if (current == nullptr) fail("{}:{}: key '{}' before any [section] header", source_, line_no, key);
      const std::string lkey = lower(key);
      if (find_key(current_name, lkey) == nullptr)
        fail("{}:{}: unknown key '{}' in section [{}]", source_, line_no, key, current_name);
      if (current->entries.contains(lkey))
        fail("{}:{}: duplicate key '{}' in section [{}]", source_, line_no, key, current_name);
      current->entries[lkey] = Entry{std::string(key), std::string(trim(line.substr(delim + 1))), line_no};
    }
  }

  const std::string& source_;
  std::map<std::string, Section> sections_;
};

}  // namespace

ScaleSimConfig parse_scalesim_cfg(std::string_view text, const std::string& source) {
  const Parser p(text, source);
  for (const KeySpec& k : kKeys)
    if (k.required) p.require(k.section, k.key);

  ScaleSimConfig out;
  HwConfig& config = out.config;
  config.spec.source = source;
  // Each key is stated where the .cfg gives it, so a validation error names its line;
  // SCALE-Sim's fixed assumptions are stated at the file. pe.widths, energy.* and
  // vector.lanes keep qsim's defaults (for a fixed 8-bit PE: [8], Horowitz, array.cols).
  const auto line = [&](const Entry& e) { return fmt::format("{}:{}", source, e.line); };
  const auto state = [&](std::string_view key, HwValue v, std::string where) {
    hw_state(config, key, std::move(v), std::move(where));
  };

  const Entry& run_name = p.require("general", "run_name");
  out.run_name = run_name.value;
  if (!out.run_name.empty()) state("name", out.run_name, line(run_name));

  const Entry& mode = p.require("run_presets", "InterfaceBandwidth");
  if (mode.value == "USER") {
    out.user_bandwidth = true;
  } else if (mode.value != "CALC") {
    p.bad(mode, "expected CALC or USER");
  }

  const Entry& height = p.require("architecture_presets", "ArrayHeight");
  const Entry& width = p.require("architecture_presets", "ArrayWidth");
  state("array.rows", p.integer(height, 1), line(height));
  state("array.cols", p.integer(width, 1), line(width));
  const Entry& df = p.require("architecture_presets", "Dataflow");
  // SCALE-Sim only warns and silently runs OS; a typo must not change the dataflow.
  if (df.value != "os" && df.value != "ws" && df.value != "is") p.bad(df, "expected os, ws or is");
  state("array.dataflow", df.value, line(df));
  state("array.clock_mhz", kScaleSimClockMhz, source);

  // kB in SCALE-Sim: size_bytes = 1024 * kB, word_size = 1 byte (single_layer_sim.py).
  for (const auto& [cfg_key, key] : {std::pair{"IfmapSramSzkB", "memory.ifmap_kib"},
                                     std::pair{"FilterSramSzkB", "memory.filter_kib"},
                                     std::pair{"OfmapSramSzkB", "memory.ofmap_kib"}}) {
    const Entry& e = p.require("architecture_presets", cfg_key);
    state(key, static_cast<double>(p.integer(e, 1)), line(e));
  }
  for (std::string_view k : {"IfmapOffset", "FilterOffset", "OfmapOffset"})
    p.integer(p.require("architecture_presets", k), 0);
  if (const Entry* banks = p.find("architecture_presets", "MemoryBanks")) p.integer(*banks, 1);
  state("memory.banks", int64_t{1}, source);
  state("memory.double_buffer", true, source);
  state("memory.dram_latency_cycles", int64_t{0}, source);
  state("memory.word_bits", int64_t{8}, source);
  state("memory.pack_narrow", true, source);

  // Bandwidth: a comma list; SCALE-Sim uses only the first value, for all three buffers.
  std::optional<int64_t> bandwidth;
  const Entry* bw = p.find("architecture_presets", "Bandwidth");
  if (bw) {
    std::string_view rest = bw->value;
    while (true) {
      const std::size_t comma = rest.find(',');
      const int64_t v = p.integer_text(*bw, rest.substr(0, comma), 1);
      if (!bandwidth) bandwidth = v;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (out.user_bandwidth) {
    if (!bandwidth)
      fail("{}:{}: InterfaceBandwidth USER needs Bandwidth in [architecture_presets]", source, mode.line);
    state("memory.dram_bytes_per_cycle", static_cast<double>(*bandwidth), line(*bw));  // 1-byte words
  } else {
    state("memory.dram_bytes_per_cycle", std::string("unlimited"), line(mode));
  }

  if (const Entry* topo = p.find("network_presets", "TopologyCsvLoc")) {
    std::string t = topo->value;
    // SCALE-Sim expects the path in double quotes and takes what is between them.
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
    out.topology_path = t;
  }

  state("pe.precision", std::string("fixed"), source);
  state("pe.base_bits", int64_t{8}, source);
  state("pe.acc_bits", int64_t{32}, source);
  out.hw = finish_hw_spec(config);
  return out;
}

ScaleSimConfig load_scalesim_cfg(const std::string& path) { return parse_scalesim_cfg(read_file(path), path); }

}  // namespace qsim
