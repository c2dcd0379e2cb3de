// Provenance: what produced a result, recorded in its JSON so it can be traced
// and re-run (the hardware values in effect after --set, the model file and its
// SHA-256, the command line, the qsim version).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "sim/hw_spec.h"

namespace qsim::app {

// Every key of the registry (sim/hw_keys.h) with its value, typed: dotted key ->
// number, string, bool, list or the MAC energy table. A whole number prints as an
// integer (36, as in the YAML, not 36.0).
nlohmann::json hw_keys_json(const HwSpec& hw);

// {"qsim_version", "command_line": [...], "hw": {"name", "source", "sets": [...],
// "keys": {...}}, "model": {"path", "sha256", "bytes"}}. `hw` is the spec in effect
// (for a sweep: the config before its axes, which the rows carry).
nlohmann::json provenance_json(const std::vector<std::string>& command_line, const HwInput& hw_in,
                               const HwSpec& hw, const ModelInput& model);

}  // namespace qsim::app
