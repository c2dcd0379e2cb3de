// qsim search: the Markov-chain co-design search over per-layer widths and hardware
// parameters (search/codesign.h, docs/search.md). This file checks the options,
// opens the inputs, runs the search library and writes its outputs.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/html_report.h"
#include "app/provenance.h"
#include "app/quant_cli.h"
#include "app/report.h"
#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/model_import.h"
#include "search/accuracy_quant.h"
#include "search/codesign.h"
#include "search/sensitivity.h"
#include "sim/config/hw_spec_yaml.h"

namespace qsim::app {

namespace {

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

// A progress line on stderr, rewritten in place, only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}
  ~ProgressLine() { done(); }
  bool enabled() const { return tty_; }
  void show(const std::string& text) {
    if (!tty_) return;
    std::cerr << "\r\033[K" << text << std::flush;
    shown_ = true;
  }
  void done() {
    if (tty_ && shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }
  void search(const SearchProgress& p) {
    std::string line = fmt::format("qsim search: {} {}/{}", p.phase, p.done, p.total);
    if (p.phase == "search" || p.phase == "random search")
      line += fmt::format("  accept {:.1f}%  best {}", 100 * p.accept_rate,
                          std::isfinite(p.best) ? fmt::format("{:.4f}", p.best) : "-");
    show(fmt::format("{}  ETA {}", line, std::isfinite(p.eta_seconds) ? fmt::format("{:.0f} s", p.eta_seconds) : "?"));
  }

 private:
  bool tty_;
  bool shown_ = false;
};

std::vector<std::pair<std::string, int>> parse_keep(const std::vector<std::string>& keep) {
  std::vector<std::pair<std::string, int>> out;
  for (const std::string& k : keep) {
    const auto eq = k.rfind('=');
    int bits = 0;
    std::size_t used = 0;
    try {
      if (eq != std::string::npos) bits = std::stoi(k.substr(eq + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (eq == std::string::npos || eq == 0 || used == 0 || used != k.size() - eq - 1)
      fail("--keep '{}': expected LAYER=BITS", k);
    out.emplace_back(k.substr(0, eq), bits);
  }
  return out;
}

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not JSON: {}", path, e.what());
  }
}

nlohmann::json point_json(const SearchPoint& s, const SearchSpaceSpec* space) {
  nlohmann::json j = {{"name", s.name},
                      {"latency_ms", num(s.latency_ms)},
                      {"energy_uj", num(s.energy_uj)},
                      {"est_top1", num(s.est_top1)},
                      {"true_top1", num(s.true_top1)},
                      {"check_top1", num(s.check_top1)},
                      {"evaluations", s.evaluations},
                      {"optimum_gap", num(s.optimum_gap)},
                      {"objective", num(s.objective)},
                      {"feasible", s.feasible}};
  if (!s.precision.empty()) {
    j["est_drop"] = num(s.est_drop);
    j["weight_kib"] = s.weight_kib;
    j["cycles"] = s.cycles;
    j["speedup_vs_w8"] = s.speedup_vs_w8();
    j["widths"] = SearchProblem::widths_text(s.precision);
  }
  if (space && !s.hw_index.empty()) {
    nlohmann::json hw = nlohmann::json::object();
    for (std::size_t i = 0; i < space->axes.size(); ++i) hw[space->axes[i].key] = space->axes[i].texts[s.hw_index[i]];
    j["hw"] = hw;
  }
  if (!s.source.empty()) j["source"] = s.source;
  if (!s.note.empty()) j["note"] = s.note;
  return j;
}

std::string fmt_pct(double x) { return std::isfinite(x) ? fmt::format("{:.2f}", x) : "-"; }

}  // namespace

int run_search(const SearchCliOptions& o) {
  // ---- options, checked before any work
  if (o.out.empty()) fail("--out DIR: give the directory for alloc.json, front.csv and summary.json");
  if (o.data.empty()) fail("--data: give the labelled data (fashion-mnist[:DIR] or npy:FILE with --labels)");
  // hw.yaml only when the hardware moves, which needs a --space.
  std::vector<std::string> out_names = {"alloc.json", "front.csv", "summary.json"};
  if (!o.space.empty()) out_names.push_back("hw.yaml");
  CommandFiles declared;
  declared.input("--model", o.model).input("--hw", o.hw.hw).input("--scalesim-cfg", o.hw.scalesim_cfg);
  declared.input("--space", o.space).input("--sensitivity", o.sensitivity).input("--labels", o.labels);
  data_inputs(declared, "--data", o.data);
  OutputFiles files = declared.output_folder("--out", o.out, out_names).output("--report", o.report).check();
  const auto proposal = o.proposal == "walk" ? ProposalKind::kWalk
                        : o.proposal == "amed" ? ProposalKind::kAmed
                                               : (fail("--proposal '{}': expected walk or amed", o.proposal), ProposalKind::kWalk);
  if (o.steps < 0) fail("--steps {}: must be zero or positive", o.steps);
  if (o.chains < 1 || o.chains > 1024) fail("--chains {}: must be in 1..1024", o.chains);
  if (o.threads < 0) fail("--threads {}: must be 0 (every core) or more", o.threads);
  if (o.check_every < 1) fail("--check-every {}: must be positive", o.check_every);
  if (o.check_top < 1) fail("--check-top {}: must be positive", o.check_top);
  if (o.check_samples < 1) fail("--check-samples {}: must be positive", o.check_samples);
  if (o.test_limit < 0) fail("--test-limit {}: must be zero (all) or positive", o.test_limit);
  if (o.front_points < 0) fail("--front-points {}: must be zero or positive", o.front_points);
  ObjectiveSpec obj;
  if (o.lambda) {
    if (!(*o.lambda >= 0) || !std::isfinite(*o.lambda)) fail("--lambda {}: must be zero or positive", *o.lambda);
    obj.lambda = *o.lambda;
  }
  const auto limit = [](std::optional<double> v, const char* flag) -> std::optional<double> {
    if (v && (!(*v > 0) || !std::isfinite(*v))) fail("{} {}: must be positive", flag, *v);
    return v;
  };
  obj.limits.latency_ms = limit(o.latency_target_ms, "--latency-target");
  obj.limits.size_kib = limit(o.max_size_kib, "--max-size-kib");
  obj.limits.energy_uj = limit(o.max_energy_uj, "--max-energy-uj");
  obj.limits.min_top1 = limit(o.min_top1, "--min-top1");
  if (obj.limits.min_top1 && *obj.limits.min_top1 > 100) fail("--min-top1 {}: a top-1 in percent is at most 100", *o.min_top1);
  if (o.max_drop) {
    if (!(*o.max_drop >= 0) || !std::isfinite(*o.max_drop)) fail("--max-drop {}: must be zero or positive", *o.max_drop);
    obj.limits.max_drop = *o.max_drop;
  }
  SearchOptions so;
  so.steps = o.steps;
  so.chains = o.chains;
  so.threads = o.threads;
  so.seed = o.seed;
  so.proposal = proposal;
  so.check_every = o.check_every;
  so.check_top = o.check_top;
  so.front_points = o.front_points;
  so.random_baseline = !o.no_random;
  so.grid_limit = o.grid_limit;
  if (o.temp_start) so.t_start = *o.temp_start;
  if (o.temp_end) so.t_end = *o.temp_end;
  if (!(so.t_start > 0) || !(so.t_end > 0) || !std::isfinite(so.t_start) || !std::isfinite(so.t_end))
    fail("--temp-start/--temp-end: temperatures must be positive");
  const QuantOptions qo = quant_options(o.quant, o.threads);
  SearchProblemOptions po;
  po.bits = o.bits;
  po.abits = o.abits;
  po.per_channel = !o.per_tensor;
  po.keep_first_last = !o.no_keep_first_last;
  po.keep = parse_keep(o.keep);

  // ---- hardware and space
  HwConfig base = load_hw_base(o.hw);
  for (const std::string& s : o.hw.sets) apply_hw_override(base, parse_hw_override(s));
  const HwSpec hw = finish_hw_spec(base);
  std::optional<SearchSpaceSpec> space;
  if (!o.space.empty()) {
    space = SearchSpaceSpec::read(o.space);
    check_space(base, *space);
  }

  // ---- model, problem, data
  const LayerGraph g = import_model(o.model);
  const SearchProblem problem(g, hw, po);
  const DataSpec dspec = parse_data_spec(o.data);
  const bool fmnist = dspec.kind == DataSpec::Kind::kFashionMnist;
  const auto calib = open_quant_data(o.data, o.labels, fmnist ? Split::kTrain : Split::kTest, 0, true, "--data");
  const auto test = fmnist ? open_quant_data(o.data, o.labels, Split::kTest, o.test_limit, true, "--data") : nullptr;
  const Dataset& test_data = test ? *test : *calib;
  const std::vector<int64_t> calib_idx = calibration_indices(calib->size(), qo.calib_samples);
  std::vector<int64_t> check_idx = held_out_indices(calib->size(), calib_idx, o.check_samples);
  std::string check_what = fmt::format("{} held-out samples of {}", check_idx.size(), calib->description());
  if (check_idx.empty()) {  // a small npy set: the calibration samples are all there is
    check_idx = calib_idx;
    check_what = fmt::format("{} samples of {} (no held-out samples left: the calibration samples)", check_idx.size(),
                             calib->description());
  }
  std::vector<int64_t> test_idx;
  const int64_t n_test = o.test_limit > 0 && !test ? std::min(o.test_limit, test_data.size()) : test_data.size();
  for (int64_t i = 0; i < n_test; ++i) test_idx.push_back(i);
  ProgressLine line;
  line.show("qsim search: calibration");
  // One calibration pass for every allocation (quant/calibrate.h ActivationStats).
  const ActivationStats stats = ActivationStats::collect(g, *calib, qo);
  line.done();

  const auto t0 = std::chrono::steady_clock::now();

  // ---- the estimate and QuantuneV2's scores
  DropTable drops;
  std::optional<SensitivityResult> scores;
  std::vector<int> lows;
  for (const WidthOption& w : problem.choices())
    if (w.wbits < 8) lows.push_back(w.wbits);
  if (!o.sensitivity.empty()) {
    const nlohmann::json j = read_json(o.sensitivity);
    drops = drop_table_from_sensitivity(j, o.sensitivity, problem);
    try {
      SensitivityResult s = SensitivityResult::from_json(j, o.sensitivity);
      bool all = s.method == SensitivityMethod::kQuantuneV2;  // the QuantuneV2 baseline ranks by its score
      for (int b : lows) all = all && s.width_index(b) >= 0;
      if (all) scores = std::move(s);
    } catch (const Error&) {
    }
  } else {
    std::mutex progress_mutex;  // the sensitivity's workers report
    drops = estimate_drop_table(problem, *calib, qo, o.threads, [&](int64_t d, int64_t n) {
      std::lock_guard lock(progress_mutex);
      line.show(fmt::format("qsim search: estimate {}/{} groups", d, n));
    });
  }
  if (!scores && !lows.empty()) {
    line.show("qsim search: QuantuneV2 scores");
    SensitivityOptions sopt;
    sopt.bits = lows;
    sopt.abits = po.abits;
    sopt.per_channel = po.per_channel;
    sopt.quant = qo;
    scores = measure_sensitivity(g, *calib, sopt);
  }
  line.done();
  const double estimate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The check and test evaluators, after the estimate: their cut caches and the
  // sensitivity's are never held at once.
  line.show("qsim search: reference runs");
  const std::vector<LayerPrecision> reference = problem.precision(problem.reference());
  AllocEvalAccuracy check_acc(g, *calib, check_idx, stats, reference, o.threads, check_what);
  AllocEvalAccuracy test_acc(g, test_data, test_idx, stats, reference, o.threads,
                             fmt::format("{} samples of {}", test_idx.size(), test_data.description()));
  line.done();

  // ---- the search
  const SearchInputs in{problem, base, space ? &*space : nullptr, drops, check_acc, &test_acc,
                        scores ? &*scores : nullptr};
  std::function<void(const SearchProgress&)> progress;
  if (line.enabled()) progress = [&](const SearchProgress& p) { line.search(p); };
  const SearchReport rep = run_codesign(in, obj, so, progress);
  line.done();
  const double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // ---- report on stdout, printed once the files are written
  std::string text;
  const SearchSpaceSpec* sp = space ? &*space : nullptr;
  std::string options_text;
  for (const WidthOption& w : problem.choices())
    options_text += fmt::format("{}{}/{}", options_text.empty() ? "" : ",", w.wbits, w.abits);
  text += fmt::format("{}: {} compute layers in {} groups ({} free), options {}; {} chains x {} steps ({}), seed {}\n",
                           g.name, problem.layers(), problem.groups(), problem.free_groups().size(), options_text,
                           so.chains, so.steps, proposal_name(proposal), so.seed);
  text += fmt::format("estimate: {}\n", drops.source);
  if (!rep.corrections.empty())
    text += fmt::format("correction after {} checks on {} states: rms error {:.3f} points (table alone {:.3f})\n",
                             rep.checks, rep.corrections.back().states, rep.corrections.back().rms_corrected,
                             rep.corrections.back().rms_raw);
  text += fmt::format("reference (every free layer at its widest option) top-1: {:.2f}% check, {}% test\n",
                           rep.reference_check_top1, fmt_pct(rep.reference_test_top1));
  text += fmt::format("{:<18} {:>11} {:>11} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9}\n", "", "latency_ms", "energy_uj",
                           "speedup", "est", "check", "true", "evals", "opt_gap");
  const auto row = [&](const SearchPoint& s) {
    if (s.precision.empty()) {
      text += fmt::format("{:<18} {}\n", s.name, s.note);
      return;
    }
    text += fmt::format("{:<18} {:>11.5f} {:>11.3f} {:>8.3f} {:>8} {:>8} {:>8} {:>10} {:>9}\n", s.name, s.latency_ms,
                             s.energy_uj, s.speedup_vs_w8(),
                             fmt_pct(s.est_top1), fmt_pct(s.check_top1), fmt_pct(s.true_top1), s.evaluations,
                             std::isfinite(s.optimum_gap) ? fmt::format("{:.4f}", s.optimum_gap) : "-");
  };
  row(rep.best);
  for (const SearchPoint& s : rep.baselines) row(s);
  if (rep.best.source != "chain")
    text += fmt::format("chosen: {}'s allocation, which measured a lower objective on the check samples than the "
                        "chains' choice (chain_choice)\n",
                        rep.best.source);
  text += fmt::format("acceptance {:.1f}%, {} checks, {} check and {} test evaluations, {:.1f} s\n",
                           100.0 * rep.acceptance(),
                           rep.checks, rep.check_evaluations, rep.test_evaluations, total_seconds);
  text += fmt::format("model evaluations: {} ({} states, {} hardware references, {} step timings; {} revisits "
                      "and {} proposals over the budgets cost none); best objective first reached after {}\n",
                      rep.evaluations.total, rep.evaluations.states, rep.evaluations.references,
                      rep.evaluations.group_timings, rep.evaluations.revisits, rep.evaluations.over_budget,
                      rep.reach_best.evaluations);
  if (rep.reach_grid)
    text += fmt::format("grid: {} evaluations; the chains first reached its objective {:.6g} after {} ({})\n",
                        rep.grid_evaluations, rep.reach_grid->objective, rep.reach_grid->evaluations,
                        rep.reach_grid->evaluations < 0 ? "never" : fmt::format("step {}", rep.reach_grid->step));

  // ---- outputs, written together
  nlohmann::json summary;
  summary["format"] = "qsim-search";
  summary["version"] = 1;
  summary["model"] = o.model;
  summary["hw"] = hw.source.empty() ? hw.name : hw.source;
  if (sp) summary["space"] = o.space;
  summary["data"] = {{"calibration", fmt::format("{} samples of {}", calib_idx.size(), calib->description())},
                     {"check", check_acc.description()},
                     {"test", test_acc.description()}};
  summary["options"] = {{"steps", so.steps},
                        {"chains", so.chains},
                        {"seed", so.seed},
                        {"proposal", std::string(proposal_name(proposal))},
                        {"temp_start", so.t_start},
                        {"temp_end", so.t_end},
                        {"check_every", so.check_every},
                        {"check_top", so.check_top},
                        {"bits", o.bits},
                        {"abits", o.abits},
                        {"keep_first_last", po.keep_first_last}};
  nlohmann::json limits = nlohmann::json::object();
  if (obj.limits.latency_ms) limits["latency_ms"] = *obj.limits.latency_ms;
  if (obj.limits.size_kib) limits["size_kib"] = *obj.limits.size_kib;
  if (obj.limits.min_top1) limits["min_top1"] = *obj.limits.min_top1;
  if (obj.limits.max_drop) limits["max_drop"] = *obj.limits.max_drop;
  if (obj.limits.energy_uj) limits["energy_uj"] = *obj.limits.energy_uj;
  nlohmann::json corrections = nlohmann::json::array();
  for (const CorrectionStep& c : rep.corrections)
    corrections.push_back({{"states", c.states}, {"rms_raw", c.rms_raw}, {"rms_corrected", c.rms_corrected}});
  summary["objective"] = {{"lambda", obj.lambda},
                          {"constraints", limits},
                          {"ridge", so.ridge},
                          {"corrections", corrections},
                          {"reference_check_top1", rep.reference_check_top1},
                          {"reference_test_top1", num(rep.reference_test_top1)},
                          {"estimate", drops.source}};
  summary["provenance"] = provenance_json(o.command_line, o.hw, hw, ModelInput{o.model, {}});
  summary["best"] = point_json(rep.best, sp);
  {
    // The chosen widths by layer, for the report's bits chart.
    nlohmann::json layers = nlohmann::json::array();
    const auto compute = g.compute_layers();
    for (std::size_t i = 0; i < compute.size() && i < rep.best.precision.size(); ++i)
      layers.push_back({{"name", g.node(compute[i]).name},
                        {"is_compute", true},
                        {"wbits", rep.best.precision[i].wbits},
                        {"abits", rep.best.precision[i].abits}});
    summary["best"]["layers"] = std::move(layers);
  }
  summary["chain_best"] = point_json(rep.chain_best, sp);
  nlohmann::json baselines = nlohmann::json::array();
  for (const SearchPoint& s : rep.baselines) baselines.push_back(point_json(s, sp));
  summary["baselines"] = baselines;
  summary["optimum"] = {{"objective", num(rep.optimum.objective)},
                        {"exact", rep.optimum.exact},
                        {"factors", rep.optimum.factors},
                        {"largest_states", rep.optimum.largest_states},
                        {"largest_front", rep.optimum.largest_front},
                        {"step_timings", rep.optimum.timings}};
  nlohmann::json chains = nlohmann::json::array();
  for (const ChainStats& c : rep.chains)
    chains.push_back({{"steps", c.steps},
                      {"accepted", c.accepted},
                      {"acceptance", c.acceptance()},
                      {"final_objective", num(c.final_cost)}});
  summary["chains"] = chains;
  const auto reach_json = [](const ReachReport& r) {
    return nlohmann::json{{"objective", num(r.objective)},
                          {"step", r.step},
                          {"evaluations", r.evaluations},
                          {"chain_steps", r.chain_steps},
                          {"chain_evaluations", r.chain_evaluations}};
  };
  summary["evaluations"] = {{"chain_steps", rep.steps},
                            {"total", rep.evaluations.total},
                            {"states", rep.evaluations.states},
                            {"references", rep.evaluations.references},
                            {"group_timings", rep.evaluations.group_timings},
                            {"revisits", rep.evaluations.revisits},
                            {"over_budget", rep.evaluations.over_budget},
                            {"to_best", reach_json(rep.reach_best)},
                            {"accepted", rep.accepted},
                            {"invalid_states", rep.invalid_states},
                            {"checks", rep.checks},
                            {"check_evaluations", rep.check_evaluations},
                            {"test_evaluations", rep.test_evaluations},
                            {"check_passes", rep.check_passes},
                            {"test_passes", rep.test_passes},
                            {"estimate_evaluations", drops.evaluations}};
  if (rep.reach_grid) {
    summary["evaluations"]["grid"] = rep.grid_evaluations;
    summary["evaluations"]["grid_parts"] = {{"references", rep.grid_references},
                                            {"compute_timings", rep.grid_compute_timings},
                                            {"factor_timings", rep.grid_factor_timings}};
    summary["evaluations"]["to_grid"] = reach_json(*rep.reach_grid);
  }
  summary["hw_moved"] = rep.hw_moved;
  summary["estimate"] = drops.to_json(problem);
  for (std::size_t gi = 0; gi < problem.groups(); ++gi)
    for (std::size_t oi = 0; oi < problem.options(gi).size(); ++oi)
      summary["estimate"]["groups"][gi]["options"][oi]["corrected"] = rep.estimate[gi][oi];
  // Everything that depends on the machine's speed, apart from the rest.
  summary["timing"] = {{"estimate_seconds", estimate_seconds},
                       {"search_seconds", rep.search_seconds},
                       {"baseline_seconds", rep.baseline_seconds},
                       {"final_seconds", rep.final_seconds},
                       {"optimum_seconds", rep.optimum.seconds},
                       {"grid_seconds", rep.grid_seconds},
                       {"total_seconds", total_seconds},
                       {"threads", o.threads}};

  nlohmann::json front = nlohmann::json::array();  // front.csv's rows, also in summary.json (the report)
  for (const SearchPoint& s : rep.front) {
    nlohmann::json p = point_json(s, sp);
    p["front"] = s.front;
    front.push_back(std::move(p));
  }
  summary["front"] = std::move(front);

  std::string csv = "front,latency_ms,energy_uj,est_top1,check_top1,true_top1,weight_kib,objective";
  if (sp)
    for (const HwAxis& a : sp->axes) csv += fmt::format(",{}", csv_field(a.key));
  csv += ",widths\n";
  const auto cell = [](double x) { return std::isfinite(x) ? fmt::format("{}", x) : std::string(); };
  for (const SearchPoint& s : rep.front) {
    csv += fmt::format("{},{},{},{},{},{},{},{}", s.front, cell(s.latency_ms), cell(s.energy_uj), cell(s.est_top1),
                       cell(s.check_top1), cell(s.true_top1), cell(s.weight_kib), cell(s.objective));
    if (sp)
      for (std::size_t i = 0; i < sp->axes.size(); ++i) csv += fmt::format(",{}", csv_field(sp->axes[i].texts[s.hw_index[i]]));
    csv += fmt::format(",{}\n", SearchProblem::widths_text(s.precision));
  }

  PrecisionAlloc alloc;
  alloc.model = g.name;
  const auto compute = g.compute_layers();
  for (std::size_t i = 0; i < compute.size(); ++i) alloc.set(g.node(compute[i]).name, rep.best.precision[i]);
  alloc.section("search") = {{"summary", "summary.json"},
                             {"latency_ms", rep.best.latency_ms},
                             {"energy_uj", rep.best.energy_uj},
                             {"est_top1", num(rep.best.est_top1)},
                             {"check_top1", num(rep.best.check_top1)},
                             {"true_top1", num(rep.best.true_top1)},
                             {"hw", rep.hw_moved ? std::string("hw.yaml") : (hw.source.empty() ? hw.name : hw.source)}};

  const std::filesystem::path dir(o.out);
  files.set((dir / "alloc.json").string(), alloc.to_json().dump(2) + "\n");
  files.set((dir / "front.csv").string(), csv);
  files.set((dir / "summary.json").string(), summary.dump(2) + "\n");
  if (rep.hw_moved) {
    HwSpec out_hw = rep.best.hw;
    files.set((dir / "hw.yaml").string(),
              fmt::format("# The hardware point qsim search chose ({}, space {}).\n", hw.name, o.space) +
                  hw_spec_to_yaml(out_hw));
  } else if (!o.space.empty()) {
    files.omit((dir / "hw.yaml").string());
  }
  if (!o.report.empty()) {
    const ReportInput in[] = {{fmt::format("qsim search: {} on {}", g.name, hw.name), summary}};
    files.set(o.report, render_html_report(in));
  }
  files.commit();
  std::cout << text;
  std::cout << fmt::format("wrote {}/alloc.json, front.csv, summary.json{}\n", o.out, rep.hw_moved ? ", hw.yaml" : "");
  return 0;
}

}  // namespace qsim::app
