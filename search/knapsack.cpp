#include "search/knapsack.h"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

namespace qsim {

namespace {

// Orders DP state keys by an explicit loop: GCC 12 warns (-Wstringop-overread) on the
// memcmp that std::vector<uint8_t>'s operator< compiles to.
struct KeyLess {
  bool operator()(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) const {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return a[i] < b[i];
    return a.size() < b.size();
  }
};

struct StageNode {
  int64_t weight;
  double value;
  uint32_t prev;  // index into the previous stage's nodes
  uint8_t option;
};

// Keeps the Pareto front of `c` (weight ascending, value strictly descending), or
// only the least value in scalar mode.
void reduce(std::vector<StageNode>& c, bool pareto, std::size_t max_front, bool& exact) {
  if (!pareto) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < c.size(); ++i)
      if (c[i].value < c[best].value) best = i;
    c = {c[best]};
    return;
  }
  std::stable_sort(c.begin(), c.end(), [](const StageNode& a, const StageNode& b) {
    return a.weight != b.weight ? a.weight < b.weight : a.value < b.value;
  });
  std::vector<StageNode> front;
  double best = std::numeric_limits<double>::infinity();
  for (const StageNode& n : c)
    if (n.value < best) {
      front.push_back(n);
      best = n.value;
    }
  if (front.size() > max_front) {
    std::vector<StageNode> thin;
    const std::size_t n = front.size();
    for (std::size_t i = 0; i < max_front; ++i) thin.push_back(front[i * (n - 1) / (max_front - 1)]);
    front.swap(thin);
    exact = false;
  }
  c.swap(front);
}

}  // namespace

KnapsackResult multiple_choice_knapsack(std::span<const std::vector<KnapsackOption>> groups,
                                        std::span<const KnapsackFactor> factors, std::optional<int64_t> max_weight,
                                        std::size_t max_front) {
  const std::size_t n = groups.size();
  const bool pareto = max_weight.has_value();
  max_front = std::max<std::size_t>(max_front, 2);
  KnapsackResult out;

  // Factors charged at each stage (the last group of their scope); those with an
  // empty scope are charged at the start.
  std::vector<std::vector<std::size_t>> charged(n);
  KnapsackOption constant;
  for (std::size_t f = 0; f < factors.size(); ++f) {
    const auto& s = factors[f].scope;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] >= n || (i && s[i] <= s[i - 1])) throw std::logic_error("knapsack factor scope not ascending groups");
    if (s.empty()) {
      ++out.factor_evaluations;
      const KnapsackOption c = factors[f].cost({});
      if (!c.allowed) return out;
      constant.weight += c.weight;
      constant.value += c.value;
    } else {
      charged[s.back()].push_back(f);
    }
  }
  // Groups open after stage i: taken at or before i, needed by a factor charged after i.
  std::vector<std::vector<uint32_t>> open(n);
  {
    std::vector<std::size_t> last_need(n, 0);
    std::vector<char> needed(n, 0);
    for (const auto& f : factors)
      for (uint32_t g : f.scope)
        if (g != f.scope.back()) {
          needed[g] = 1;
          last_need[g] = std::max<std::size_t>(last_need[g], f.scope.back());
        }
    for (std::size_t i = 0; i < n; ++i)
      for (uint32_t g = 0; g <= i; ++g)
        if (needed[g] && last_need[g] > i) open[i].push_back(g);
  }

  std::vector<std::vector<StageNode>> stages;
  stages.reserve(n);
  // State: the options of the open groups (in open[i-1] order) -> the indices of its nodes.
  std::map<std::vector<uint8_t>, std::vector<uint32_t>, KeyLess> states;
  std::vector<StageNode> start{{constant.weight, constant.value, 0, 0}};
  states[{}] = {0};
  const std::vector<StageNode>* prev_nodes = &start;
  std::vector<uint32_t> prev_open;
  std::vector<uint8_t> assign(n, 0), scope_opts;
  // Each factor is evaluated once per combination of its scope's options (several DP
  // states can carry the same combination).
  std::vector<std::map<std::vector<uint8_t>, KnapsackOption, KeyLess>> factor_seen(factors.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::map<std::vector<uint8_t>, std::vector<StageNode>, KeyLess> next;
    for (const auto& [key, nodes] : states) {
      for (std::size_t k = 0; k < prev_open.size(); ++k) assign[prev_open[k]] = key[k];
      for (std::size_t o = 0; o < groups[i].size(); ++o) {
        const KnapsackOption& opt = groups[i][o];
        if (!opt.allowed) continue;
        assign[i] = static_cast<uint8_t>(o);
        int64_t w = opt.weight;
        double v = opt.value;
        bool ok = true;
        for (std::size_t f : charged[i]) {
          scope_opts.clear();
          for (uint32_t g : factors[f].scope) scope_opts.push_back(assign[g]);
          auto seen = factor_seen[f].find(scope_opts);
          if (seen == factor_seen[f].end()) {
            ++out.factor_evaluations;
            seen = factor_seen[f].emplace(scope_opts, factors[f].cost(scope_opts)).first;
          }
          const KnapsackOption c = seen->second;
          if (!c.allowed) {
            ok = false;
            break;
          }
          w += c.weight;
          v += c.value;
        }
        if (!ok) continue;
        std::vector<uint8_t> nkey;
        for (uint32_t g : open[i]) nkey.push_back(assign[g]);
        auto& bucket = next[nkey];
        for (uint32_t p : nodes) {
          const StageNode& pn = (*prev_nodes)[p];
          const int64_t tw = pn.weight + w;
          if (max_weight && tw > *max_weight) continue;
          bucket.push_back({tw, pn.value + v, p, static_cast<uint8_t>(o)});
        }
      }
    }
    std::vector<StageNode> flat;
    states.clear();
    for (auto& [key, cand] : next) {
      if (cand.empty()) continue;
      reduce(cand, pareto, max_front, out.exact);
      out.largest_front = std::max<int64_t>(out.largest_front, static_cast<int64_t>(cand.size()));
      auto& idx = states[key];
      for (const StageNode& c : cand) {
        idx.push_back(static_cast<uint32_t>(flat.size()));
        flat.push_back(c);
      }
    }
    out.largest_states = std::max<int64_t>(out.largest_states, static_cast<int64_t>(states.size()));
    stages.push_back(std::move(flat));
    prev_nodes = &stages.back();
    prev_open = open[i];
    if (states.empty()) return out;
  }
  // Every end state's nodes, reduced once more over all states.
  std::vector<StageNode> ends;
  std::vector<uint32_t> where;
  for (const auto& [key, nodes] : states)
    for (uint32_t p : nodes) ends.push_back((*prev_nodes)[p]), where.push_back(p);
  if (n == 0) {
    out.points.push_back({constant.weight, constant.value, {}});
    return out;
  }
  // Tag each end with its index so the reduction keeps track of it.
  std::vector<StageNode> tagged = ends;
  for (std::size_t k = 0; k < tagged.size(); ++k) tagged[k].prev = where[k];
  bool exact = out.exact;
  reduce(tagged, pareto, std::numeric_limits<std::size_t>::max(), exact);
  for (const StageNode& e : tagged) {
    KnapsackPoint pt;
    pt.weight = e.weight;
    pt.value = e.value;
    pt.choice.assign(n, 0);
    std::size_t idx = e.prev;
    for (std::size_t s = n; s-- > 0;) {
      const StageNode& nd = stages[s][idx];
      pt.choice[s] = nd.option;
      idx = nd.prev;
    }
    out.points.push_back(std::move(pt));
  }
  return out;
}

}  // namespace qsim
