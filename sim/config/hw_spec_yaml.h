// Hardware configs (configs/*.yaml) -> a validated HwSpec, and back.
//
// The YAML is nested (array: {rows: 12, ...}); every value is addressed by its
// dotted key (array.rows), which is the public contract shared with `--set`
// overrides, `qsim hw` and docs/hardware-config.md. Every defect is reported as
// one qsim::Error "<file>:<line>: <problem>" (no line when a key is missing, and
// "--set KEY=VALUE: <problem>" when an override is at fault).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/hw_spec.h"

namespace qsim {

// One accepted key: the table docs/hardware-config.md is checked against.
struct HwKeyInfo {
  std::string_view key;            // dotted name, e.g. "array.rows"
  std::string_view type;           // "integer", "number", "bool", "os, ws or is", ...
  std::string_view default_value;  // "required" for required keys
  std::string_view meaning;
  bool required = false;
};

// All keys, in document order (the order hw_spec_to_yaml writes them).
std::span<const HwKeyInfo> hw_spec_keys();

// The key table as Markdown; docs/hardware-config.md embeds it verbatim (a test
// checks) and `qsim hw --keys` prints it.
std::string hw_keys_markdown();

// Reads and validates a YAML hardware config. `overrides` are "KEY=VALUE" strings
// (dotted key; VALUE is YAML, e.g. "pe.widths=[2,4,8]"), applied in order before
// validation; a later override of the same key wins.
HwSpec load_hw_spec(const std::string& path, std::span<const std::string> overrides = {});

// The same from text in memory; `source_name` stands for the file in messages.
HwSpec hw_spec_from_yaml_text(std::string_view text, const std::string& source_name,
                              std::span<const std::string> overrides = {});

// Every key with its value as YAML text, in hw_spec_keys() order (defaults filled
// in; pe.serial only for bitserial PEs, name only when set).
std::vector<std::pair<std::string, std::string>> hw_spec_values(const HwSpec& spec);

// The spec as a nested YAML config; hw_spec_from_yaml_text gives it back unchanged
// (except `source`).
std::string hw_spec_to_yaml(const HwSpec& spec);

// Range and consistency checks on a spec from any source (YAML, SCALE-Sim .cfg, a
// search step). `where(dotted_key)` returns the message prefix for a key (e.g.
// "hw.yaml:12" or "--set array.rows=0"); by default spec.source.
using HwKeyLocator = std::function<std::string(std::string_view dotted_key)>;
void validate_hw_spec(const HwSpec& spec, const HwKeyLocator& where = {});

}  // namespace qsim
