#include "sim/config/hw_spec_yaml.h"

#include <map>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

namespace {

std::string at(const std::string& source, const YAML::Mark& m) {
  return m.is_null() ? source : fmt::format("{}:{}", source, m.line + 1);
}

// Blanks (spaces and tabs) off both ends, as YAML scalars are written.
std::string trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// What a node is, for messages about its shape.
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

std::string key_name(const YAML::Node& key, const std::string& where) {
  if (!key.IsScalar()) fail("{}: a key must be a plain name, got {}", where, describe(key));
  return key.Scalar();
}

// Where each top-level and section key was first given (dotted: array.rows and
// array: {rows} are the same key), so a duplicate names both lines: yaml-cpp keeps
// duplicate keys as separate pairs; YAML forbids them.
class KeyLines {
 public:
  explicit KeyLines(const std::string& source) : source_(source) {}
  // "file:line" of the key node; throws when `key` was given before.
  std::string note(const std::string& key, const YAML::Node& key_node) {
    const int line = key_node.Mark().line + 1;
    if (const auto it = first_.find(key); it != first_.end())
      fail("{}:{}: duplicate key {} (first given at line {})", source_, line, key, it->second);
    first_.emplace(key, line);
    return fmt::format("{}:{}", source_, line);
  }

 private:
  const std::string& source_;
  std::map<std::string, int, std::less<>> first_;
};

// A YAML value as the registry reads it. `path` is its dotted key. In a file
// (`source` given) each mapping entry is located at its own line; in an override
// everything is at `where`.
HwText to_text(const YAML::Node& n, const std::string& where, const std::string& path, const std::string* source) {
  HwText t;
  t.where = where;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: break;
    case YAML::NodeType::Scalar:
      t.kind = HwText::Kind::kScalar;
      t.scalar = n.Scalar();
      t.tag = n.Tag() == "?" ? "" : n.Tag();
      break;
    case YAML::NodeType::Sequence:
      t.kind = HwText::Kind::kList;
      for (const auto& item : n) t.items.push_back(to_text(item, where, path, source));
      break;
    case YAML::NodeType::Map: {
      t.kind = HwText::Kind::kMap;
      std::map<std::string, int, std::less<>> first_line;
      for (const auto& kv : n) {
        const std::string entry_where = source ? at(*source, kv.first.Mark()) : where;
        const std::string sub = key_name(kv.first, entry_where);
        const std::string entry = path + "." + sub;
        const int line = kv.first.Mark().line + 1;
        if (const auto it = first_line.find(sub); it != first_line.end())
          fail("{}: duplicate key {}{}", entry_where, entry,
               source ? fmt::format(" (first given at line {})", it->second) : "");
        first_line.emplace(sub, line);
        t.entries.push_back({sub, to_text(kv.second, entry_where, entry, source)});
      }
      break;
    }
  }
  return t;
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

// The one mapping a config file holds.
YAML::Node load_root(std::string_view text, const std::string& source) {
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

  return root;
}

[[noreturn]] void table_entry_in_file(const std::string& where, std::string_view key) {
  const auto dot = key.rfind('.');
  const std::string_view table = key.substr(0, dot);
  const auto section_dot = table.find('.');
  fail("{}: {} is one entry of {}; in a file give it inside the table: {}: {{{}: {{{}: ...}}}}", where, key, table,
       table.substr(0, section_dot), table.substr(section_dot + 1), key.substr(dot + 1));
}

}  // namespace

HwConfig hw_config_from_yaml_text(std::string_view text, const std::string& source) {
  const YAML::Node root = load_root(text, source);
  // Every key is checked (unknown, duplicate, shape) before any value is typed.
  std::vector<std::pair<std::string, HwText>> statements;
  KeyLines lines(source);
  for (const auto& top : root) {
    const std::string name = key_name(top.first, at(source, top.first.Mark()));
    // A key of the registry, nested or written dotted at the top level (array.rows: 12).
    if (find_hw_key(name)) {
      statements.emplace_back(name, to_text(top.second, lines.note(name, top.first), name, &source));
      continue;
    }
    if (is_hw_table_entry(name)) table_entry_in_file(at(source, top.first.Mark()), name);
    if (!is_hw_section(name)) fail("{}: {}", at(source, top.first.Mark()), hw_unknown_key(name, true));
    lines.note(name, top.first);
    if (!top.second.IsMap())
      fail("{}: {} must be a mapping of {}.* keys, got {}", at(source, top.first.Mark()), name, name,
           describe(top.second));
    for (const auto& kv : top.second) {
      const std::string key = name + "." + key_name(kv.first, at(source, kv.first.Mark()));
      if (is_hw_table_entry(key)) table_entry_in_file(at(source, kv.first.Mark()), key);
      if (!find_hw_key(key)) fail("{}: {}", at(source, kv.first.Mark()), hw_unknown_key(key));
      statements.emplace_back(key, to_text(kv.second, lines.note(key, kv.first), key, &source));
    }
  }
  HwConfig config;
  config.spec.source = source;
  for (const auto& [key, value] : statements) hw_state_text(config, key, value);
  return config;
}

HwConfig read_hw_config(const std::string& path) { return hw_config_from_yaml_text(read_file(path), path); }

HwOverride parse_hw_override(const std::string& text) {
  const std::string where = "--set " + text;
  const auto eq = text.find('=');
  const std::string key = trim_blanks(std::string_view(text).substr(0, eq));
  if (eq == std::string::npos || key.empty())
    fail("{}: expected KEY=VALUE with a dotted key, e.g. --set memory.ifmap_kib=32", where);
  if (!find_hw_key(key) && !is_hw_table_entry(key)) fail("{}: {}", where, hw_unknown_key(key));
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail("{}: invalid value: {}", where, e.msg);
  }
  return {key, hw_value_from_text(key, to_text(value, where, key, nullptr)), where};
}

HwSpec hw_spec_from_yaml_text(std::string_view text, const std::string& source_name,
                              std::span<const std::string> overrides) {
  HwConfig config = hw_config_from_yaml_text(text, source_name);
  for (const std::string& o : overrides) apply_hw_override(config, parse_hw_override(o));
  return finish_hw_spec(config);
}

HwSpec load_hw_spec(const std::string& path, std::span<const std::string> overrides) {
  return hw_spec_from_yaml_text(read_file(path), path, overrides);
}

namespace {

std::string format_number(double v) { return fmt::format("{}", v); }

// A typed value as YAML flow text.
std::string yaml_text(const HwValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        if constexpr (std::is_same_v<T, int64_t>) return fmt::format("{}", v);
        if constexpr (std::is_same_v<T, double>) return format_number(v);
        if constexpr (std::is_same_v<T, std::string>) {
          YAML::Emitter out;  // quotes the text when YAML needs it
          out << v;
          return out.c_str();
        }
        if constexpr (std::is_same_v<T, std::vector<int>>) return fmt::format("[{}]", fmt::join(v, ", "));
        if constexpr (std::is_same_v<T, MacEnergyTable>) {
          std::vector<std::string> entries;  // single widths first, then pairs
          for (const bool same : {true, false})
            for (const auto& [wa, pj] : v)
              if ((wa.first == wa.second) == same)
                entries.push_back(same ? fmt::format("{}: {}", wa.first, format_number(pj))
                                       : fmt::format("{}x{}: {}", wa.first, wa.second, format_number(pj)));
          return fmt::format("{{{}}}", fmt::join(entries, ", "));
        }
      },
      value);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> hw_spec_values(const HwSpec& s) {
  std::vector<std::pair<std::string, std::string>> v;
  for (const HwKey& k : hw_spec_keys()) {
    if (k.inapplicable && !k.inapplicable(s).empty()) continue;
    const HwValue value = k.get(s);
    if (const auto* text = std::get_if<std::string>(&value); text && text->empty()) continue;  // no name
    v.emplace_back(std::string(k.key), yaml_text(value));
  }
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
