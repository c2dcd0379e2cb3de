// The Markov-chain co-design search (`qsim search`, docs/search.md): per-group widths
// and hardware parameters explored by Metropolis-Hastings (search/mcmc.h) on
//
//   f(s) = E(s) + lambda * latency(s) / latency(all 8-bit on the same hardware)
//
// where E is the corrected additive estimate of the top-1 drop: the drop table
// (search/accuracy.h DropTable) plus a per-group, per-option correction refitted every
// `check_every` steps of the run's first half by ridge regression on the measured drops
// of the best states, truly quantized and evaluated on a held-out calibration subset;
// the chains then anneal a second time on the final estimate. Hard
// constraints (latency target, model size, accuracy, energy, hardware budgets) add a
// penalty of `penalty * (1 + relative violation)`, so a chain started outside them
// walks in and never walks out.
//
// The latency and energy of every state come from the analytical model's incremental
// evaluator (sim/analytical/analytical_evaluator.h), one per chain and hardware point:
// a width move re-times only the layers it changes. Chains run in parallel threads,
// each with its own random stream (seed, chain); they meet only at the checks, where
// their archives are merged in chain order: a seed gives the same result bit for bit
// at any number of threads.
//
// Baselines computed in the same run (docs/search.md section 5): every uniform width
// the PE runs; QuantuneV2's allocation at the chosen state's latency (search/quantune.h);
// random search with the same number of evaluations and checks; the exact optimum of
// the additive estimate on the chosen hardware (search/knapsack.h, then exact
// re-evaluation with a certified lower bound); with a hardware space, the grid sweep
// of that optimum over every point of the space.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "search/accuracy.h"
#include "search/mcmc.h"
#include "search/search_problem.h"
#include "search/sensitivity.h"
#include "search/space.h"
#include "sim/hw_keys.h"

namespace qsim {

struct SearchConstraints {
  std::optional<double> latency_ms;  // --latency-target MS
  std::optional<double> size_kib;    // --max-size-kib: weight storage
  std::optional<double> min_top1;    // --min-top1 PCT: estimated (checked) top-1
  std::optional<double> max_drop;    // --max-drop POINTS below the reference allocation
  std::optional<double> energy_uj;   // --max-energy-uj
};

struct ObjectiveSpec {
  double lambda = 4.0;
  SearchConstraints limits;
  double penalty = 1000.0;
};

struct SearchOptions {
  int64_t steps = 10000;  // per chain
  int chains = 4;
  int threads = 0;  // 0: every core
  uint64_t seed = 0;
  ProposalKind proposal = ProposalKind::kWalk;
  double t_start = 0.5;
  double t_end = 0.005;
  int64_t stage = 64;           // steps per temperature stage
  int64_t check_every = 1000;   // K
  int check_top = 4;            // states checked per check
  double ridge = 1.0;           // prior weight of the correction (points^2 per option), docs/search.md 3
  double hw_move_prob = 0.2;
  int front_points = 8;         // per front (latency, energy) in front.csv
  bool random_baseline = true;
  uint64_t grid_limit = 4096;   // the grid baseline runs when the space has at most this many points
  std::size_t hw_cache = 64;    // prepared hardware points kept per chain
};

struct SearchProgress {
  std::string phase;  // "search", "random search", "grid", "final evaluation"
  int64_t done = 0, total = 0;
  double accept_rate = 0;
  double best = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;                                        // since the search started
  double eta_seconds = std::numeric_limits<double>::quiet_NaN();  // of the phase, from its rate so far
};

struct SearchInputs {
  const SearchProblem& problem;
  const HwConfig& base;          // the --hw config as stated (finished: the base point)
  const SearchSpaceSpec* space;  // null: the hardware is fixed
  const DropTable& drops;
  AllocationAccuracy& check;     // held-out calibration samples: the correction and the choice
  AllocationAccuracy* test;      // final figures (test split); null: none
  const SensitivityResult* scores;  // QuantuneV2 scores at the low widths; null: no QuantuneV2 baseline
};

// A reported allocation on a hardware point, with its figures.
struct SearchPoint {
  std::string name;
  std::vector<LayerPrecision> precision;
  std::vector<uint8_t> option;    // per group; empty when outside the search space (uniform with pins)
  std::vector<uint16_t> hw_index; // per axis
  HwSpec hw;
  int64_t cycles = 0, cycles8 = 0;
  double latency_ms = 0, energy_uj = 0, weight_kib = 0;
  double est_drop = std::numeric_limits<double>::quiet_NaN();   // E, the corrected estimate (points)
  double est_top1 = std::numeric_limits<double>::quiet_NaN();   // reference check top-1 - est_drop
  double check_top1 = std::numeric_limits<double>::quiet_NaN(); // held-out calibration samples
  double true_top1 = std::numeric_limits<double>::quiet_NaN();  // test split
  double objective = std::numeric_limits<double>::quiet_NaN();  // f with the final estimate
  double optimum_gap = std::numeric_limits<double>::quiet_NaN();
  bool feasible = true;
  int64_t evaluations = 0;  // what producing it cost, see docs/search.md section 5
  // best: "chain" when it is the chains' choice, else the baseline whose allocation
  // measured better on the held-out samples (docs/search.md section 3, Choice).
  std::string source;
  std::string note;
  std::string front;        // front.csv: "latency", "energy" or "latency+energy"
  // cycles(all 8-bit) / cycles on the same hardware; 0 when not timed.
  double speedup_vs_w8() const { return cycles > 0 ? static_cast<double>(cycles8) / static_cast<double>(cycles) : 0.0; }
};

struct ChainStats {
  int64_t steps = 0, accepted = 0;
  double final_cost = 0;
  double acceptance() const { return steps ? static_cast<double>(accepted) / static_cast<double>(steps) : 0.0; }
};

struct OptimumInfo {
  bool computed = false;
  bool exact = false;  // no front was thinned (always, in practice: see largest_front)
  double objective = std::numeric_limits<double>::quiet_NaN();
  int64_t factors = 0;         // requantization and vector steps coupling groups
  int64_t largest_states = 0;  // most DP states at one group
  int64_t largest_front = 0;
  int64_t timings = 0;         // step timings of the DP: compute_timings + factor_timings
  int64_t compute_timings = 0; // Compute steps, one per (layer, option)
  int64_t factor_timings = 0;  // Requantize/Vector sites, one per combination of their groups' options
  double seconds = 0;
};

// One refit of the correction.
struct CorrectionStep {
  int64_t states = 0;         // checked states it was fitted on
  double rms_raw = 0;         // rms of (measured drop - table estimate) over them
  double rms_corrected = 0;   // rms of (measured drop - corrected estimate)
};

// What the chains' evaluations were (docs/search.md section 5). One evaluation is one
// answer of the analytical model the searcher did not have yet: the latency of a whole
// allocation on a hardware point (a state, or a point's all-8 reference), or the
// cycles of one step (a layer's Compute step at one option; a Requantize or Vector
// site at one combination of its groups' options). A state a chain evaluated before
// is answered from its memo, and a hardware point over the budgets (read from the
// HwSpec alone) is rejected before any evaluation; the grid counts by the same rule.
struct EvaluationCount {
  int64_t total = 0;          // states + references + group_timings
  int64_t states = 0;         // distinct (hardware point, allocation) states evaluated, over the chains
  int64_t references = 0;     // hardware points whose all-8 reference was timed
  int64_t group_timings = 0;  // the amed proposal's compute-step timings per point
  int64_t revisits = 0;       // proposals answered from the memo (not counted)
  int64_t over_budget = 0;    // hardware proposals over the budgets, rejected unevaluated (not counted)
};

// When the run first evaluated a state of objective (by the final estimate) at most
// `objective`: `step` is the first chain step at which any chain did, `evaluations`
// the evaluations of every chain up to that step; per chain, its own step and count
// (-1: never).
struct ReachReport {
  double objective = std::numeric_limits<double>::quiet_NaN();
  int64_t step = -1, evaluations = -1;
  std::vector<int64_t> chain_steps, chain_evaluations;
};

struct SearchReport {
  SearchPoint best;        // chosen: the best checked state (by its checked objective)
  SearchPoint chain_best;  // the chains' best state by the final corrected estimate
  std::vector<SearchPoint> baselines;
  std::vector<SearchPoint> front;
  std::vector<CorrectionStep> corrections;  // one per check
  std::vector<std::vector<double>> estimate;  // the final corrected table [group][option]
  double reference_check_top1 = 0;    // the reference allocation (every group at its widest option)
  double reference_test_top1 = std::numeric_limits<double>::quiet_NaN();
  std::vector<ChainStats> chains;
  int64_t steps = 0, accepted = 0, checks = 0, check_evaluations = 0, test_evaluations = 0;
  double check_passes = 0, test_passes = 0;  // AllocationAccuracy::passes()
  int64_t invalid_states = 0;  // proposals the hardware could not run (or over the budgets)
  EvaluationCount evaluations;  // the search's chains
  ReachReport reach_best;       // until the chains' best objective (chain_best) was first evaluated
  std::optional<ReachReport> reach_grid;  // until the grid's best objective was (with a grid)
  int64_t grid_evaluations = 0;  // = grid_references + grid_compute_timings + grid_factor_timings
  int64_t grid_references = 0, grid_compute_timings = 0, grid_factor_timings = 0;
  double grid_seconds = 0;
  OptimumInfo optimum;         // on the chosen state's hardware
  bool hw_moved = false;
  double search_seconds = 0, baseline_seconds = 0, final_seconds = 0;
  double acceptance() const { return steps ? static_cast<double>(accepted) / static_cast<double>(steps) : 0.0; }
};

// The chains on the estimate alone (no check, no correction, no baselines): what one
// chain step costs (bench/search_bench).
struct EstimateOnlyRun {
  int64_t steps = 0, accepted = 0;
  double seconds = 0;
  double best_objective = std::numeric_limits<double>::infinity();
};
EstimateOnlyRun run_estimate_only(const SearchProblem& p, const HwConfig& base, const SearchSpaceSpec* space,
                                  const DropTable& drops, const ObjectiveSpec& obj, const SearchOptions& o);

// Runs the search and every baseline. Throws qsim::Error when no state meets the
// constraints. `progress` is called from a monitor thread about 4 times a second.
SearchReport run_codesign(const SearchInputs& in, const ObjectiveSpec& obj, const SearchOptions& o,
                          const std::function<void(const SearchProgress&)>& progress = {});

}  // namespace qsim
