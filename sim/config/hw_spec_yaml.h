// Hardware configs (configs/*.yaml) -> a validated HwSpec, and back.
//
// The YAML is nested (array: {rows: 12, ...}); a top-level key may also be written
// dotted (array.rows: 12 is array: {rows: 12}). Every value is addressed by its
// dotted key, the public contract shared with `--set` overrides, `qsim hw` and
// docs/hardware-config.md. This file only reads and writes YAML: the key registry
// (sim/hw_keys.h) types, defaults and validates the values. Every defect is
// reported as one qsim::Error "<file>:<line>: <problem>" (no line when a key is
// missing, and "--set KEY=VALUE: <problem>" when an override is at fault).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/hw_keys.h"
#include "sim/hw_spec.h"

namespace qsim {

// The keys a YAML file states, typed, each located at its file:line; defaults and
// validation come with finish_hw_spec.
HwConfig read_hw_config(const std::string& path);
// The same from text in memory; `source_name` stands for the file in messages.
HwConfig hw_config_from_yaml_text(std::string_view text, const std::string& source_name);

// One `--set KEY=VALUE` override, typed once and stated on any number of configs
// (a sweep states it on every point). KEY is a dotted key or a table entry
// (energy.mac_pj.4, energy.mac_pj.2x8); VALUE is YAML, e.g. "pe.widths=[2,4,8]".
struct HwOverride {
  std::string key;
  HwValue value;
  std::string where;  // "--set KEY=VALUE", for messages
};
// Throws qsim::Error "--set KEY=VALUE: <problem>" (no '=', unknown key, invalid
// YAML, a value of the wrong type).
HwOverride parse_hw_override(const std::string& text);
inline void apply_hw_override(HwConfig& config, const HwOverride& o) { hw_state(config, o.key, o.value, o.where); }

// Reads and validates a YAML hardware config. `overrides` are "KEY=VALUE" strings
// (parse_hw_override), applied in order before validation; a later override of the
// same key wins.
HwSpec load_hw_spec(const std::string& path, std::span<const std::string> overrides = {});

// The same from text in memory; `source_name` stands for the file in messages.
HwSpec hw_spec_from_yaml_text(std::string_view text, const std::string& source_name,
                              std::span<const std::string> overrides = {});

// Every key with its value as YAML text, in hw_spec_keys() order (keys that do not
// apply, such as pe.serial on a fixed PE, and an empty name are left out).
std::vector<std::pair<std::string, std::string>> hw_spec_values(const HwSpec& spec);

// The spec as a nested YAML config; hw_spec_from_yaml_text gives it back unchanged
// (except `source`).
std::string hw_spec_to_yaml(const HwSpec& spec);

}  // namespace qsim
