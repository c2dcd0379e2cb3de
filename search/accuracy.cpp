#include "search/accuracy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim {

double DropTable::estimate(std::span<const uint8_t> option) const {
  double e = 0;
  for (std::size_t g = 0; g < drop.size(); ++g) e += drop[g][option[g]];
  return e;
}

nlohmann::json DropTable::to_json(const SearchProblem& p) const {
  nlohmann::json groups = nlohmann::json::array();
  for (std::size_t g = 0; g < p.groups(); ++g) {
    nlohmann::json opts = nlohmann::json::array();
    for (std::size_t o = 0; o < p.options(g).size(); ++o)
      opts.push_back({{"wbits", p.options(g)[o].wbits}, {"abits", p.options(g)[o].abits}, {"est_drop", drop[g][o]}});
    groups.push_back({{"layers", p.group(g).names}, {"pinned", std::string(p.pinned_by(g))}, {"options", opts}});
  }
  nlohmann::json j = {{"source", source}, {"evaluations", evaluations}, {"seconds", seconds}, {"groups", groups}};
  j["reference_top1"] = std::isfinite(reference_top1) ? nlohmann::json(reference_top1) : nlohmann::json(nullptr);
  return j;
}

DropTable drop_table_from_sensitivity(const nlohmann::json& j, std::string_view source, const SearchProblem& p) {
  if (!j.is_object() || j.value("format", std::string()) != "qsim-sensitivity")
    fail("{}: not a sensitivity file (\"format\": \"qsim-sensitivity\" expected; write it with qsim sensitivity --json)",
         source);
  const LayerGraph& g = p.graph();
  const auto compute = g.compute_layers();
  std::map<std::string, std::size_t, std::less<>> layer_index;
  for (std::size_t i = 0; i < compute.size(); ++i) layer_index[g.node(compute[i]).name] = i;
  const int file_abits = j.value("abits", 0);
  if (file_abits != p.options().abits)
    fail("{}: measured with activations at {}, the search's options have them at {} (--abits)", source,
         file_abits ? std::to_string(file_abits) + " bits" : "the weight width",
         p.options().abits ? std::to_string(p.options().abits) + " bits" : "the weight width");
  const auto rows = j.find("rows");
  if (rows == j.end() || !rows->is_array()) fail("{}: no \"rows\"", source);

  // est_drop by (layer, weight width); the file's group of each layer's row.
  std::map<std::pair<std::size_t, int>, double> est;
  std::map<std::size_t, int> file_group;
  for (const auto& r : *rows) {
    if (!r.is_object()) fail("{}: a row is not an object", source);
    const std::string layer = r.value("layer", std::string());
    const auto it = layer_index.find(layer);
    if (it == layer_index.end())
      fail("{}: names layer '{}', which is not a compute layer of '{}'", source, layer, g.name);
    const int bits = r.value("bits", 0);
    const auto e = r.find("est_drop");
    if (e == r.end() || !e->is_number())
      fail("{}: layer '{}' at {} bits has no est_drop (a qsim sensitivity --json with est_drop is needed)", source, layer,
           bits);
    est[{it->second, bits}] = e->get<double>();
    if (r.contains("group") && r["group"].is_number_integer()) file_group[it->second] = r["group"].get<int>();
  }
  const bool grouped = j.contains("groups") && j["groups"].is_array() && !file_group.empty();

  const auto group_drop = [&](std::size_t gi, int bits) {
    double sum = 0, mx = 0;
    std::set<int> counted;
    for (std::size_t l : p.group(gi).layers) {
      const auto it = est.find({l, bits});
      if (it == est.end())
        fail("{}: no row for layer '{}' at {} bits (measure it with --bits including {})", source,
             p.group(gi).names[0], bits, bits);
      const double v = std::isfinite(it->second) ? it->second : 0.0;
      mx = std::max(mx, v);
      const auto fg = file_group.find(l);
      if (grouped && fg != file_group.end() && counted.insert(fg->second).second) sum += v;
    }
    return grouped ? sum : mx;
  };

  DropTable t;
  t.reference_top1 = std::numeric_limits<double>::quiet_NaN();
  t.drop.resize(p.groups());
  for (std::size_t gi = 0; gi < p.groups(); ++gi) {
    const auto opts = p.options(gi);
    t.drop[gi].assign(opts.size(), 0.0);
    if (opts.size() < 2) continue;
    const int ref_bits = opts.back().wbits;
    const bool has_ref = est.count({p.group(gi).layers[0], ref_bits}) != 0;
    const double ref = has_ref ? group_drop(gi, ref_bits) : 0.0;
    for (std::size_t o = 0; o + 1 < opts.size(); ++o)
      t.drop[gi][o] = std::max(0.0, group_drop(gi, opts[o].wbits) - ref);
  }
  t.source = fmt::format("est_drop of {} (method {})", source, j.value("method", std::string("quantunev2")));
  return t;
}

}  // namespace qsim
