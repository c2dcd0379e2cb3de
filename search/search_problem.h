// The allocation half of the co-design search space: which widths each fused group
// of compute layers may take (docs/search.md section 1).
//
// The unit the search moves is a fused group of the one rule (graph/precision_plan.h,
// search/quantune.h fused_groups): compute layers sharing one output stage take one
// width, as QuantuneV2's allocation does; on models without such sharing a group is
// one layer. A free group's options are (wbits, abits) pairs: for every weight width
// b of `bits` that the PE runs (effective_width: a Bit Fusion PE with widths 2/4/8
// runs 3 bits as 4), the pair (b, b) -- activations follow the weights, AMED's
// setting -- or (b, abits) with a fixed activation width. Options are in ascending
// width; the widest is the group's reference. Pinned groups have one option: the
// first and last compute layers at 8/8 by default (AMED and QuantuneV2 keep them),
// `keep` entries at their width, layers without constant weights at 8/8.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "search/quantune.h"
#include "sim/hw_spec.h"

namespace qsim {

struct WidthOption {
  int wbits = 8;
  int abits = 8;
  friend bool operator==(const WidthOption&, const WidthOption&) = default;
};

struct SearchProblemOptions {
  std::vector<int> bits{2, 3, 4, 8};  // weight widths (AMED's)
  int abits = 0;                      // activation width of every option; 0: the weight width
  bool per_channel = true;
  bool keep_first_last = true;        // pin the first and last compute layers at 8/8
  std::vector<std::pair<std::string, int>> keep;  // LAYER -> weight width (activations as the options)
};

class SearchProblem {
 public:
  // Throws qsim::Error for widths outside 2..16, widths the PE of `hw` runs none of,
  // keep entries naming no compute layer or conflicting inside a group, and a model
  // without compute layers.
  SearchProblem(const LayerGraph& g, const HwSpec& hw, const SearchProblemOptions& o);

  const LayerGraph& graph() const { return *g_; }
  const SearchProblemOptions& options() const { return o_; }
  std::size_t layers() const { return group_of_.size(); }
  std::size_t groups() const { return groups_.size(); }
  const FusedGroup& group(std::size_t g) const { return groups_[g]; }
  std::size_t group_of(std::size_t layer) const { return group_of_[layer]; }
  // A group's options, ascending; size 1 when pinned.
  std::span<const WidthOption> options(std::size_t g) const { return options_[g]; }
  const std::vector<uint32_t>& free_groups() const { return free_; }
  std::string_view pinned_by(std::size_t g) const { return pinned_by_[g]; }  // "" when free
  // The free groups' option list (the same for every free group).
  std::span<const WidthOption> choices() const { return choices_; }
  // Weight storage of the group at each option, KiB (elements x wbits / 8 / 1024).
  double weight_kib(std::size_t g, std::size_t option) const { return weight_kib_[g][option]; }
  // Every group at its widest option.
  std::vector<uint8_t> reference() const;
  // The option of a free group with weights at `wbits`, or -1.
  int option_of(std::size_t g, int wbits) const;

  // One entry per compute layer (graph order).
  std::vector<LayerPrecision> precision(std::span<const uint8_t> option) const;
  // Every layer (pinned ones too) at `w` (activations as the options: tied or fixed).
  std::vector<LayerPrecision> uniform(int wbits) const;
  // The option vector of an allocation whose layers all take options of their groups,
  // or an empty vector.
  std::vector<uint8_t> options_of(std::span<const LayerPrecision> p) const;
  // "8/8 4/4 2/2 ...": the widths of every compute layer, for reports.
  static std::string widths_text(std::span<const LayerPrecision> p);

 private:
  const LayerGraph* g_;
  SearchProblemOptions o_;
  std::vector<FusedGroup> groups_;
  std::vector<std::size_t> group_of_;
  std::vector<WidthOption> choices_;
  std::vector<std::vector<WidthOption>> options_;
  std::vector<std::string> pinned_by_;
  std::vector<uint32_t> free_;
  std::vector<std::vector<double>> weight_kib_;
};

}  // namespace qsim
