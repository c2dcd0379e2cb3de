// qsim compare: two results side by side, per layer and in total.
//
// Either two hardware configs run on one model (--hw A --hw B --model M), or two
// result JSON files written by `qsim --json` (any two runs: other models, widths,
// backends). Both paths compare the same thing, the result JSON (app/report.h's
// to_json), so a saved run and a fresh one read alike. Layers are matched by name;
// a layer present on one side only is listed with the other side empty.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/report.h"
#include "app/output_paths.h"
#include "graph/error.h"
#include "graph/file_util.h"
#include "sim/analytical/analytical_backend.h"

namespace qsim::app {

namespace {

struct Side {
  std::string label;  // config name or file name
  nlohmann::json result;
};

// The compared metrics: JSON key, heading, whether it is per layer too.
struct Metric {
  const char* key;
  const char* heading;
};
constexpr Metric kLayerMetrics[] = {
    {"total_cycles", "cycles"}, {"stall_cycles", "stall"}, {"dram_bytes", "DRAM bytes"}, {"energy_pj", "energy pJ"}};
constexpr Metric kTotalMetrics[] = {{"total_cycles", "cycles"},   {"compute_cycles", "compute cycles"},
                                    {"stall_cycles", "stall cycles"}, {"vector_cycles", "vector cycles"},
                                    {"latency_ms", "latency ms"},  {"energy_uj", "energy uJ"},
                                    {"sram_bytes", "SRAM bytes"},  {"dram_bytes", "DRAM bytes"}};

Side load_result(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a JSON file: {}", path, e.what());
  }
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array() || !j.contains("total_cycles"))
    fail("{}: not a qsim result (write one with qsim --json FILE)", path);
  for (const auto& l : j["layers"])
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string())
      fail("{}: a layer without a name; not a qsim result", path);
  for (const Metric& m : kTotalMetrics)
    if (!j.contains(m.key) || !j[m.key].is_number()) fail("{}: '{}' missing or not a number", path, m.key);
  return {std::filesystem::path(path).filename().string(), std::move(j)};
}

double number(const nlohmann::json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string diff_percent(double a, double b) {
  if (a == b) return "0%";
  if (a == 0) return "new";
  return fmt::format("{:+.1f}%", (b - a) / a * 100.0);
}

std::string cell(double v) {
  return std::floor(v) == v && std::abs(v) < 1e15 ? fmt::format("{}", v) : format_rounded(v);
}

}  // namespace

int run_compare(const CompareOptions& o) {
  CommandFiles declared = timing_inputs({}, o.model, o.precision);
  for (const std::string& f : o.results) declared.input("results", f);
  for (const std::string& h : o.hw) declared.input("--hw", h);
  OutputFiles out = declared.output("--csv", o.csv).check();
  std::vector<Side> sides;
  if (!o.results.empty()) {
    if (o.results.size() != 2) fail("compare: give two result JSON files, or --hw A.yaml --hw B.yaml --model M");
    if (!o.hw.empty() || !o.model.model.empty() || !o.model.topology.empty())
      fail("compare: give either two result JSON files or --hw/--model, not both");
    for (const std::string& f : o.results) sides.push_back(load_result(f));
  } else {
    if (o.hw.size() != 2) fail("compare: --hw given {} times; give two configs (--hw A.yaml --hw B.yaml)", o.hw.size());
    const LayerGraph g = load_model(o.model);
    const std::vector<LayerPrecision> precision = resolve_precision(o.precision, g);
    const AnalyticalBackend backend;
    for (const std::string& path : o.hw) {
      HwInput in;
      in.hw = path;
      in.sets = o.sets;
      const HwSpec hw = build_hw(load_hw_base(in), in.sets);
      check_widths(g, precision, hw);
      sides.push_back({hw.name, to_json(backend.run(g, std::span<const LayerPrecision>(precision), hw))});
    }
    if (sides[0].label == sides[1].label) {
      sides[0].label += " (A)";
      sides[1].label += " (B)";
    }
  }

  // Layers in A's order, then those only B has.
  std::vector<std::string> names;
  std::map<std::string, const nlohmann::json*> in_a, in_b;
  for (const auto& l : sides[0].result["layers"]) {
    names.push_back(l["name"].get<std::string>());
    in_a[names.back()] = &l;
  }
  for (const auto& l : sides[1].result["layers"]) {
    const std::string n = l["name"].get<std::string>();
    if (!in_a.count(n)) names.push_back(n);
    in_b[n] = &l;
  }

  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"layer"};
  for (const Metric& m : kLayerMetrics)
    for (const char* side : {"A", "B"}) head.push_back(fmt::format("{} {}", m.heading, side));
  for (const Metric& m : kLayerMetrics) head.push_back(fmt::format("{} diff", m.heading));
  rows.push_back(head);
  // CSV, long format: one row per layer and metric, then the totals (layer "TOTAL").
  std::string csv = "layer,metric,a,b,diff_pct\n";
  const auto csv_row = [&](const std::string& layer, const char* key, const nlohmann::json* a,
                           const nlohmann::json* b) {
    const double va = a ? number(*a, key) : 0, vb = b ? number(*b, key) : 0;
    csv += fmt::format("{},{},{},{},{}\n", csv_field(layer), key, a ? fmt::format("{}", va) : "",
                       b ? fmt::format("{}", vb) : "",
                       a && b && va != 0 ? fmt::format("{}", (vb - va) / va * 100.0) : "");
  };
  for (const std::string& n : names) {
    const nlohmann::json* a = in_a.count(n) ? in_a[n] : nullptr;
    const nlohmann::json* b = in_b.count(n) ? in_b[n] : nullptr;
    std::vector<std::string> row = {n};
    std::vector<std::string> diffs;
    for (const Metric& m : kLayerMetrics) {
      csv_row(n, m.key, a, b);
      const double va = a ? number(*a, m.key) : 0, vb = b ? number(*b, m.key) : 0;
      row.push_back(a ? cell(va) : "-");
      row.push_back(b ? cell(vb) : "-");
      diffs.push_back(a && b ? diff_percent(va, vb) : "-");
    }
    row.insert(row.end(), diffs.begin(), diffs.end());
    rows.push_back(std::move(row));
  }

  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::string text = fmt::format("A: {}\nB: {}\n", sides[0].label, sides[1].label);
  for (const auto& r : rows) {
    text += fmt::format("{:<{}}", r[0], width[0]);
    for (std::size_t i = 1; i < r.size(); ++i) text += fmt::format("  {:>{}}", r[i], width[i]);
    text += "\n";
  }
  text += "total\n";
  for (const Metric& m : kTotalMetrics) {
    const double va = number(sides[0].result, m.key), vb = number(sides[1].result, m.key);
    text += fmt::format("  {:<16} A {:>14}  B {:>14}  {:>8}\n", m.heading, cell(va), cell(vb), diff_percent(va, vb));
    csv_row("TOTAL", m.key, &sides[0].result, &sides[1].result);
  }
  if (!o.csv.empty()) out.set(o.csv, csv);
  out.commit();
  std::cout << text;
  return 0;
}

}  // namespace qsim::app
