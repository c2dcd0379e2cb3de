// Allocators over fused groups (docs/quantune.md section 4): which groups run at the
// high width under the constraints of AllocateOptions (search/quantune.h).
//
//   rank            raise groups in sensitivity order (QuantuneV2's rule), first fit;
//                   `allocate_precision` in search/quantune.h;
//   knapsack        the multiple-choice knapsack over the est_drop table: the groups
//                   whose raising saves the most estimated top-1 drop in total within
//                   the budget (additive: the allocation's drop is taken as the sum of
//                   its groups' single-group drops);
//   greedy-measured start from the forced groups high and everything else low; at each
//                   step measure every allocation one raise away (whole allocations, on
//                   the calibration samples: quant/alloc_eval.h) and take the one with
//                   the lowest loss per unit of budget; or from the top, lower the group
//                   whose lowering costs least, until the budget holds; by default both,
//                   keeping the allocation of lower loss. Loss: mean
//                   cross-entropy on labelled samples, else the mean KL of the outputs
//                   from float32. It sees interactions between layers that the additive
//                   estimate misses.
//
// AllocationProblem holds what every allocator shares: the groups, the widths forced by
// --keep / first-last / unscored layers, and the constraint check.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "quant/alloc_eval.h"
#include "search/quantune.h"
#include "search/sensitivity.h"
#include "sim/analytical/analytical_evaluator.h"

namespace qsim {

enum class Allocator : uint8_t { kRank, kKnapsack, kGreedyMeasured };
std::optional<Allocator> parse_allocator(std::string_view s);
std::string_view allocator_name(Allocator a);
Allocator allocator_or_fail(std::string_view s, std::string_view flag);

class AllocationProblem {
 public:
  // `scored`: per compute layer, whether it may be low (layers without constant
  // weights are forced high). Throws qsim::Error for bad widths, keep entries naming no
  // compute layer, conflicting forced widths, a latency budget without hardware, or
  // budgets the forced layers alone exceed.
  AllocationProblem(const LayerGraph& g, std::span<const char> scored, const AllocateOptions& o);

  const LayerGraph& graph() const { return g_; }
  const AllocateOptions& options() const { return o_; }
  const std::vector<FusedGroup>& groups() const { return groups_; }
  std::size_t group_of(std::size_t layer) const { return group_of_[layer]; }
  bool forced(std::size_t group) const { return forced_[group] != 0; }
  // Forced groups at their width, every other group low.
  const std::vector<int>& initial() const { return initial_; }
  std::vector<std::size_t> free_groups() const;

  std::vector<LayerPrecision> precision(std::span<const int> group_bits) const;
  int64_t high_layers(std::span<const int> group_bits) const;
  double latency_ms(std::span<const int> group_bits) const;  // needs options().hw
  double weight_kib(std::span<const int> group_bits) const;
  bool fits(std::span<const int> group_bits) const;
  // How much of the primary budget (count, else size, else latency) raising `group`
  // from `group_bits` takes; 1 per layer without a budget.
  double cost_of_raising(std::span<const int> group_bits, std::size_t group) const;

  // The result for the final widths (alloc, boundaries, sizes, latency).
  AllocateResult result(std::vector<int> group_bits, std::vector<std::size_t> raised) const;

 private:
  const LayerGraph& g_;
  AllocateOptions o_;
  std::vector<FusedGroup> groups_;
  std::vector<std::size_t> group_of_;
  std::vector<char> forced_;
  std::vector<int> initial_;
  // Candidates are timed by the incremental evaluator (each (layer, widths) mapped once
  // for all candidates); mutable: it memoises, which does not change what it answers.
  mutable AnalyticalEvaluator evaluator_;
};

// Knapsack over est_drop (the rows of `s` at o.low_bits, and at o.high_bits when
// measured; a group's estimate is the sum over its layers' groups in `s`, or its
// largest member's when `s` has no groups). Throws qsim::Error when `s` has no
// est_drop at the low width.
AllocateResult allocate_knapsack(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o);

// kAuto: one pass, the direction of fewer steps (up without a count); kBoth: both
// passes, the result of lower calibration loss kept (docs/quantune.md section 5.2: a
// pass up from almost all low cannot see groups that help only together).
enum class GreedyDirection : uint8_t { kAuto, kUp, kDown, kBoth };
struct GreedyOptions {
  bool use_labels = true;  // cross-entropy when the samples are labelled, else output KL
  GreedyDirection direction = GreedyDirection::kBoth;
};
// Greedy on measured whole allocations. `ev` runs `g` on the calibration samples; the
// result's `evaluations` and `eval_cost` say what it ran.
AllocateResult allocate_greedy_measured(const LayerGraph& g, AllocationEvaluator& ev, const AllocateOptions& o,
                                        const GreedyOptions& go = {});

}  // namespace qsim
