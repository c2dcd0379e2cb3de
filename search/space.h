// The hardware half of the co-design search space: which registry keys may move,
// over which values, under which budgets (`qsim search --space space.yaml`,
// docs/search.md section 1).
//
//   space:                                  # keys as in the registry (sim/hw_keys.h)
//     array.rows: [8, 12, 16, 24]           # a list of values
//     array.cols: {min: 8, max: 32, step: 4}     # an arithmetic range
//     memory.ifmap_kib: {min: 8, max: 64, factor: 2}   # a geometric range
//     array.dataflow: [os, ws]              # a choice
//   budgets:                                # figures of sim/hw_figures.h
//     total_sram_kib: 108
//     pes: 256
//
// Values are typed by the registry exactly as a hardware file's are. Numeric axes
// are ordered (the walk steps to a neighbouring value); choices and booleans are
// categorical. Keys that would change what a layer's widths mean or which layers
// share a width (pe.precision, pe.base_bits, pe.widths, pe.serial,
// vector.fuse_elementwise), tables and names cannot be searched. Every defect is a
// qsim::Error "<file>:<line>: <problem>".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/hw_figures.h"
#include "sim/hw_keys.h"
#include "sim/hw_spec.h"

namespace qsim {

struct HwAxis {
  std::string key;                 // dotted registry key
  std::vector<HwValue> values;     // typed; ordered axes ascending
  std::vector<std::string> texts;  // the values as the CSV and messages show them
  bool ordered = true;             // numbers: neighbour steps; choices, booleans: any other value
  std::string where;               // "space.yaml:3"
};

struct HwBudget {
  std::string name;  // a figure of hw_figures()
  double max = 0;
  std::string where;
  double (*value)(const HwSpec&) = nullptr;
};

struct SearchSpaceSpec {
  std::string source;
  std::vector<HwAxis> axes;
  std::vector<HwBudget> budgets;

  static SearchSpaceSpec read(const std::string& path);
  static SearchSpaceSpec from_yaml_text(std::string_view text, const std::string& source_name);

  uint64_t points() const;  // product of the axis sizes (saturating at 2^63)
  // The point's value indices from a flat index in [0, points()) (the first axis varies slowest).
  std::vector<uint16_t> point(uint64_t flat) const;
  // "array.rows=12, memory.ifmap_kib=36"
  std::string describe(std::span<const uint16_t> index) const;
};

// The hardware at one point: `base` with every axis value stated (at the axis's
// place in the space file) and finished, so dependent defaults follow (vector.lanes
// with array.cols). Throws qsim::Error naming the space file's line when the
// combination is invalid.
HwSpec hw_point(const HwConfig& base, const SearchSpaceSpec& space, std::span<const uint16_t> index);

// How far `hw` exceeds the budgets: the sum over budgets of (value - max) / max
// where value > max; 0 when every budget holds.
double budget_excess(const SearchSpaceSpec& space, const HwSpec& hw);

// The index of the point closest to `hw` on every axis (the equal value, else the
// nearest number, else the first value): where a search starts.
std::vector<uint16_t> nearest_point(const SearchSpaceSpec& space, const HwSpec& hw);

// Checks every axis value alone on `base` (so "array.rows: [0, 8]" fails at load,
// naming the line) and that some point meets every budget (exit 2 otherwise:
// "no point of the space meets the budgets"). Enumerates at most `max_points`
// points for the budget check (the budgets only read the HwSpec).
void check_space(const HwConfig& base, const SearchSpaceSpec& space, uint64_t max_points = 1'000'000);

}  // namespace qsim
