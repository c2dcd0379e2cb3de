// Multiple-choice knapsack by dynamic programming: pick one option per group, each
// option with an integer weight and a value, both to be minimised, plus *factors*:
// terms whose weight and value depend on the options of a few groups together (in
// the search: the requantization and vector steps, whose cycles depend on the
// widths of the layers around them). Without factors this is the textbook
// multiple-choice knapsack; with them the DP runs over the groups in order and
// carries, as its state, the options of the groups some unfinished factor still
// needs (a factor is charged at its last group), so the result stays exact.
//
// Two modes:
//   scalar  (no weight limit)  per state only the least value: the exact minimum
//                              of the total value;
//   pareto  (a weight limit)   per state the Pareto front of (weight, value): every
//                              selection within the limit that no other beats in
//                              both, hence the exact minimum value under the limit.
// The cost grows with the number of states (the product of the options of the
// groups kept open) times the front sizes; `max_front` caps a front (it is then
// thinned evenly and the result flagged inexact). Tests: tests/search/knapsack_test.cpp
// against brute force.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace qsim {

struct KnapsackOption {
  int64_t weight = 0;
  double value = 0;
  bool allowed = true;  // false: never taken (a width the hardware cannot run)
};

// A term that depends on the options of the groups in `scope` (ascending, no
// repeats): `cost` gets their options in scope order.
struct KnapsackFactor {
  std::vector<uint32_t> scope;
  std::function<KnapsackOption(std::span<const uint8_t> options)> cost;
};

struct KnapsackPoint {
  int64_t weight = 0;
  double value = 0;
  std::vector<uint8_t> choice;  // per group, the option taken
};

struct KnapsackResult {
  // scalar mode: the one best selection; pareto mode: the Pareto front over all
  // selections within the limit, ascending weight, strictly descending value.
  std::vector<KnapsackPoint> points;
  bool exact = true;           // false when a front was thinned at max_front
  int64_t largest_states = 0;  // most DP states at one stage
  int64_t largest_front = 0;   // longest front of one state
  int64_t factor_evaluations = 0;  // factor costs asked for: one per factor and combination of its scope's options
};

// Empty `points` when no selection is allowed (or none fits the limit). Ties keep
// the selection met first.
KnapsackResult multiple_choice_knapsack(std::span<const std::vector<KnapsackOption>> groups,
                                        std::span<const KnapsackFactor> factors = {},
                                        std::optional<int64_t> max_weight = std::nullopt,
                                        std::size_t max_front = 100'000);

}  // namespace qsim
