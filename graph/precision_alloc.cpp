#include "graph/precision_alloc.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

PrecisionAlloc PrecisionAlloc::uniform(const LayerGraph& g, int wbits, int abits, bool per_channel) {
  PrecisionAlloc a;
  a.model = g.name;
  for (NodeId n : g.compute_layers()) a.set(g.node(n).name, {wbits, abits, per_channel});
  return a;
}

PrecisionAlloc PrecisionAlloc::load(const std::string& path) { return parse(read_file(path), path); }

PrecisionAlloc PrecisionAlloc::parse(std::string_view text, std::string_view path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the offset of the error; turn it into a line number for the message.
    const std::size_t upto = std::min<std::size_t>(e.byte, text.size());
    const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(upto), '\n');
    fail("{}:{}: invalid JSON: {}", path, line, e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range: a number too large for a double
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return from_json(j, path);
}

PrecisionAlloc PrecisionAlloc::from_json(const nlohmann::json& j, std::string_view source) {
  if (!j.is_object()) fail("{}: expected a JSON object with a \"layers\" array", source);
  if (j.contains("format") && j["format"] != "qsim-precision")
    fail("{}: \"format\" must be \"qsim-precision\"", source);
  if (!j.contains("layers") || !j["layers"].is_array())
    fail("{}: missing \"layers\" array", source);
  PrecisionAlloc a;
  if (j.contains("model") && j["model"].is_string()) a.model = j["model"].get<std::string>();
  std::unordered_set<std::string> seen;
  std::size_t idx = 0;
  for (const auto& e : j["layers"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
      fail("{}: layers[{}] needs a string \"name\"", source, idx);
    const std::string name = e["name"].get<std::string>();
    if (!seen.insert(name).second) fail("{}: layer '{}' appears twice", source, name);
    auto bits = [&](const char* key) {
      if (!e.contains(key)) fail("{}: layer '{}' has no \"{}\"", source, name, key);
      const auto& v = e[key];
      if (!v.is_number_integer()) fail("{}: layer '{}': \"{}\" must be an integer", source, name, key);
      const auto b = v.get<int64_t>();
      if (b < 1 || b > 32) fail("{}: layer '{}': \"{}\" = {} is outside 1..32", source, name, key, b);
      return static_cast<int>(b);
    };
    LayerPrecision p;
    p.wbits = bits("wbits");
    p.abits = bits("abits");
    if (e.contains("per_channel")) {
      if (!e["per_channel"].is_boolean())
        fail("{}: layer '{}': \"per_channel\" must be true or false", source, name);
      p.per_channel = e["per_channel"].get<bool>();
    }
    a.set(name, p);
    nlohmann::json extra = nlohmann::json::object();
    for (auto it = e.begin(); it != e.end(); ++it)
      if (it.key() != "name" && it.key() != "wbits" && it.key() != "abits" && it.key() != "per_channel")
        extra[it.key()] = it.value();
    if (!extra.empty()) a.extra_[name] = std::move(extra);
    ++idx;
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "format" && it.key() != "version" && it.key() != "model" && it.key() != "layers")
      a.sections_[it.key()] = it.value();
  return a;
}

nlohmann::json PrecisionAlloc::to_json() const {
  nlohmann::json j;
  j["format"] = "qsim-precision";
  j["version"] = 1;
  if (!model.empty()) j["model"] = model;
  auto layers = nlohmann::json::array();
  for (const auto& [name, p] : entries_) {
    nlohmann::json e;
    e["name"] = name;
    e["wbits"] = p.wbits;
    e["abits"] = p.abits;
    e["per_channel"] = p.per_channel;
    if (const auto* x = find_extra(name))
      for (auto it = x->begin(); it != x->end(); ++it) e[it.key()] = it.value();
    layers.push_back(std::move(e));
  }
  j["layers"] = std::move(layers);
  for (auto it = sections_.begin(); it != sections_.end(); ++it) j[it.key()] = it.value();
  return j;
}

void PrecisionAlloc::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

void PrecisionAlloc::set(const std::string& layer, LayerPrecision p) {
  for (auto& [name, q] : entries_)
    if (name == layer) {
      q = p;
      return;
    }
  entries_.emplace_back(layer, p);
}

const LayerPrecision* PrecisionAlloc::find(std::string_view layer) const {
  for (const auto& [name, p] : entries_)
    if (name == layer) return &p;
  return nullptr;
}

const LayerPrecision& PrecisionAlloc::at(std::string_view layer) const {
  if (const auto* p = find(layer)) return *p;
  fail("precision: layer '{}' is not in the allocation", layer);
}

const nlohmann::json* PrecisionAlloc::find_extra(std::string_view layer) const {
  auto it = extra_.find(std::string(layer));
  return it == extra_.end() ? nullptr : &*it;
}

const nlohmann::json* PrecisionAlloc::find_section(std::string_view key) const {
  auto it = sections_.find(std::string(key));
  return it == sections_.end() ? nullptr : &*it;
}

std::vector<LayerPrecision> PrecisionAlloc::resolve(const LayerGraph& g, std::string_view source) const {
  std::vector<LayerPrecision> out;
  out.reserve(g.compute_layers().size());
  std::unordered_set<std::string_view> names;
  std::vector<std::string_view> missing, unknown;
  for (NodeId n : g.compute_layers()) {
    const std::string& name = g.node(n).name;
    names.insert(name);
    if (const auto* p = find(name)) {
      out.push_back(*p);
    } else {
      missing.push_back(name);
    }
  }
  for (const auto& [name, p] : entries_)
    if (!names.count(name)) unknown.push_back(name);
  if (missing.empty() && unknown.empty()) return out;

  // A file made for another model usually misses many layers: name them all (a
  // long list shortened), and say which model the file was made for.
  const auto listed = [](const std::vector<std::string_view>& v) {
    constexpr std::size_t kShown = 8;
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < kShown; ++i) s += fmt::format("{}'{}'", i ? ", " : "", v[i]);
    if (v.size() > kShown) s += fmt::format(" and {} more", v.size() - kShown);
    return s;
  };
  std::string why;
  if (!model.empty() && model != g.name)
    why = fmt::format("made for model '{}' (its \"model\"), not '{}': ", model, g.name);
  if (missing.size() == 1 && unknown.empty() && why.empty())
    fail("{}: layer '{}' is missing from the precision allocation", source, missing[0]);
  if (!missing.empty())
    why += fmt::format("{} of the {} compute layers of '{}' {} missing ({})", missing.size(), names.size(), g.name,
                       missing.size() == 1 ? "is" : "are", listed(missing));
  if (!unknown.empty())
    why += fmt::format("{}{} {} not {} of '{}' ({})", missing.empty() ? "" : "; ", unknown.size(),
                       unknown.size() == 1 ? "layer it lists is" : "layers it lists are",
                       unknown.size() == 1 ? "a compute layer" : "compute layers", g.name, listed(unknown));
  fail("{}: {}", source, why);
}

}  // namespace qsim
