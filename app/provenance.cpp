#include "app/provenance.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "app/file_hash.h"
#include "app/version.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/hw_keys.h"

namespace qsim::app {

namespace {

nlohmann::json value_json(const HwValue& value) {
  return std::visit(
      [](const auto& v) -> nlohmann::json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          if (std::floor(v) == v && std::abs(v) < 1e15) return static_cast<int64_t>(v);
          return v;
        } else if constexpr (std::is_same_v<T, MacEnergyTable>) {
          nlohmann::json m = nlohmann::json::object();
          for (const auto& [wa, pj] : v)
            m[wa.first == wa.second ? std::to_string(wa.first) : fmt::format("{}x{}", wa.first, wa.second)] = pj;
          return m;
        } else {
          return v;
        }
      },
      value);
}

}  // namespace

nlohmann::json hw_keys_json(const HwSpec& hw) {
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [key, text] : hw_spec_values(hw)) keys[key] = value_json(hw_get(hw, key));
  return keys;
}

nlohmann::json provenance_json(const std::vector<std::string>& command_line, const HwInput& hw_in,
                               const HwSpec& hw, const ModelInput& model) {
  nlohmann::json j;
  j["qsim_version"] = QSIM_VERSION_STRING;
  j["command_line"] = command_line;
  j["hw"] = {{"name", hw.name},
             {"source", hw.source},
             {"format", hw_in.hw.empty() ? "scalesim-cfg" : "qsim-yaml"},
             {"sets", hw_in.sets},
             {"keys", hw_keys_json(hw)}};
  const std::string& path = model.model.empty() ? model.topology : model.model;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  j["model"] = {{"path", path},
                {"absolute_path", std::filesystem::absolute(path, ec).lexically_normal().string()},
                {"sha256", sha256_file_hex(path)},
                {"bytes", ec ? 0 : bytes}};
  return j;
}

}  // namespace qsim::app
