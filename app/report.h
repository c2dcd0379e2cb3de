// Report writers: a TimingReport as text. They only format (and convert units:
// cycles -> ms at the report's clock, pJ -> uJ, 0..1 -> %); every number comes
// from the backend that produced the report.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sim/timing_report.h"

namespace qsim::app {

std::string_view bound_name(Bound b);  // "compute" | "memory"

// The terminal table: one row per layer, then totals (latency in ms, energy in uJ).
std::string format_table(const TimingReport& r);

// CSV, one row per layer (columns listed in README "Exports"). No totals row, so
// every row is a layer and columns can be summed.
std::string format_csv(const TimingReport& r);

// JSON: top-level totals (total_cycles, latency_ms, energy_uj, ...) and `layers`.
nlohmann::json to_json(const TimingReport& r);

// SCALE-Sim v2's COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv, byte for byte in its
// format (header text, ", " separators, trailing commas, Python's float repr), one
// row per compute layer (vector-unit rows have no SCALE-Sim counterpart). Its
// "Total Cycles" is the index of the last cycle: our count minus one.
std::string format_scalesim_compute_report(const TimingReport& r);
std::string format_scalesim_bandwidth_report(const TimingReport& r);

// A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
std::string csv_field(std::string_view s);

// A number for people: `significant` digits in fixed notation, no exponent
// (62175.494005479944 -> "62175", 0.0123456 -> "0.01235", 1234567.8 -> "1234568").
// Tables on screen use it; CSV and JSON keep every digit.
std::string format_rounded(double v, int significant = 4);

// Python's str(float): shortest round-trip digits, "10.0" not "10", "1e-05".
std::string python_float(double v);

}  // namespace qsim::app
