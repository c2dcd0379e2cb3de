// The registry of hardware keys: one descriptor per HwSpec key (dotted name,
// type, default, range or allowed values, unit, one-line meaning, member access).
//
// Everything that reads, writes, checks or documents a key goes through it: the
// YAML reader and writer (sim/config/hw_spec_yaml.h), the SCALE-Sim .cfg reader,
// `--set` overrides, `qsim hw` and `qsim hw --keys`, `qsim sweep`, and the key
// table in docs/hardware-config.md. A new key is a field in sim/hw_spec.h and one
// descriptor in hw_keys.cpp. No YAML here: readers hand values over as HwText.
//
// energy.mac_pj is a table; its entries are addressed as energy.mac_pj.<W> (a W x W
// MAC) and energy.mac_pj.<W>x<A> (weights x activations), so one entry can be set.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "sim/hw_spec.h"

namespace qsim {

// energy.mac_pj by (weight width, activation width); {w, w} is energy.mac_pj.<w>.
using MacEnergyTable = std::map<std::pair<int, int>, double>;

// A typed value of one key: integers are int64_t, numbers double (an integer is
// accepted for a number), enumerations and "unlimited" their names ("ws").
using HwValue = std::variant<bool, int64_t, double, std::string, std::vector<int>, MacEnergyTable>;

enum class HwType : uint8_t {
  kString,
  kInteger,
  kNumber,
  kBool,
  kChoice,             // one of HwKey::choices
  kNumberOrUnlimited,  // a number, or the word unlimited
  kIntegerList,
  kMacTable,
};

// The range a key's value must lie in (checked by validate_hw_spec, with the
// messages below). Rules between keys live in HwKey::check.
struct HwRange {
  enum class Kind : uint8_t {
    kAny,
    kPositive,     // > 0 and <= max: "must be positive", "must be at most <max>"
    kNonNegative,  // >= 0: "must be zero or positive (<unit>)"
    kBetween,      // min..max: "must be between <min> and <max>"
  };
  Kind kind = Kind::kAny;
  double min = 0;
  double max = 0;
  bool power_of_two = false;
  bool whole_bytes = false;  // a size in KiB that is a whole number of bytes
};

class HwSpecLocator;

// One key. Function pointers rather than virtuals: the table is constant data.
struct HwKey {
  std::string_view key = {};  // dotted, e.g. "array.rows"
  HwType type = HwType::kString;
  std::string_view unit = {};  // "MHz", "KiB", "bytes/cycle", ...; "" when none
  std::string_view meaning = {};  // one line
  bool required = false;
  std::string_view default_value = {};  // as the docs show it; "required" for required keys
  HwRange range = {};
  std::string_view range_note = {};  // rules beyond `range`, as the docs show them
  std::span<const std::string_view> choices = {};  // kChoice: the allowed names
  HwValue (*get)(const HwSpec&) = nullptr;
  // Stores a value already of the key's type; false when it does not fit the
  // field (an int field given 2^40).
  bool (*set)(HwSpec&, const HwValue&) = nullptr;
  // Sets the default from the spec's other keys (vector.lanes from array.cols);
  // null for required keys.
  void (*fill_default)(HwSpec&) = nullptr;
  // Why the key does not apply to this spec ("" when it does); null when it always does.
  std::string (*inapplicable)(const HwSpec&) = nullptr;
  std::string_view applies_by = {};  // the key deciding whether it applies (pe.precision)
  // Rules between this key and others; null when none.
  void (*check)(const HwSpec&, const HwSpecLocator&) = nullptr;
};

// All keys, in document order (the order of `qsim hw` and the YAML writer); a
// key's default depends only on keys before it.
std::span<const HwKey> hw_spec_keys();

// The key's descriptor, or null (also for table entries such as energy.mac_pj.4).
const HwKey* find_hw_key(std::string_view key);
// energy.mac_pj.<anything>: an entry of a table key (not checked further).
bool is_hw_table_entry(std::string_view key);
// The first part of the dotted keys: array, pe, memory, energy, vector, mapping.
bool is_hw_section(std::string_view name);
// "unknown key arry.rows (did you mean array.rows?)". `sections_allowed`: where a
// bare section name is also a key (the top level of a file), so "memroy" suggests memory.
std::string hw_unknown_key(std::string_view key, bool sections_allowed = false);

// The type as the docs spell it: "integer", "os, ws or is", "map width -> pJ", ...
std::string hw_type_name(const HwKey& k);
// The allowed range as the docs spell it: "1..4096", "(0, 10000]", ">= 0", ...
std::string hw_range_text(const HwKey& k);

// The key table as Markdown; docs/hardware-config.md embeds it verbatim (a test
// checks) and `qsim hw --keys` prints it.
std::string hw_keys_markdown();

// ---- Typed access by dotted key (also energy.mac_pj.<W> and .<W>x<A>) ----

// Throws qsim::Error for an unknown key (and a table entry the table lacks).
HwValue hw_get(const HwSpec& spec, std::string_view key);
// Sets one key, no validation beyond the value's type; validate_hw_spec afterwards.
// Throws qsim::Error ("array.rows must be an integer, got 'ws'") for an unknown key
// or a value of the wrong type. Keys whose default follows this one do not move:
// for that, state the key on a HwConfig and finish it.
void hw_set(HwSpec& spec, std::string_view key, const HwValue& value);

// ---- Validation: range and consistency of a spec from any source ----

// The message prefix for a key: "hw.yaml:12", "--set array.rows=0", or the source.
using HwKeyLocator = std::function<std::string(std::string_view dotted_key)>;

// Where a check names its culprit. For a rule between keys, an override among
// them (the latest change) is the culprit, else the first key the file gives.
class HwSpecLocator {
 public:
  HwSpecLocator(const HwSpec& spec, const HwKeyLocator& where) : spec_(spec), where_(where) {}
  std::string operator()(std::string_view key) const { return where_ ? where_(key) : spec_.source; }
  std::string any(std::initializer_list<std::string_view> keys) const;

 private:
  const HwSpec& spec_;
  const HwKeyLocator& where_;
};

// Every range of hw_spec_keys() and every rule between keys, in key order; throws
// qsim::Error "<where(key)>: <problem>" for the first problem. `where` defaults to
// spec.source.
void validate_hw_spec(const HwSpec& spec, const HwKeyLocator& where = {});

// ---- Values as configs write them, before they are typed ----

// What a reader (YAML file, --set override) hands the registry: a scalar, a list
// or a mapping, with the place it was written, for messages.
struct HwTextEntry;
struct HwText {
  enum class Kind : uint8_t { kNone, kScalar, kList, kMap };
  Kind kind = Kind::kNone;  // kNone: no value (YAML null)
  std::string scalar;
  std::string tag;  // kScalar: "" plain, "!" quoted, else the tag as written
  std::vector<HwText> items;         // kList
  std::vector<HwTextEntry> entries;  // kMap, in order
  std::string where;                 // "hw.yaml:12" or "--set array.rows=0"
};
struct HwTextEntry {
  std::string key;
  HwText value;
};

// Types `text` as the value of `key` (a key or a table entry): integers and numbers
// unquoted, bools true/false (YAML's yes/no/on/off too), pe.widths sorted. Throws
// qsim::Error "<text.where>: <key> must be an integer, got 'twelve'".
HwValue hw_value_from_text(std::string_view key, const HwText& text);

// ---- A config: which keys are stated, the rest default ----

// A hardware description as its sources state it: the spec, and where each
// stated key came from. Keys not stated take their defaults when it is finished,
// derived from the stated ones, so stating array.cols moves an unstated
// vector.lanes with it exactly as editing the file would. Sweeps and searches move
// keys this way, without YAML text.
struct HwConfig {
  HwSpec spec;  // source set; stated keys hold their values
  // Dotted key (table entries canonical: energy.mac_pj.4, .2x8) -> where it was stated.
  std::map<std::string, std::string, std::less<>> stated;
};

// Sets `key` (hw_set) and records it as stated at `where`; a whole table forgets
// the entries stated before it. Throws qsim::Error "<where>: <problem>".
void hw_state(HwConfig& config, std::string_view key, const HwValue& value, std::string where);
// hw_value_from_text, then hw_state; a table's entries keep their own places.
void hw_state_text(HwConfig& config, std::string_view key, const HwText& text);

// The validated spec: every required key stated, defaults filled in, no stated key
// that does not apply (pe.serial on a fixed PE), validate_hw_spec with each key
// located where it was stated. Throws qsim::Error naming the culprit's place.
HwSpec finish_hw_spec(const HwConfig& config);

}  // namespace qsim
