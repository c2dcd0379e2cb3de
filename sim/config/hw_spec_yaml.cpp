#include "sim/config/hw_spec_yaml.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

namespace {

constexpr std::string_view kRequired = "required";

// The public contract: every key, its type, default and meaning. docs/hardware-config.md
// carries the same table (a test checks it), so edit both together.
constexpr HwKeyInfo kKeys[] = {
    {"name", "string", "file stem", "config name shown in reports"},
    {"array.rows", "integer", kRequired, "PE rows of the systolic array (1..4096)", true},
    {"array.cols", "integer", kRequired, "PE columns of the systolic array (1..4096)", true},
    {"array.dataflow", "os, ws or is", kRequired, "output-, weight- or input-stationary", true},
    {"array.clock_mhz", "number", kRequired, "clock frequency in MHz (0 < f <= 10000)", true},
    {"pe.precision", "fixed, bitfusion or bitserial", kRequired, "PE model (see PE models below)", true},
    {"pe.base_bits", "integer", "8",
     "multiplier width B (1..32; bitfusion: a power of two >= 2; bitserial: widest operand)"},
    {"pe.widths", "list of integers", "fixed: [B]; bitfusion: [2, 4, ..., B]; bitserial: [1, 2, ..., B]",
     "operand widths the PE runs; narrower operands round up to the next listed width; must include B"},
    {"pe.acc_bits", "integer", "32", "accumulator width (2*B..64)"},
    {"pe.serial", "activation or both", "activation", "bitserial only: which operand is streamed bit by bit"},
    {"memory.ifmap_kib", "number", kRequired, "input-feature-map SRAM in KiB (1 KiB = 1024 bytes)", true},
    {"memory.filter_kib", "number", kRequired, "filter (weight) SRAM in KiB", true},
    {"memory.ofmap_kib", "number", kRequired, "output-feature-map SRAM in KiB", true},
    {"memory.banks", "integer", "1", "SRAM banks per buffer (a power of two, 1..1024)"},
    {"memory.double_buffer", "bool", "true",
     "each buffer is split in two halves: fill one while the array reads the other"},
    {"memory.dram_bytes_per_cycle", "number or unlimited", kRequired,
     "DRAM bandwidth in bytes per array cycle; unlimited = never stall (SCALE-Sim CALC)", true},
    {"memory.dram_latency_cycles", "integer", "0", "cycles from a DRAM request to its first byte (0..1000000)"},
    {"memory.word_bits", "integer", "8", "SRAM/DRAM word width in bits (a power of two, 8..1024)"},
    {"memory.pack_narrow", "bool", "true",
     "narrow operands share a word (2 x 4-bit per byte); false: one operand per word"},
    {"energy.mac_pj", "map width -> pJ", "0.23 * (w/8)^2 for each w in pe.widths",
     "energy of one w x w MAC; optional \"WxA\" keys (weights x activations) for mixed pairs"},
    {"energy.sram_read_pj_per_byte", "number", "2.5", "SRAM read energy per byte"},
    {"energy.sram_write_pj_per_byte", "number", "2.5", "SRAM write energy per byte"},
    {"energy.dram_pj_per_byte", "number", "160", "DRAM access energy per byte"},
    {"energy.vector_op_pj", "number", "3.2", "one element through the vector unit (requantization, Add, pooling)"},
    {"vector.lanes", "integer", "array.cols", "elements the vector unit processes per cycle (1..65536)"},
    {"vector.fuse_elementwise", "bool", "true", "Add and activations run in the producing layer's output stage"},
    {"mapping.chunking", "bool", "false",
     "ws/is: split the streamed dimension so partial sums stay on chip when that is faster (false: SCALE-Sim's folds)"},
};

constexpr std::string_view kSections[] = {"array", "pe", "memory", "energy", "vector", "mapping"};
constexpr std::string_view kMacPj = "energy.mac_pj";
constexpr std::string_view kMacPjPrefix = "energy.mac_pj.";

// Ranges (documented in docs/hardware-config.md).
constexpr int64_t kMaxArrayDim = 4096;
constexpr double kMaxClockMhz = 10000.0;
constexpr int64_t kMaxBaseBits = 32;
constexpr int64_t kMaxAccBits = 64;
constexpr double kMaxBufferKib = 1024.0 * 1024.0;  // 1 GiB per buffer
constexpr int64_t kMaxBanks = 1024;
constexpr double kMaxDramBytesPerCycle = 1e6;
constexpr int64_t kMaxDramLatency = 1'000'000;
constexpr int64_t kMinWordBits = 8;
constexpr int64_t kMaxWordBits = 1024;
constexpr int64_t kMaxLanes = 65536;

// Defaults of optional keys (the table above spells them for users).
constexpr int kDefaultBaseBits = 8;
constexpr int kDefaultAccBits = 32;

const HwKeyInfo* find_key(std::string_view key) {
  for (const HwKeyInfo& k : kKeys)
    if (k.key == key) return &k;
  return nullptr;
}

bool is_section(std::string_view name) {
  return std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections);
}

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

std::size_t edit_distance(std::string_view a, std::string_view b) {
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

// Compared with full dotted keys, so "memory.rows" suggests array.rows and a bare
// "rows" at the top level does too.
std::string closest_key(std::string_view key, bool sections_allowed) {
  std::string_view best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  const auto consider = [&](std::string_view candidate, std::size_t d) {
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  };
  for (const HwKeyInfo& k : kKeys) {
    const auto dot = k.key.find('.');
    // A bare leaf ("rows") or section ("array") stands for its dotted key ("array.rows").
    const bool leaf = dot != std::string_view::npos && key == k.key.substr(dot + 1);
    const bool section = dot != std::string_view::npos && key == k.key.substr(0, dot);
    consider(k.key, leaf || (section && !sections_allowed) ? 0 : edit_distance(key, k.key));
  }
  if (sections_allowed && key.find('.') == std::string_view::npos)  // a misspelt section ("memroy:")
    for (std::string_view section : kSections) consider(section, edit_distance(key, section));
  return std::string(best);
}

// `sections_allowed`: at the top level of a file, where "memroy:" means the section.
std::string unknown_key(std::string_view key, bool sections_allowed = false) {
  return fmt::format("unknown key {} (did you mean {}?)", key, closest_key(key, sections_allowed));
}

// What a node is, for "must be X, got Y" messages.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return "no value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: break;
  }
  if (n.Tag() == "!") return fmt::format("the quoted string \"{}\"", n.Scalar());
  if (n.Tag() != "?") return fmt::format("'{}' tagged {}", n.Scalar(), n.Tag());
  return fmt::format("'{}'", n.Scalar());
}

// An unquoted, untagged scalar: the only form a number or bool may take.
bool is_plain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

// YAML allows a leading '+', from_chars does not.
const char* skip_plus(const std::string& s) {
  return s.size() > 1 && s[0] == '+' && s[1] != '-' ? s.data() + 1 : s.data();
}

std::optional<int64_t> parse_integer(const std::string& s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(skip_plus(s), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<double> parse_number(const std::string& s) {
  double v = 0;
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(skip_plus(s), end, v);
  if (ec != std::errc() || p != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string at(const std::string& source, const YAML::Mark& m) {
  return m.is_null() ? source : fmt::format("{}:{}", source, m.line + 1);
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string format_number(double v) { return fmt::format("{}", v); }

std::string format_widths(const std::vector<int>& widths) { return fmt::format("[{}]", fmt::join(widths, ", ")); }

// One value as given: its node and where it came from ("file:line" or "--set K=V").
struct Entry {
  YAML::Node value;
  std::string where;
};

struct RawConfig {
  std::string source;
  // Dotted key -> entry. energy.mac_pj appears as the whole map and as one
  // "energy.mac_pj.<w>" entry per width, so a single width can be overridden.
  std::map<std::string, Entry, std::less<>> entries;

  std::string where(std::string_view key) const {
    if (const auto it = entries.find(key); it != entries.end()) return it->second.where;
    if (key.starts_with(kMacPjPrefix))
      if (const auto it = entries.find(kMacPj); it != entries.end()) return it->second.where;
    return source;
  }
};

std::string key_name(const YAML::Node& key, const std::string& source) {
  if (!key.IsScalar()) fail("{}: a key must be a plain name, got {}", at(source, key.Mark()), describe(key));
  return key.Scalar();
}

// Whether a YAML document holds anything, and where it starts (event parser).
class DocumentProbe : public YAML::EventHandler {
 public:
  bool content = false;
  YAML::Mark mark = YAML::Mark::null_mark();
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m, false); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m, true); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { note(m, true); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m, true);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m, true);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& m, bool c) {
    if (!content && mark.is_null()) mark = m;
    content = content || c;
  }
};

RawConfig parse_yaml(std::string_view text, const std::string& source) {
  // Not YAML::LoadAll: yaml-cpp 0.7 loops forever on some invalid input (e.g. "&a,":
  // every further "document" is an empty one; jbeder/yaml-cpp#1040, fixed upstream
  // in 0.8.0). The first document is loaded, and an event parser looks at most one
  // document further to refuse a second one.
  std::vector<YAML::Node> docs;
  try {
    const std::string s(text);
    YAML::Node first = YAML::Load(s);
    std::istringstream in(s);
    YAML::Parser parser(in);
    DocumentProbe d1, d2;
    const bool has_first = parser.HandleNextDocument(d1);
    if (has_first) docs.push_back(first);
    if (has_first && parser.HandleNextDocument(d2)) {
      if (d2.content)
        fail("{}: a second YAML document ('---'): a hardware config is one mapping", at(source, d2.mark));
      if (!d2.mark.is_null()) fail("{}: invalid YAML: unexpected content after the first document", at(source, d2.mark));
    }
  } catch (const YAML::Exception& e) {
    fail("{}: invalid YAML: {}", at(source, e.mark), e.msg);
  }
  // A file of comments only is no document, or one null document.
  if (docs.empty() || (docs.size() == 1 && docs[0].IsNull()))
    fail("{}: empty file: expected a mapping of hardware keys (array:, pe:, memory:, ...)", source);
  const YAML::Node& root = docs[0];
  if (!root.IsMap())
    fail("{}: expected a mapping of hardware keys (array:, pe:, memory:, ...) at the top level, got {}",
         at(source, root.Mark()), describe(root));

  RawConfig raw{source, {}};
  std::map<std::string, int, std::less<>> first_line;  // for duplicate-key messages
  // yaml-cpp keeps duplicate keys as separate pairs; YAML forbids them, so do we.
  auto note = [&](const std::string& key, const YAML::Node& key_node) {
    const int line = key_node.Mark().line + 1;
    if (const auto it = first_line.find(key); it != first_line.end())
      fail("{}:{}: duplicate key {} (first given at line {})", source, line, key, it->second);
    first_line.emplace(key, line);
    return fmt::format("{}:{}", source, line);
  };
  auto add = [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
    raw.entries[key] = Entry{value, note(key, key_node)};
  };

  for (const auto& top : root) {
    const std::string section = key_name(top.first, source);
    if (section == "name") {
      add(section, top.first, top.second);
      continue;
    }
    if (!is_section(section)) fail("{}: {}", at(source, top.first.Mark()), unknown_key(section, true));
    note(section, top.first);
    if (!top.second.IsMap())
      fail("{}: {} must be a mapping of {}.* keys, got {}", at(source, top.first.Mark()), section, section,
           describe(top.second));
    for (const auto& kv : top.second) {
      const std::string key = section + "." + key_name(kv.first, source);
      if (!find_key(key)) fail("{}: {}", at(source, kv.first.Mark()), unknown_key(key));
      add(key, kv.first, kv.second);
      if (key == kMacPj) {
        if (!kv.second.IsMap())
          fail("{}: energy.mac_pj must be a mapping from width to pJ (e.g. {{8: 0.23}}), got {}",
               at(source, kv.first.Mark()), describe(kv.second));
        for (const auto& wv : kv.second) add(key + "." + key_name(wv.first, source), wv.first, wv.second);
      }
    }
  }
  return raw;
}

void apply_override(RawConfig& raw, const std::string& text) {
  const std::string where = "--set " + text;
  const auto eq = text.find('=');
  const std::string key = trim(std::string_view(text).substr(0, eq));
  if (eq == std::string::npos || key.empty())
    fail("{}: expected KEY=VALUE with a dotted key, e.g. --set memory.ifmap_kib=32", where);
  const bool mac_width = key.starts_with(kMacPjPrefix) && key.size() > kMacPjPrefix.size();
  if (!mac_width && !find_key(key)) fail("{}: {}", where, unknown_key(key));

  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail("{}: invalid value: {}", where, e.msg);
  }
  if (key == kMacPj) {
    if (!value.IsMap())
      fail("{}: energy.mac_pj must be a mapping from width to pJ (e.g. {{8: 0.23}}), got {}", where, describe(value));
    // The whole table is replaced, not merged.
    std::erase_if(raw.entries, [](const auto& e) { return e.first.starts_with(kMacPjPrefix); });
    std::set<std::string> seen;
    for (const auto& wv : value) {
      const std::string sub = std::string(kMacPjPrefix) + key_name(wv.first, where);
      if (!seen.insert(sub).second) fail("{}: duplicate key {}", where, sub);
      raw.entries[sub] = Entry{wv.second, where};
    }
  }
  raw.entries[key] = Entry{value, where};
}

// Typed access to the raw entries; every type error names the key and its place.
class Reader {
 public:
  explicit Reader(const RawConfig& raw) : raw_(raw) {}

  const Entry* find(std::string_view key) const {
    const auto it = raw_.entries.find(key);
    return it == raw_.entries.end() ? nullptr : &it->second;
  }

  [[noreturn]] void type_error(std::string_view key, const Entry& e, std::string_view expected) const {
    fail("{}: {} must be {}, got {}", e.where, key, expected, describe(e.value));
  }

  std::optional<int64_t> integer(std::string_view key) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    if (!is_plain(e->value)) type_error(key, *e, "an integer");
    const std::string& text = e->value.Scalar();
    const auto v = parse_integer(text);
    if (!v) {
      if (const auto x = parse_number(text);
          x && std::floor(*x) == *x && text.find_first_of(".eE") == std::string::npos)
        fail("{}: {} is out of range, got {}", e->where, key, text);
      if (parse_number(text)) fail("{}: {} must be an integer, got {}", e->where, key, text);
      type_error(key, *e, "an integer");
    }
    return v;
  }

  // For int fields: anything outside int's range is out of every valid range too.
  std::optional<int> small_integer(std::string_view key) const {
    const auto v = integer(key);
    if (v && (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max()))
      fail("{}: {} is out of range, got {}", find(key)->where, key, *v);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  }

  std::optional<double> number(std::string_view key) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    if (!is_plain(e->value)) type_error(key, *e, "a number");
    const auto v = parse_number(e->value.Scalar());
    if (!v) type_error(key, *e, "a number");
    return v;
  }

  std::optional<bool> boolean(std::string_view key) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    bool v = false;
    if (!is_plain(e->value) || !YAML::convert<bool>::decode(e->value, v)) type_error(key, *e, "true or false");
    return v;
  }

  std::optional<std::string> text(std::string_view key) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    if (!e->value.IsScalar() || e->value.Scalar().empty()) type_error(key, *e, "a non-empty string");
    const std::string& v = e->value.Scalar();
    if (std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      type_error(key, *e, "a string without control characters");
    return v;
  }

  // One of `options` (spelled as in the docs, e.g. "os, ws or is"); returns its index.
  std::optional<std::size_t> choice(std::string_view key, std::span<const std::string_view> options) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    if (e->value.IsScalar())
      for (std::size_t i = 0; i < options.size(); ++i)
        if (e->value.Scalar() == options[i]) return i;
    type_error(key, *e, fmt::format("one of {}", fmt::join(options, ", ")));
  }

  std::optional<std::vector<int>> integer_list(std::string_view key) const {
    const Entry* e = find(key);
    if (!e) return std::nullopt;
    if (!e->value.IsSequence()) type_error(key, *e, "a list of integers, e.g. [2, 4, 8]");
    std::vector<int> out;
    for (const auto& item : e->value) {
      const auto v = is_plain(item) ? parse_integer(item.Scalar()) : std::nullopt;
      if (!v) fail("{}: {} must be a list of integers, got an element {}", e->where, key, describe(item));
      if (*v <= 0 || *v > kMaxBaseBits)
        fail("{}: {} entries must be between 1 and {}, got {}", e->where, key, kMaxBaseBits, *v);
      out.push_back(static_cast<int>(*v));
    }
    if (out.empty()) fail("{}: {} must not be empty", e->where, key);
    std::vector<int> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    if (const auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end())
      fail("{}: {} lists {} twice", e->where, key, *dup);
    return sorted;
  }

 private:
  const RawConfig& raw_;
};

std::vector<int> default_widths(PeModel model, int base_bits) {
  std::vector<int> w;
  if (base_bits < 1 || base_bits > kMaxBaseBits) return w;  // validation reports base_bits
  switch (model) {
    case PeModel::kFixed: w.push_back(base_bits); break;
    case PeModel::kBitFusion:
      for (int b = 2; b <= base_bits; b *= 2) w.push_back(b);
      break;
    case PeModel::kBitSerial:
      for (int b = 1; b <= base_bits; ++b) w.push_back(b);
      break;
  }
  return w;
}

// "8" -> {8, 8}; "2x8" -> {2, 8} (weights x activations).
std::optional<std::pair<int, int>> parse_mac_key(std::string_view k) {
  auto width = [](std::string_view s) -> std::optional<int> {
    const auto v = parse_integer(std::string(s));
    if (!v || *v < 1 || *v > kMaxBaseBits) return std::nullopt;
    return static_cast<int>(*v);
  };
  const auto x = k.find('x');
  if (x == std::string_view::npos) {
    const auto w = width(k);
    return w ? std::optional(std::pair{*w, *w}) : std::nullopt;
  }
  const auto w = width(k.substr(0, x));
  const auto a = width(k.substr(x + 1));
  return w && a ? std::optional(std::pair{*w, *a}) : std::nullopt;
}

HwSpec build_spec(const RawConfig& raw) {
  for (const HwKeyInfo& k : kKeys)
    if (k.required && !raw.entries.contains(k.key))
      fail("{}: missing required key {}: {}", raw.source, k.key, k.meaning);

  const Reader r(raw);
  HwSpec s;
  s.source = raw.source;
  s.name = r.text("name").value_or(std::filesystem::path(raw.source).stem().string());

  constexpr std::string_view dataflows[] = {"os", "ws", "is"};
  constexpr Dataflow dataflow_values[] = {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS};
  s.array.rows = *r.integer("array.rows");
  s.array.cols = *r.integer("array.cols");
  s.array.dataflow = dataflow_values[*r.choice("array.dataflow", dataflows)];
  s.array.clock_mhz = *r.number("array.clock_mhz");

  constexpr std::string_view models[] = {"fixed", "bitfusion", "bitserial"};
  constexpr PeModel model_values[] = {PeModel::kFixed, PeModel::kBitFusion, PeModel::kBitSerial};
  s.pe.precision = model_values[*r.choice("pe.precision", models)];
  s.pe.base_bits = r.small_integer("pe.base_bits").value_or(kDefaultBaseBits);
  s.pe.widths = r.integer_list("pe.widths").value_or(default_widths(s.pe.precision, s.pe.base_bits));
  s.pe.acc_bits = r.small_integer("pe.acc_bits").value_or(kDefaultAccBits);
  constexpr std::string_view serials[] = {"activation", "both"};
  if (const auto serial = r.choice("pe.serial", serials)) {
    if (s.pe.precision != PeModel::kBitSerial)
      fail("{}: pe.serial applies only to pe.precision: bitserial (this PE is {})", raw.where("pe.serial"),
           pe_model_name(s.pe.precision));
    s.pe.serial = *serial == 0 ? SerialOperand::kActivation : SerialOperand::kBoth;
  }

  s.memory.ifmap_kib = *r.number("memory.ifmap_kib");
  s.memory.filter_kib = *r.number("memory.filter_kib");
  s.memory.ofmap_kib = *r.number("memory.ofmap_kib");
  s.memory.banks = r.integer("memory.banks").value_or(1);
  s.memory.double_buffer = r.boolean("memory.double_buffer").value_or(true);
  if (const Entry* bw = r.find("memory.dram_bytes_per_cycle");
      bw->value.IsScalar() && bw->value.Scalar() == "unlimited") {
    s.memory.dram_unlimited = true;
    s.memory.dram_bytes_per_cycle = 0.0;
  } else {
    const Entry& e = *bw;
    if (!is_plain(e.value) || !parse_number(e.value.Scalar()))
      r.type_error("memory.dram_bytes_per_cycle", e, "a number or unlimited");
    s.memory.dram_bytes_per_cycle = *r.number("memory.dram_bytes_per_cycle");
  }
  s.memory.dram_latency_cycles = r.integer("memory.dram_latency_cycles").value_or(0);
  s.memory.word_bits = r.small_integer("memory.word_bits").value_or(8);
  s.memory.pack_narrow = r.boolean("memory.pack_narrow").value_or(true);

  const EnergySpec defaults = default_energy_spec(s.pe);
  // A table given in the file (or as a whole by --set) replaces the defaults;
  // single-width overrides (--set energy.mac_pj.4=0.06) change one entry of either.
  if (!raw.entries.contains(kMacPj)) s.energy.mac_pj = defaults.mac_pj;
  std::set<std::pair<int, int>> given;
  for (auto it = raw.entries.lower_bound(kMacPjPrefix); it != raw.entries.end() && it->first.starts_with(kMacPjPrefix);
       ++it) {
    const std::string_view sub = std::string_view(it->first).substr(kMacPjPrefix.size());
    const auto pair = parse_mac_key(sub);
    if (!pair)
      fail("{}: energy.mac_pj key '{}' must be a width (e.g. 8) or a weights x activations pair (e.g. 2x8)",
           it->second.where, sub);
    if (pair->first == pair->second && sub.find('x') != std::string_view::npos)
      fail("{}: {}: a {}x{} MAC is energy.mac_pj.{}; give it there", it->second.where, it->first, pair->first,
           pair->second, pair->first);
    if (!given.insert(*pair).second)
      fail("{}: {} gives the energy of a {}x{} MAC a second time", it->second.where, it->first, pair->first,
           pair->second);
    const double pj = *r.number(it->first);
    if (pair->first == pair->second) {
      s.energy.mac_pj[pair->first] = pj;
    } else {
      s.energy.mac_pj_pair[*pair] = pj;
    }
  }
  s.energy.sram_read_pj_per_byte = r.number("energy.sram_read_pj_per_byte").value_or(defaults.sram_read_pj_per_byte);
  s.energy.sram_write_pj_per_byte = r.number("energy.sram_write_pj_per_byte").value_or(defaults.sram_write_pj_per_byte);
  s.energy.dram_pj_per_byte = r.number("energy.dram_pj_per_byte").value_or(defaults.dram_pj_per_byte);
  s.energy.vector_op_pj = r.number("energy.vector_op_pj").value_or(defaults.vector_op_pj);

  s.vector.lanes = r.integer("vector.lanes").value_or(s.array.cols);
  s.vector.fuse_elementwise = r.boolean("vector.fuse_elementwise").value_or(true);
  s.mapping.chunking = r.boolean("mapping.chunking").value_or(false);
  return s;
}

}  // namespace

std::span<const HwKeyInfo> hw_spec_keys() { return kKeys; }

std::string hw_keys_markdown() {
  const auto cell = [](std::string_view s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const HwKeyInfo& k : kKeys)
    out += fmt::format("| `{}` | {} | {} | {} |\n", k.key, cell(k.type), cell(k.default_value), cell(k.meaning));
  return out;
}

void validate_hw_spec(const HwSpec& s, const HwKeyLocator& locate) {
  const auto where = [&](std::string_view key) { return locate ? locate(key) : s.source; };
  // For checks between keys: an override among them (the latest change) is the
  // culprit, else the first key the file gives.
  const auto where_any = [&](std::initializer_list<std::string_view> keys) {
    for (std::string_view k : keys)
      if (const std::string w = where(k); w.starts_with("--set ")) return w;
    for (std::string_view k : keys)
      if (const std::string w = where(k); w != s.source) return w;
    return s.source;
  };
  const auto positive_int = [&](std::string_view key, int64_t v, int64_t max) {
    if (v <= 0) fail("{}: {} must be positive, got {}", where(key), key, v);
    if (v > max) fail("{}: {} must be at most {}, got {}", where(key), key, max, v);
  };
  const auto positive_number = [&](std::string_view key, double v, double max, std::string_view unit) {
    if (!std::isfinite(v) || v <= 0) fail("{}: {} must be positive, got {}", where(key), key, format_number(v));
    if (v > max)
      fail("{}: {} must be at most {}{}, got {}", where(key), key, format_number(max), unit, format_number(v));
  };
  const auto energy = [&](std::string_view key, double v) {
    if (!std::isfinite(v) || v < 0)
      fail("{}: {} must be zero or positive (pJ), got {}", where(key), key, format_number(v));
  };

  positive_int("array.rows", s.array.rows, kMaxArrayDim);
  positive_int("array.cols", s.array.cols, kMaxArrayDim);
  positive_number("array.clock_mhz", s.array.clock_mhz, kMaxClockMhz, " MHz");

  const PeSpec& pe = s.pe;
  const int base = pe.base_bits;
  positive_int("pe.base_bits", base, kMaxBaseBits);
  if (pe.precision == PeModel::kBitFusion && (base < 2 || !is_power_of_two(base)))
    fail("{}: pe.base_bits must be a power of two >= 2 for pe.precision: bitfusion (2-bit bricks fuse into it), got {}",
         where("pe.base_bits"), base);
  if (pe.widths.empty()) fail("{}: pe.widths must not be empty", where("pe.widths"));
  for (std::size_t i = 0; i < pe.widths.size(); ++i) {
    const int w = pe.widths[i];
    if (w <= 0) fail("{}: pe.widths entries must be positive, got {}", where("pe.widths"), w);
    if (i > 0 && w <= pe.widths[i - 1])
      fail("{}: pe.widths must be strictly ascending, got {}", where("pe.widths"), format_widths(pe.widths));
    if (w > base)
      fail("{}: pe.widths {} has {}, wider than pe.base_bits ({})", where_any({"pe.widths", "pe.base_bits"}),
           format_widths(pe.widths), w, base);
    if (pe.precision == PeModel::kBitFusion && (w < 2 || !is_power_of_two(w)))
      fail("{}: pe.widths for bitfusion must be powers of two >= 2 dividing pe.base_bits ({}), got {}",
           where("pe.widths"), base, w);
  }
  if (pe.widths.back() != base)
    fail("{}: pe.widths {} must include pe.base_bits ({}): a PE always runs its full width",
         where_any({"pe.widths", "pe.base_bits"}), format_widths(pe.widths), base);
  if (pe.precision == PeModel::kFixed && pe.widths.size() != 1)
    fail(
        "{}: pe.widths must be [{}] for pe.precision: fixed (one width, pe.base_bits; narrower operands run at it), "
        "got {}",
        where("pe.widths"), base, format_widths(pe.widths));
  if (pe.acc_bits < 2 * base || pe.acc_bits > kMaxAccBits)
    fail("{}: pe.acc_bits must be between 2 * pe.base_bits ({}) and {}, got {}",
         where_any({"pe.acc_bits", "pe.base_bits"}), 2 * base, kMaxAccBits, pe.acc_bits);

  const MemorySpec& m = s.memory;
  for (const auto& [key, kib] :
       {std::pair{"memory.ifmap_kib", m.ifmap_kib}, std::pair{"memory.filter_kib", m.filter_kib},
        std::pair{"memory.ofmap_kib", m.ofmap_kib}}) {
    positive_number(key, kib, kMaxBufferKib, " KiB");
    if (kib * 1024.0 != std::floor(kib * 1024.0))
      fail("{}: {} must be a whole number of bytes (a multiple of 1/1024 KiB), got {}", where(key), key,
           format_number(kib));
  }
  positive_int("memory.banks", m.banks, kMaxBanks);
  if (!is_power_of_two(m.banks))
    fail("{}: memory.banks must be a power of two, got {}", where("memory.banks"), m.banks);
  if (!m.dram_unlimited)
    positive_number("memory.dram_bytes_per_cycle", m.dram_bytes_per_cycle, kMaxDramBytesPerCycle, "");
  if (m.dram_latency_cycles < 0 || m.dram_latency_cycles > kMaxDramLatency)
    fail("{}: memory.dram_latency_cycles must be between 0 and {}, got {}", where("memory.dram_latency_cycles"),
         kMaxDramLatency, m.dram_latency_cycles);
  if (m.word_bits < kMinWordBits || m.word_bits > kMaxWordBits || !is_power_of_two(m.word_bits))
    fail("{}: memory.word_bits must be a power of two from {} to {}, got {}", where("memory.word_bits"), kMinWordBits,
         kMaxWordBits, m.word_bits);

  const EnergySpec& e = s.energy;
  // Entries for widths outside pe.widths are allowed and unused, so one table
  // serves a sweep over pe.widths.
  for (const auto& [w, pj] : e.mac_pj) energy(fmt::format("energy.mac_pj.{}", w), pj);
  for (const auto& [wa, pj] : e.mac_pj_pair) energy(fmt::format("energy.mac_pj.{}x{}", wa.first, wa.second), pj);
  for (int w : pe.widths)
    if (!e.mac_pj.contains(w))
      fail("{}: energy.mac_pj has no entry for width {} (pe.widths is {})",
           where_any({"energy.mac_pj", "pe.widths", "pe.base_bits"}), w, format_widths(pe.widths));
  energy("energy.sram_read_pj_per_byte", e.sram_read_pj_per_byte);
  energy("energy.sram_write_pj_per_byte", e.sram_write_pj_per_byte);
  energy("energy.dram_pj_per_byte", e.dram_pj_per_byte);
  energy("energy.vector_op_pj", e.vector_op_pj);

  positive_int("vector.lanes", s.vector.lanes, kMaxLanes);
}

HwSpec hw_spec_from_yaml_text(std::string_view text, const std::string& source_name,
                              std::span<const std::string> overrides) {
  RawConfig raw = parse_yaml(text, source_name);
  for (const std::string& o : overrides) apply_override(raw, o);
  HwSpec spec = build_spec(raw);
  validate_hw_spec(spec, [&raw](std::string_view key) { return raw.where(key); });
  return spec;
}

HwSpec load_hw_spec(const std::string& path, std::span<const std::string> overrides) {
  return hw_spec_from_yaml_text(read_file(path), path, overrides);
}

std::vector<std::pair<std::string, std::string>> hw_spec_values(const HwSpec& s) {
  std::vector<std::pair<std::string, std::string>> v;
  if (!s.name.empty()) {
    YAML::Emitter out;  // quotes the name when YAML needs it
    out << s.name;
    v.emplace_back("name", out.c_str());
  }
  v.emplace_back("array.rows", fmt::format("{}", s.array.rows));
  v.emplace_back("array.cols", fmt::format("{}", s.array.cols));
  v.emplace_back("array.dataflow", std::string(dataflow_name(s.array.dataflow)));
  v.emplace_back("array.clock_mhz", format_number(s.array.clock_mhz));
  v.emplace_back("pe.precision", std::string(pe_model_name(s.pe.precision)));
  v.emplace_back("pe.base_bits", fmt::format("{}", s.pe.base_bits));
  v.emplace_back("pe.widths", format_widths(s.pe.widths));
  v.emplace_back("pe.acc_bits", fmt::format("{}", s.pe.acc_bits));
  if (s.pe.precision == PeModel::kBitSerial)
    v.emplace_back("pe.serial", s.pe.serial == SerialOperand::kActivation ? "activation" : "both");
  v.emplace_back("memory.ifmap_kib", format_number(s.memory.ifmap_kib));
  v.emplace_back("memory.filter_kib", format_number(s.memory.filter_kib));
  v.emplace_back("memory.ofmap_kib", format_number(s.memory.ofmap_kib));
  v.emplace_back("memory.banks", fmt::format("{}", s.memory.banks));
  v.emplace_back("memory.double_buffer", s.memory.double_buffer ? "true" : "false");
  v.emplace_back("memory.dram_bytes_per_cycle",
                 s.memory.dram_unlimited ? "unlimited" : format_number(s.memory.dram_bytes_per_cycle));
  v.emplace_back("memory.dram_latency_cycles", fmt::format("{}", s.memory.dram_latency_cycles));
  v.emplace_back("memory.word_bits", fmt::format("{}", s.memory.word_bits));
  v.emplace_back("memory.pack_narrow", s.memory.pack_narrow ? "true" : "false");
  std::vector<std::string> macs;
  for (const auto& [w, pj] : s.energy.mac_pj) macs.push_back(fmt::format("{}: {}", w, format_number(pj)));
  for (const auto& [wa, pj] : s.energy.mac_pj_pair)
    macs.push_back(fmt::format("{}x{}: {}", wa.first, wa.second, format_number(pj)));
  v.emplace_back("energy.mac_pj", fmt::format("{{{}}}", fmt::join(macs, ", ")));
  v.emplace_back("energy.sram_read_pj_per_byte", format_number(s.energy.sram_read_pj_per_byte));
  v.emplace_back("energy.sram_write_pj_per_byte", format_number(s.energy.sram_write_pj_per_byte));
  v.emplace_back("energy.dram_pj_per_byte", format_number(s.energy.dram_pj_per_byte));
  v.emplace_back("energy.vector_op_pj", format_number(s.energy.vector_op_pj));
  v.emplace_back("vector.lanes", fmt::format("{}", s.vector.lanes));
  v.emplace_back("vector.fuse_elementwise", s.vector.fuse_elementwise ? "true" : "false");
  v.emplace_back("mapping.chunking", s.mapping.chunking ? "true" : "false");
  return v;
}

std::string hw_spec_to_yaml(const HwSpec& s) {
  std::string out = fmt::format("# qsim hardware config{}\n", s.source.empty() ? "" : " (from " + s.source + ")");
  std::string section;
  for (const auto& [key, value] : hw_spec_values(s)) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      out += fmt::format("{}: {}\n", key, value);
      continue;
    }
    if (key.substr(0, dot) != section) {
      section = key.substr(0, dot);
      out += section + ":\n";
    }
    out += fmt::format("  {}: {}\n", key.substr(dot + 1), value);
  }
  return out;
}

}  // namespace qsim
