// qsim sweep: the cartesian grid of hardware parameters, one CSV row per point.
//
// Every --set KEY=V1,V2,... is an axis (commas inside [...], {...} or quotes
// belong to the value: --set pe.widths=[2,4,8] is one value); the first axis
// varies slowest. The hardware config is read once and every axis value typed
// once; each point states its values on a copy (the registry's typed setter,
// sim/hw_keys.h) and validates it, with no YAML read per point. The model is
// imported once and shared read-only by the worker threads; each point builds its
// own HwSpec and TimingReport.
//
// An invalid point (a value the config rejects, widths its PE cannot run, a
// backend error) fails the whole sweep before anything is written: the message
// names the point and the problem, and no CSV is left behind. A sweep is
// usually scripted, and a silently skipped row would read as a result.
//
// Each row carries the point's area (sim/area_model.h, empty without synthesized
// RTL). --area-budget-kge X is the co-design search's area budget: points above it
// are not simulated and have no row, and stderr says how many were left out; a
// point without an area figure cannot be held to a budget and fails the sweep.
#include <algorithm>
#include <atomic>
#include <exception>
#include <iostream>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "app/cmd_simulate.h"
#include "app/report.h"
#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/area_model.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim::app {

namespace {

struct Axis {
  std::string key;
  std::vector<std::string> values;     // as given, for the CSV and messages
  std::vector<HwOverride> overrides;   // the same, typed
};

// "KEY=V1,V2" -> axis. A comma nested in brackets, braces or a quoted string stays
// in its value; a bracket, brace or quote that does not close is an error, so no
// value is silently dropped or split.
Axis parse_axis(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set {}: expected KEY=VALUE[,VALUE...], e.g. --set memory.ifmap_kib=16,32,64", text);
  Axis a;
  a.key = text.substr(0, eq);
  std::string current;
  std::string open;  // the brackets and braces open in `current`, innermost last
  char quote = 0;
  for (std::size_t i = eq + 1; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && open.empty() && quote == 0)) {
      if (quote != 0) fail("--set {}: the value '{}' opens a quote ({}) and never closes it", text, current, quote);
      if (!open.empty())
        fail("--set {}: the value '{}' opens '{}' and never closes it", text, current, open.back());
      if (current.empty()) fail("--set {}: empty value in the list", text);
      a.values.push_back(current);
      current.clear();
      continue;
    }
    const char c = text[i];
    if (quote != 0) {  // inside a quoted string only its closing quote counts
      if (c == '\\' && quote == '"' && i + 1 < text.size()) {  // an escaped character, e.g. \"
        current += c;
        current += text[++i];
        continue;
      }
      if (c == quote) quote = 0;
      current += c;
      continue;
    }
    // A quote opens a string only where a YAML scalar starts (O'Brien is plain).
    const auto last = current.find_last_not_of(' ');
    const bool scalar_start =
        last == std::string::npos || std::string_view("[{,:").find(current[last]) != std::string_view::npos;
    if ((c == '\'' || c == '"') && scalar_start) quote = c;
    if (c == '[' || c == '{') open += c;
    if (c == ']' || c == '}') {
      const char opener = c == ']' ? '[' : '{';
      if (open.empty()) fail("--set {}: the value '{}{}' closes '{}' that was never opened", text, current, c, c);
      if (open.back() != opener)
        fail("--set {}: the value '{}{}' closes '{}' with '{}'", text, current, c, open.back(), c);
      open.pop_back();
    }
    current += c;
  }
  for (const std::string& v : a.values) a.overrides.push_back(parse_hw_override(a.key + "=" + v));
  return a;
}

std::string describe(const std::vector<Axis>& axes, const std::vector<std::size_t>& pick) {
  std::string s;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (i) s += ", ";
    s += axes[i].key + "=" + axes[i].values[pick[i]];
  }
  return s;
}

}  // namespace

int run_sweep(const SweepOptions& o) {
  OutputFiles out = timing_inputs(o.hw, o.model, o.precision).output("--out", o.out).check();
  std::vector<Axis> axes;
  for (const std::string& s : o.hw.sets) {
    Axis a = parse_axis(s);
    for (const Axis& b : axes)
      if (b.overrides[0].key == a.overrides[0].key)
        fail("--set {}: {} is already swept; give its values in one list", s, a.overrides[0].key);
    axes.push_back(std::move(a));
  }
  if (o.threads < 0) fail("--threads {}: must be 0 (every core) or more", o.threads);

  std::size_t n_points = 1;
  for (const Axis& a : axes) {
    n_points *= a.values.size();
    if (n_points > 1'000'000) fail("--set: the grid has more than 1000000 points");
  }

  // Every point's HwSpec is built (and validated) before any is simulated: the
  // config read once, each point's values stated on a copy.
  const HwBase base = load_hw_base(o.hw);
  std::vector<std::vector<std::size_t>> picks(n_points, std::vector<std::size_t>(axes.size()));
  std::vector<HwSpec> specs;
  specs.reserve(n_points);
  for (std::size_t p = 0; p < n_points; ++p) {
    std::size_t rest = p;
    for (std::size_t i = axes.size(); i-- > 0;) {
      picks[p][i] = rest % axes[i].values.size();
      rest /= axes[i].values.size();
    }
    try {
      HwConfig point = base;
      for (std::size_t i = 0; i < axes.size(); ++i) apply_hw_override(point, axes[i].overrides[picks[p][i]]);
      specs.push_back(finish_hw_spec(point));
    } catch (const Error& e) {
      fail("sweep point {} of {} ({}): {}", p + 1, n_points, describe(axes, picks[p]), e.what());
    }
  }

  const LayerGraph g = load_model(o.model);
  const std::vector<LayerPrecision> precision = resolve_precision(o.precision, g);
  for (std::size_t p = 0; p < n_points; ++p) {
    try {
      check_widths(g, precision, specs[p]);
    } catch (const Error& e) {
      fail("sweep point {} of {} ({}): {}", p + 1, n_points, describe(axes, picks[p]), e.what());
    }
  }

  // The area of every point, and the points within the budget (all without one).
  if (o.area_budget_kge && !(*o.area_budget_kge > 0))
    fail("--area-budget-kge {}: must be a positive area in kGE", *o.area_budget_kge);
  std::vector<std::optional<AreaEstimate>> areas(n_points);
  std::vector<std::size_t> run_points;
  for (std::size_t p = 0; p < n_points; ++p) {
    areas[p] = estimate_area(specs[p]);
    if (o.area_budget_kge && !areas[p])
      fail("--area-budget-kge: sweep point {} of {} ({}) has no area figure (no synthesized RTL for a {} PE of {} "
           "bits with {}-bit accumulators)",
           p + 1, n_points, describe(axes, picks[p]), pe_model_name(specs[p].pe.precision), specs[p].pe.base_bits,
           specs[p].pe.acc_bits);
    if (!o.area_budget_kge || areas[p]->total_kge <= *o.area_budget_kge) run_points.push_back(p);
  }
  if (run_points.empty())
    fail("--area-budget-kge {}: every one of the {} points is larger (the smallest is {:.1f} kGE)",
         *o.area_budget_kge, n_points,
         std::min_element(areas.begin(), areas.end(), [](const auto& a, const auto& b) {
           return a->total_kge < b->total_kge;
         })->value().total_kge);

  // Workers take points from a shared counter; results land in their own slots.
  const AnalyticalBackend backend;
  std::vector<std::optional<TimingReport>> reports(n_points);
  std::vector<std::string> errors(n_points);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < run_points.size();) {
      const std::size_t p = run_points[i];
      try {
        reports[p] = backend.run(g, std::span<const LayerPrecision>(precision), specs[p]);
      } catch (const std::exception& e) {
        errors[p] = e.what();
      }
    }
  };
  std::size_t n_threads = o.threads > 0 ? static_cast<std::size_t>(o.threads)
                                        : std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min(n_threads, run_points.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < n_threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const std::size_t p : run_points)
    if (!reports[p]) fail("sweep point {} of {} ({}): {}", p + 1, n_points, describe(axes, picks[p]), errors[p]);

  std::string text;
  for (const Axis& a : axes) text += csv_field(a.key) + ",";
  text +=
      "total_cycles,compute_cycles,stall_cycles,vector_cycles,latency_ms,energy_uj,sram_bytes,dram_bytes,"
      "requant_boundaries,area_kge\n";
  for (const std::size_t p : run_points) {
    for (std::size_t i = 0; i < axes.size(); ++i) text += csv_field(axes[i].values[picks[p][i]]) + ",";
    const TimingReport& r = *reports[p];
    text += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", r.total_cycles(), r.compute_cycles(), r.stall_cycles(),
                        r.vector_cycles(), r.latency_ms(), r.energy_uj(), r.sram_bytes(), r.dram_bytes(),
                        r.requant_boundaries(), areas[p] ? fmt::format("{}", areas[p]->total_kge) : "");
  }

  if (o.out.empty()) {
    std::cout << text;
  } else {
    out.set(o.out, std::move(text));
    out.commit();
    std::cerr << fmt::format("qsim sweep: {} points on {} threads -> {}\n", run_points.size(), n_threads, o.out);
  }
  if (run_points.size() < n_points)
    std::cerr << fmt::format("qsim sweep: {} of {} points above the area budget of {} kGE left out\n",
                             n_points - run_points.size(), n_points, *o.area_budget_kge);
  return 0;
}

}  // namespace qsim::app
