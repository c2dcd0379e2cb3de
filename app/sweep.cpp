#include "app/sweep.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "app/file_hash.h"
#include "app/provenance.h"
#include "app/report.h"
#include "app/version.h"
#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/area_model.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/hw_figures.h"

namespace qsim::app {

namespace {

// Above this many points a grid's results (one SweepMetrics each) stop fitting
// comfortably in memory.
constexpr std::size_t kMaxPoints = 10'000'000;

// "KEY=V1,V2" -> axis. A comma nested in brackets, braces or a quoted string stays
// in its value; a bracket, brace or quote that does not close is an error, so no
// value is silently dropped or split.
SweepAxis parse_axis(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set {}: expected KEY=VALUE[,VALUE...], e.g. --set memory.ifmap_kib=16,32,64", text);
  SweepAxis a;
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

std::string file_digest(const std::string& path) { return path.empty() ? "-" : sha256_file_hex(path); }

}  // namespace

std::string sweep_journal_path(const std::string& out) { return out + ".journal"; }

OutputFiles check_sweep_files(const SweepOptions& o) {
  CommandFiles files = timing_inputs(o.hw, o.model, o.precision);
  files.output("--out", o.out).output("--json", o.json).output("--report", o.report);
  if (!o.out.empty() && !o.no_journal) files.working_file("--out", sweep_journal_path(o.out));
  return files.check();
}

std::size_t sweep_column(std::string_view name, std::string_view flag) {
  for (std::size_t i = 0; i < kSweepMetricCount; ++i)
    if (kSweepColumns[i].name == name) return i;
  std::vector<std::string_view> names;
  for (const SweepColumn& c : kSweepColumns) names.push_back(c.name);
  fail("{} {}: not a sweep column (one of {})", flag, name, fmt::join(names, ", "));
}

std::string format_metric(std::size_t column, double v) {
  if (std::isnan(v)) return "";  // area_kge without an area figure
  if (kSweepColumns[column].integer) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

SweepPlan::SweepPlan(const SweepOptions& o) {
  for (const std::string& s : o.hw.sets) {
    SweepAxis a = parse_axis(s);
    for (const SweepAxis& b : axes_)
      if (b.overrides[0].key == a.overrides[0].key)
        fail("--set {}: {} is already swept; give its values in one list", s, a.overrides[0].key);
    axes_.push_back(std::move(a));
  }
  for (const SweepAxis& a : axes_) {
    n_points_ *= a.values.size();
    if (n_points_ > kMaxPoints) fail("--set: the grid has more than {} points", kMaxPoints);
  }
  base_ = load_hw_base(o.hw);
  graph_ = load_model(o.model);
  precision_ = resolve_precision(o.precision, graph_);
  // Every point is validated before any is simulated: its values stated on a copy
  // of the config read once (no YAML per point), its widths checked against its PE.
  // Its area (sim/area_model.h) is known from the spec alone.
  if (o.area_budget_kge && !(*o.area_budget_kge > 0))
    fail("--area-budget-kge {}: must be a positive area in kGE", *o.area_budget_kge);
  std::vector<std::string_view> need_area;  // options that compare points by area
  if (o.area_budget_kge) need_area.push_back("--area-budget-kge");
  for (const std::string& c : o.pareto)
    if (c == "area_kge") need_area.push_back("--pareto area_kge");
  if (o.best == "area_kge") need_area.push_back("--best area_kge");
  area_kge_.assign(n_points_, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t p = 0; p < n_points_; ++p) {
    HwSpec hw;
    try {
      HwConfig point = base_;
      const auto picked = pick(p);
      for (std::size_t i = 0; i < axes_.size(); ++i) apply_hw_override(point, axes_[i].overrides[picked[i]]);
      hw = finish_hw_spec(point);
      check_widths(graph_, precision_, hw);
    } catch (const Error& e) {
      fail("sweep point {} of {} ({}): {}", p + 1, n_points_, describe(p), e.what());
    }
    if (const std::optional<AreaEstimate> area = estimate_area(hw)) {
      area_kge_[p] = area->total_kge;
    } else if (!need_area.empty()) {
      fail("{}: sweep point {} of {} ({}) has no area figure (no synthesized RTL for a {} PE of {} bits with {}-bit "
           "accumulators)",
           need_area.front(), p + 1, n_points_, describe(p), pe_model_name(hw.pe.precision), hw.pe.base_bits,
           hw.pe.acc_bits);
    }
    if (!o.area_budget_kge || area_kge_[p] <= *o.area_budget_kge) points_.push_back(p);
  }
  if (points_.empty())
    fail("--area-budget-kge {}: every one of the {} points is larger (the smallest is {:.1f} kGE)", *o.area_budget_kge,
         n_points_, *std::min_element(area_kge_.begin(), area_kge_.end()));

  std::string id = fmt::format("qsim {}\nhw {} {}\ncfg {} {}\nmodel {} {}\ntopology {} {}\nprecision {} {}\n",
                               QSIM_VERSION_STRING, o.hw.hw, file_digest(o.hw.hw), o.hw.scalesim_cfg,
                               file_digest(o.hw.scalesim_cfg), o.model.model, file_digest(o.model.model),
                               o.model.topology, file_digest(o.model.topology), o.precision.precision,
                               file_digest(o.precision.precision));
  id += fmt::format("bits {} {} {}\n", o.precision.bits, o.precision.wbits, o.precision.abits);
  for (const std::string& s : o.hw.sets) id += fmt::format("set {}\n", s);
  fingerprint_ = sha256_hex(id);
}

std::vector<std::size_t> SweepPlan::pick(std::size_t point) const {
  std::vector<std::size_t> picked(axes_.size());
  for (std::size_t i = axes_.size(); i-- > 0;) {
    picked[i] = point % axes_[i].values.size();
    point /= axes_[i].values.size();
  }
  return picked;
}

std::string SweepPlan::describe(std::size_t point) const {
  const auto picked = pick(point);
  std::string s;
  for (std::size_t i = 0; i < axes_.size(); ++i) {
    if (i) s += ", ";
    s += fmt::format("{}={}", axes_[i].key, axes_[i].values[picked[i]]);
  }
  return s;
}

SweepMetrics SweepPlan::evaluate(std::size_t point) const {
  try {
    HwConfig config = base_;
    const auto picked = pick(point);
    for (std::size_t i = 0; i < axes_.size(); ++i) apply_hw_override(config, axes_[i].overrides[picked[i]]);
    const HwSpec hw = finish_hw_spec(config);
    const AnalyticalBackend backend;
    const TimingReport r = backend.run(graph_, std::span<const LayerPrecision>(precision_), hw);
    const EnergyBreakdown e = r.energy();
    return {static_cast<double>(r.total_cycles()),
            static_cast<double>(r.compute_cycles()),
            static_cast<double>(r.stall_cycles()),
            static_cast<double>(r.vector_cycles()),
            r.latency_ms(),
            r.energy_uj(),
            static_cast<double>(r.sram_bytes()),
            static_cast<double>(r.dram_bytes()),
            static_cast<double>(r.requant_boundaries()),
            area_kge_[point],
            hw_figure(hw, "pes"),
            hw_figure(hw, "total_sram_kib"),
            e.mac * 1e-6,
            e.sram * 1e-6,
            e.dram * 1e-6,
            e.vector * 1e-6};
  } catch (const std::exception& e) {
    fail("sweep point {} of {} ({}): {}", point + 1, n_points_, describe(point), e.what());
  }
}

nlohmann::json SweepPlan::provenance(const SweepOptions& o) const {
  return provenance_json(o.command_line, o.hw, finish_hw_spec(base_), o.model);
}

std::string SweepPlan::csv_header(bool with_pareto) const {
  std::string text;
  for (const SweepAxis& a : axes_) text += csv_field(a.key) + ",";
  for (std::size_t c = 0; c < kSweepMetricCount; ++c) {
    if (c) text += ",";
    text += kSweepColumns[c].name;
  }
  if (with_pareto) text += ",pareto";
  return text + "\n";
}

std::string SweepPlan::csv_row(std::size_t point, const SweepMetrics& m, std::optional<bool> pareto) const {
  std::string text;
  const auto picked = pick(point);
  for (std::size_t i = 0; i < axes_.size(); ++i) text += csv_field(axes_[i].values[picked[i]]) + ",";
  for (std::size_t c = 0; c < kSweepMetricCount; ++c) {
    if (c) text += ",";
    text += format_metric(c, m[c]);
  }
  if (pareto) text += *pareto ? ",1" : ",0";
  return text + "\n";
}

std::vector<bool> pareto_front(const std::vector<SweepMetrics>& rows, std::span<const std::size_t> columns) {
  std::vector<bool> front(rows.size(), false);
  if (rows.empty() || columns.empty()) return front;
  // Lexicographic order over the columns: no point can be dominated by one after it,
  // so each point only needs checking against the front found so far.
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto less = [&](std::size_t a, std::size_t b) {
    for (std::size_t c : columns)
      if (rows[a][c] != rows[b][c]) return rows[a][c] < rows[b][c];
    return a < b;
  };
  std::sort(order.begin(), order.end(), less);
  std::vector<std::size_t> kept;
  for (std::size_t p : order) {
    bool dominated = false;
    for (std::size_t q : kept) {
      bool all_le = true;
      bool one_lt = false;
      for (std::size_t c : columns) {
        if (rows[q][c] > rows[p][c]) {
          all_le = false;
          break;
        }
        one_lt = one_lt || rows[q][c] < rows[p][c];
      }
      if (all_le && one_lt) {
        dominated = true;
        break;
      }
    }
    if (!dominated) {
      front[p] = true;
      kept.push_back(p);
    }
  }
  return front;
}

}  // namespace qsim::app
