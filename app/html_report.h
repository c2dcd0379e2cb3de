// The HTML report: result JSONs as one self-contained page (inline SVG and CSS,
// no script, no network), written by `qsim report`, `qsim --report` and
// `qsim sweep --report`.
//
// A run's JSON (qsim --json) gives per-layer latency bars split into compute,
// stall and vector cycles, the bits per layer (weights and activations), and the
// HwSpec and run settings from its provenance; a sweep's JSON (qsim sweep --json)
// gives a heatmap of latency over its first two axes and a latency-energy scatter
// with the Pareto front marked; a search's summary.json (qsim search) gives the
// accuracy-latency front with the uniform and other baselines marked and the bits
// per layer of the chosen allocation. Every chart element carries a class
// (layer-bar, bits-bar, heat-cell, sweep-point, search-point) so a browser test can
// count what rendered.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qsim::app {

struct ReportInput {
  std::string name;  // shown as the section title (file name)
  nlohmann::json result;
};

// FILE, or every *.json in DIR (sorted by name) that is a run, sweep or search result.
// Throws qsim::Error naming the path when it holds none, or a file is not JSON.
std::vector<ReportInput> load_report_inputs(const std::string& from);

// Throws qsim::Error when an input is not a run, sweep or search result.
std::string render_html_report(std::span<const ReportInput> inputs);

}  // namespace qsim::app
