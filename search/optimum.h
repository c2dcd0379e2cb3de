// The exact optimum of the search's additive estimate on one hardware point
// (docs/search.md section 5): the allocation minimising
//
//   sum_g est[g][option_g] + lambda * cycles(allocation) / cycles8
//
// under an optional cycle limit (the latency target), where cycles are the analytical
// model's. The latency is not additive over layers: a Requantize step depends on the
// stored width of a tensor (the largest abits of its width sources) and its readers'
// abits, a Vector step on the widths around it (graph/precision_plan.h). The total is
// exactly the sum of the Compute steps (one per layer, its own widths) and of those
// steps, so the multiple-choice knapsack of search/knapsack.h takes the Compute steps
// as the groups' options and every Requantize/Vector site as a factor over the groups
// it depends on: its DP minimum is the exact one. The evaluator re-times the result
// (a logic_error if the two disagree).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "search/search_problem.h"
#include "sim/analytical/analytical_evaluator.h"
#include "sim/hw_spec.h"

namespace qsim {

struct EstimateOptimum {
  std::vector<uint8_t> option;  // per group; empty when no allocation fits the limit
  int64_t cycles = 0;
  double value = 0;             // the minimised sum
  bool exact = true;            // false only if a DP front was thinned (search/knapsack.h max_front)
  int64_t factors = 0, largest_states = 0, largest_front = 0;
  int64_t compute_timings = 0;  // Compute steps timed: one per (layer, option)
  int64_t factor_timings = 0;   // Requantize/Vector sites timed: one per combination of their groups' options
};

// `ev` must be prepared on (p.graph(), hw); its allocation is changed. `est` is
// [group][option]; cycles8 > 0 normalises the latency term.
EstimateOptimum estimate_optimum(const SearchProblem& p, const HwSpec& hw, AnalyticalEvaluator& ev,
                                 std::span<const std::vector<double>> est, double lambda, int64_t cycles8,
                                 std::optional<int64_t> max_cycles = std::nullopt);

}  // namespace qsim
