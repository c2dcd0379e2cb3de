// QuantuneV2-style mixed-precision allocation over fused groups (docs/quantune.md).
//
// Groups. The fused groups of the one rule (graph/precision_plan.h): every compute
// layer is one group (Conv+BN+activation are already one node after import); when the
// hardware fuses element-wise ops into the producer's output stage (HwSpec
// vector.fuse_elementwise), an Add/Sum whose inputs are produced by compute layers
// joins their group, and compute layers that feed the same Add (a residual block with
// a projection shortcut) become one group: one width for the whole fused output
// stage. A group's score is its most sensitive member's (score at the low width,
// search/sensitivity.h).
//
// Allocation. Forced layers (the first and last compute layers at the high width by
// default; `keep` entries) fix their group. Every other group starts at the low width;
// groups are then raised to the high width in descending score order (ties: the
// earlier layer first; or a seeded random permutation, the baseline), each one only
// if every given constraint still holds afterwards (first fit: a group that does not
// fit is skipped and later, smaller ones are still tried):
//   high_count        compute layers at the high width (forced ones included) <= N;
//   latency_budget_ms the analytical backend's latency on `hw` <= X (timed by its
//                     incremental evaluator, sim/analytical/analytical_evaluator.h);
//   size_budget_kib   weight storage, sum of weights x wbits / 8 bytes, <= X KiB.
// prefer_fewer_boundaries: at each step, among the remaining groups whose score is
// within tie_tolerance of the best remaining one and that fit, the one whose raising
// gives the fewest requantization boundaries is taken (then the earlier one).
//
// Boundaries: the number of (tensor, new width) conversions in front of compute
// layers, i.e. the requantizations of the one rule (graph/precision_plan.h), which are
// the `<layer>.requant` rows every timing backend charges
// (TimingReport::requant_boundaries()).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "quant/prefix_cache.h"
#include "search/sensitivity.h"
#include "sim/hw_spec.h"

namespace qsim {

struct FusedGroup {
  std::vector<std::size_t> layers;   // indices into g.compute_layers()
  std::vector<std::string> names;    // their names
  std::vector<std::string> fused;    // element-wise nodes fused into the group's output stage
  double score = 0;                  // the most sensitive member's score
};

// The rule's groups of g's compute layers (in order of their first member), with
// names for reports; scores are left 0.
std::vector<FusedGroup> fused_groups(const LayerGraph& g, bool fuse_elementwise);

// Weight storage in bytes: sum over compute layers of weight elements x wbits / 8.
double weight_bytes(const LayerGraph& g, std::span<const LayerPrecision> precision);

struct AllocateOptions {
  int high_bits = 8;   // weight width of the high group
  int low_bits = 4;    // weight width of the low group (its sensitivity row is used)
  int abits = 0;       // activation width of both (0: the weight width, so high/low change abits too)
  bool per_channel = true;
  std::optional<int64_t> high_count;  // compute layers at the high width in total
  std::optional<double> latency_budget_ms;
  std::optional<double> size_budget_kib;
  const HwSpec* hw = nullptr;         // latency budget and group fusion; null: fuse (the default config)
  std::vector<std::pair<std::string, int>> keep;  // layer -> forced weight width
  bool keep_first_last = true;
  bool prefer_fewer_boundaries = false;
  double tie_tolerance = 0.0;
  bool random_order = false;  // baseline: a seeded random permutation instead of the scores
  uint64_t seed = 0;
};

struct AllocateResult {
  PrecisionAlloc alloc;
  std::vector<FusedGroup> groups;
  std::vector<int> group_bits;          // weight width per group
  std::vector<char> forced;             // per group: fixed by keep / first-last
  std::vector<std::size_t> raised;      // groups raised to the high width, in the order taken
  int64_t high_layers = 0;              // compute layers at the high width
  int boundaries = 0;
  double total_score = 0;               // sum of the scores of the groups raised
  double weight_kib = 0;
  std::optional<double> latency_ms;     // with a hw
  std::string allocator = "rank";       // rank | knapsack | greedy-measured (search/allocate.h)
  // knapsack: the estimated top-1 drop of the allocation, the sum of its groups'
  // est_drop (the additive assumption); NaN for the other allocators.
  double est_drop = std::numeric_limits<double>::quiet_NaN();
  // greedy-measured: allocations evaluated (both passes), what they ran, the direction kept and the
  // loss after each step.
  int64_t evaluations = 0;
  EvalCost eval_cost;
  std::string direction;
  std::vector<double> step_loss;
  std::vector<std::pair<std::string, double>> direction_loss;  // final loss of each pass run (up, down)
};

// The index of o.low_bits in `s`'s widths; throws qsim::Error when the model has no
// compute layers, `s` has no rows at o.low_bits, or was measured with other activation
// widths than o.abits (the checks every allocator over a sensitivity table starts with).
int sensitivity_low_width(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o);

// Throws qsim::Error when `s` is not for `g` (layer names), has no row at
// o.low_bits, was measured with other activation widths than o.abits, a keep entry
// names no compute layer, or the forced layers alone break a budget.
AllocateResult allocate_precision(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o);

}  // namespace qsim
