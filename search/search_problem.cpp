#include "search/search_problem.h"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "graph/error.h"
#include "quant/quantizer.h"

namespace qsim {

SearchProblem::SearchProblem(const LayerGraph& g, const HwSpec& hw, const SearchProblemOptions& o) : g_(&g), o_(o) {
  const auto compute = g.compute_layers();
  if (compute.empty()) fail("model '{}' has no compute layers to search", g.name);
  if (o.bits.empty()) fail("--bits: give at least one width");
  const auto runs = [&](int b) { return effective_width(hw.pe, b) != 0; };
  const auto act = [&](int w) { return o.abits ? o.abits : w; };
  for (int b : o.bits)
    if (b < kMinQuantBits || b > kMaxQuantBits)
      fail("--bits {}: widths must be in {}..{}", b, kMinQuantBits, kMaxQuantBits);
  if (o.abits && (o.abits < kMinQuantBits || o.abits > kMaxQuantBits))
    fail("--abits {}: must be in {}..{}", o.abits, kMinQuantBits, kMaxQuantBits);
  std::vector<int> bits = o.bits;
  std::sort(bits.begin(), bits.end());
  bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
  for (int b : bits)
    if (runs(b) && runs(act(b))) choices_.push_back({b, act(b)});
  if (choices_.empty())
    fail("{}: the PE runs none of the widths {} (pe.widths {})", hw.source.empty() ? hw.name : hw.source,
         fmt::join(bits, ","), fmt::join(hw.pe.widths, ","));
  if (!runs(8)) fail("{}: the PE cannot run 8 bits, the reference of the latency term", hw.source.empty() ? hw.name : hw.source);

  groups_ = fused_groups(g, hw.vector.fuse_elementwise);
  group_of_.assign(compute.size(), 0);
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (std::size_t l : groups_[gi].layers) group_of_[l] = gi;

  // Pins: a group's one option, and why.
  std::vector<std::optional<WidthOption>> pin(groups_.size());
  pinned_by_.assign(groups_.size(), "");
  const auto force = [&](std::size_t layer, WidthOption w, const std::string& why) {
    const std::size_t gi = group_of_[layer];
    if (pin[gi] && !(*pin[gi] == w))
      fail("{} pins layer '{}' to {}/{} bits, but {} pins its fused group to {}/{}", why, g.node(compute[layer]).name,
           w.wbits, w.abits, pinned_by_[gi], pin[gi]->wbits, pin[gi]->abits);
    pin[gi] = w;
    pinned_by_[gi] = why;
  };
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const Node& n = g.node(compute[i]);
    if (n.inputs.size() < 2 || n.inputs[1] < 0 || !g.value(n.inputs[1]).is_constant)
      force(i, {8, 8}, "a layer without constant weights");
  }
  if (o.keep_first_last) {
    force(0, {8, 8}, "keeping the first compute layer");
    force(compute.size() - 1, {8, 8}, "keeping the last compute layer");
  }
  std::map<std::string, std::size_t, std::less<>> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  for (const auto& [name, bits_k] : o.keep) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) fail("--keep {}={}: '{}' is not a compute layer of '{}' (see qsim info)", name, bits_k, name, g.name);
    if (bits_k < kMinQuantBits || bits_k > kMaxQuantBits)
      fail("--keep {}={}: width outside {}..{}", name, bits_k, kMinQuantBits, kMaxQuantBits);
    if (!runs(bits_k) || !runs(act(bits_k))) fail("--keep {}={}: the PE cannot run {} bits", name, bits_k, bits_k);
    const std::size_t gi = group_of_[it->second];
    if (pinned_by_[gi].starts_with("keeping the")) pin[gi].reset();  // a user's entry overrides the default
    force(it->second, {bits_k, act(bits_k)}, fmt::format("--keep {}={}", name, bits_k));
  }

  options_.resize(groups_.size());
  weight_kib_.resize(groups_.size());
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    if (pin[gi]) {
      options_[gi] = {*pin[gi]};
    } else {
      options_[gi] = choices_;
      pinned_by_[gi].clear();
      if (choices_.size() > 1) free_.push_back(static_cast<uint32_t>(gi));
    }
    for (const WidthOption& w : options_[gi]) {
      double kib = 0;
      for (std::size_t l : groups_[gi].layers) {
        const Node& n = g.node(compute[l]);
        if (n.inputs.size() < 2 || n.inputs[1] < 0 || !g.value(n.inputs[1]).is_constant) continue;
        kib += static_cast<double>(shape_numel(g.value(n.inputs[1]).shape)) * w.wbits / 8.0 / 1024.0;
      }
      weight_kib_[gi].push_back(kib);
    }
  }
}

std::vector<uint8_t> SearchProblem::reference() const {
  std::vector<uint8_t> r(groups_.size());
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) r[gi] = static_cast<uint8_t>(options_[gi].size() - 1);
  return r;
}

int SearchProblem::option_of(std::size_t g, int wbits) const {
  for (std::size_t o = 0; o < options_[g].size(); ++o)
    if (options_[g][o].wbits == wbits) return static_cast<int>(o);
  return -1;
}

std::vector<LayerPrecision> SearchProblem::precision(std::span<const uint8_t> option) const {
  std::vector<LayerPrecision> p(group_of_.size());
  for (std::size_t l = 0; l < p.size(); ++l) {
    const WidthOption& w = options_[group_of_[l]][option[group_of_[l]]];
    p[l] = {w.wbits, w.abits, o_.per_channel};
  }
  return p;
}

std::vector<LayerPrecision> SearchProblem::uniform(int wbits) const {
  return std::vector<LayerPrecision>(group_of_.size(), {wbits, o_.abits ? o_.abits : wbits, o_.per_channel});
}

std::vector<uint8_t> SearchProblem::options_of(std::span<const LayerPrecision> p) const {
  std::vector<uint8_t> r(groups_.size(), 0);
  std::vector<char> set(groups_.size(), 0);
  for (std::size_t l = 0; l < p.size() && l < group_of_.size(); ++l) {
    const std::size_t gi = group_of_[l];
    const auto it = std::find(options_[gi].begin(), options_[gi].end(), WidthOption{p[l].wbits, p[l].abits});
    if (it == options_[gi].end()) return {};
    const auto o = static_cast<uint8_t>(it - options_[gi].begin());
    if (set[gi] && r[gi] != o) return {};
    r[gi] = o;
    set[gi] = 1;
  }
  return p.size() == group_of_.size() ? r : std::vector<uint8_t>{};
}

std::string SearchProblem::widths_text(std::span<const LayerPrecision> p) {
  std::string s;
  for (std::size_t l = 0; l < p.size(); ++l) s += fmt::format("{}{}/{}", l ? " " : "", p[l].wbits, p[l].abits);
  return s;
}

}  // namespace qsim
