// The sweep's grid and its results, shared by `qsim sweep` (threads on one
// machine, app/cmd_sweep.cpp) and `qsim-mpi sweep` (ranks, app/sweep_mpi.cpp).
//
// A SweepPlan is built once from the command's options: the axes parsed, the
// config read once, the model imported once, and every point validated (so an
// invalid point fails the sweep before anything is simulated or written). Points
// are numbered 0..size()-1 with the first axis varying slowest; with
// --area-budget-kge only points() (those within the budget) are simulated and have
// rows. evaluate(p) is thread-safe and returns the point's metrics, exact (the CSV
// and the journal hold every digit).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/output_paths.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim::app {

// The metric columns of a sweep row, in CSV order after the axes. pes and
// total_sram_kib are sim/hw_figures.h's figures, area_kge sim/area_model.h's (NaN,
// an empty cell, for a PE without synthesized RTL).
struct SweepColumn {
  std::string_view name;
  bool integer;  // printed as an integer
};
inline constexpr SweepColumn kSweepColumns[] = {
    {"total_cycles", true},     {"compute_cycles", true},   {"stall_cycles", true},     {"vector_cycles", true},
    {"latency_ms", false},      {"energy_uj", false},       {"sram_bytes", true},       {"dram_bytes", true},
    {"requant_boundaries", true}, {"area_kge", false},      {"pes", true},              {"total_sram_kib", false},
    {"energy_mac_uj", false},   {"energy_sram_uj", false},  {"energy_dram_uj", false},  {"energy_vector_uj", false},
};
inline constexpr std::size_t kSweepMetricCount = std::size(kSweepColumns);
// Integers up to 2^53 are exact in a double; every count here is far below that.
using SweepMetrics = std::array<double, kSweepMetricCount>;

// The index of a metric column; throws qsim::Error naming `flag` and listing the
// columns when `name` is not one.
std::size_t sweep_column(std::string_view name, std::string_view flag);

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;    // as given, for the CSV and messages
  std::vector<HwOverride> overrides;  // the same, typed
};

class SweepPlan {
 public:
  // Throws qsim::Error for bad axes, inputs or an invalid point (named).
  explicit SweepPlan(const SweepOptions& o);

  std::size_t size() const { return n_points_; }
  // The points simulated, ascending: all of them, or those within --area-budget-kge.
  const std::vector<std::size_t>& points() const { return points_; }
  const std::vector<SweepAxis>& axes() const { return axes_; }
  std::vector<std::size_t> pick(std::size_t point) const;  // value index per axis
  std::string describe(std::size_t point) const;           // "array.rows=8, array.cols=16"
  // Simulates one point (thread-safe). Throws qsim::Error naming the point.
  SweepMetrics evaluate(std::size_t point) const;
  // Identifies the sweep: the qsim version, the axes, the precision and the bytes of
  // the hardware, model and precision files. A journal is resumed only by a sweep
  // with the same fingerprint.
  const std::string& fingerprint() const { return fingerprint_; }
  // The provenance block of the sweep's JSON (app/provenance.h).
  nlohmann::json provenance(const SweepOptions& o) const;

  std::string csv_header(bool with_pareto) const;
  std::string csv_row(std::size_t point, const SweepMetrics& m, std::optional<bool> pareto) const;

 private:
  std::vector<SweepAxis> axes_;
  std::size_t n_points_ = 1;
  HwBase base_;
  LayerGraph graph_;
  std::vector<LayerPrecision> precision_;
  std::vector<double> area_kge_;  // per point; NaN without an area figure
  std::vector<std::size_t> points_;
  std::string fingerprint_;
};

// The output-path policy (app/output_paths.h) for a sweep: its inputs, --out,
// --json, --report and, unless --no-journal, the journal <out>.journal that the
// sweep keeps itself while it runs. Checked before any work.
OutputFiles check_sweep_files(const SweepOptions& o);
// The journal of a sweep writing `out`.
std::string sweep_journal_path(const std::string& out);

// Marks the points no other point beats: another point dominates p when it is <=
// on every column of `columns` and < on at least one. O(n log n + n * front).
std::vector<bool> pareto_front(const std::vector<SweepMetrics>& rows, std::span<const std::size_t> columns);

// The sweep's outputs from the metrics of plan.points() (results has a slot per
// grid point): the CSV (--out, else stdout), --json, --report (committed together
// through `out`, from check_sweep_files), and the --best/--pareto tables for people.
// `workers` says what ran the points ("2 threads", "3 MPI ranks").
void write_sweep_outputs(const SweepPlan& plan, const SweepOptions& o, const std::vector<SweepMetrics>& results,
                         std::string_view workers, OutputFiles& out);

// A metric exactly as the CSV and the journal hold it (shortest round-trip digits).
std::string format_metric(std::size_t column, double v);

}  // namespace qsim::app
