// Helpers shared by the hardware-config tests (YAML reader and key registry).
#pragma once

#include <string>
#include <vector>

#include "graph/error.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim {

// The message of the qsim::Error that loading `text` as "hw.yaml" (with `overrides`
// as --set) throws, or "" when it loads.
inline std::string hw_yaml_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    hw_spec_from_yaml_text(text, "hw.yaml", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace qsim
