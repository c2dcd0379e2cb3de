#include "search/allocate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/precision_plan.h"
#include "quant/quant_plan.h"

namespace qsim {

std::optional<Allocator> parse_allocator(std::string_view s) {
  if (s == "rank") return Allocator::kRank;
  if (s == "knapsack") return Allocator::kKnapsack;
  if (s == "greedy-measured") return Allocator::kGreedyMeasured;
  return std::nullopt;
}

std::string_view allocator_name(Allocator a) {
  switch (a) {
    case Allocator::kRank: return "rank";
    case Allocator::kKnapsack: return "knapsack";
    case Allocator::kGreedyMeasured: return "greedy-measured";
  }
  return "?";
}

Allocator allocator_or_fail(std::string_view s, std::string_view flag) {
  if (const auto a = parse_allocator(s)) return *a;
  fail("{} '{}': unknown allocator (did you mean {}?); allocators: rank, knapsack, greedy-measured", flag, s,
       closest_name(s, {"rank", "knapsack", "greedy-measured"}));
}

// ------------------------------------------------------------------ the problem

AllocationProblem::AllocationProblem(const LayerGraph& g, std::span<const char> scored, const AllocateOptions& o)
    : g_(g), o_(o) {
  const auto compute = g.compute_layers();
  if (compute.empty()) fail("model '{}' has no compute layers to allocate", g.name);
  for (int b : {o.high_bits, o.low_bits, o.abits})
    if (b != 0 && (b < kMinQuantBits || b > kMaxQuantBits))
      fail("width {} is outside {}..{}, the widths qsim quantizes", b, kMinQuantBits, kMaxQuantBits);
  if (o.high_bits <= o.low_bits) fail("the high width ({}) must exceed the low width ({})", o.high_bits, o.low_bits);
  if (o.latency_budget_ms && !o.hw) fail("a latency budget needs a hardware config (--hw)");
  if (scored.size() != compute.size()) throw std::logic_error("AllocationProblem: one flag per compute layer");

  groups_ = fused_groups(g, o.hw ? o.hw->vector.fuse_elementwise : true);
  if (o.hw) evaluator_.prepare(g, *o.hw);
  const std::size_t ng = groups_.size();
  group_of_.assign(compute.size(), 0);
  for (std::size_t gi = 0; gi < ng; ++gi)
    for (std::size_t l : groups_[gi].layers) group_of_[l] = gi;

  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  std::vector<int> forced(ng, 0);
  std::vector<std::string> forced_by(ng);
  auto force = [&](std::size_t layer, int bits, const std::string& why) {
    const std::size_t gi = group_of_[layer];
    if (forced[gi] && forced[gi] != bits)
      fail("{} forces layer '{}' to {} bits, but {} puts its fused group at {} bits", why, g.node(compute[layer]).name,
           bits, forced_by[gi], forced[gi]);
    forced[gi] = bits;
    forced_by[gi] = why;
  };
  for (std::size_t i = 0; i < compute.size(); ++i)
    if (!scored[i]) force(i, o.high_bits, "an unscored layer (no constant weights)");
  if (o.keep_first_last) {
    force(0, o.high_bits, "keeping the first compute layer");
    force(compute.size() - 1, o.high_bits, "keeping the last compute layer");
  }
  for (const auto& [name, bits] : o.keep) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) fail("--keep {}={}: '{}' is not a compute layer of '{}' (see qsim info)", name, bits, name, g.name);
    if (bits < kMinQuantBits || bits > kMaxQuantBits)
      fail("--keep {}={}: width outside {}..{}", name, bits, kMinQuantBits, kMaxQuantBits);
    // A user's entry overrides the first/last default.
    const std::size_t gi = group_of_[it->second];
    if (forced_by[gi].starts_with("keeping the")) forced[gi] = 0;
    force(it->second, bits, fmt::format("--keep {}={}", name, bits));
  }
  forced_.assign(ng, 0);
  initial_.assign(ng, o.low_bits);
  for (std::size_t gi = 0; gi < ng; ++gi)
    if (forced[gi]) {
      initial_[gi] = forced[gi];
      forced_[gi] = 1;
    }
  // The forced layers with every other group low must fit the budgets (a count below
  // the forced layers is not an error: nothing more is raised).
  if (o.size_budget_kib && weight_kib(initial_) > *o.size_budget_kib + 1e-9)
    fail("--size-budget-kib {}: the weights take {:.2f} KiB with every free group at {} bits", *o.size_budget_kib,
         weight_kib(initial_), o.low_bits);
  if (o.latency_budget_ms && latency_ms(initial_) > *o.latency_budget_ms)
    fail("--latency-budget-ms {}: the latency is {:.6f} ms with every free group at {} bits", *o.latency_budget_ms,
         latency_ms(initial_), o.low_bits);
}

std::vector<std::size_t> AllocationProblem::free_groups() const {
  std::vector<std::size_t> f;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    if (!forced_[gi]) f.push_back(gi);
  return f;
}

std::vector<LayerPrecision> AllocationProblem::precision(std::span<const int> gb) const {
  std::vector<LayerPrecision> p(group_of_.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    const int wb = gb[group_of_[i]];
    p[i] = {wb, o_.abits ? o_.abits : wb, o_.per_channel};
  }
  return p;
}

int64_t AllocationProblem::high_layers(std::span<const int> gb) const {
  int64_t n = 0;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    if (gb[gi] >= o_.high_bits) n += static_cast<int64_t>(groups_[gi].layers.size());
  return n;
}

double AllocationProblem::latency_ms(std::span<const int> gb) const {
  const auto p = precision(gb);
  const Evaluation e = evaluator_.evaluate(p);
  if (!e.ok()) fail("{}", evaluator_.error());
  return e.totals.latency_ms;
}

double AllocationProblem::weight_kib(std::span<const int> gb) const {
  const auto p = precision(gb);
  return weight_bytes(g_, p) / 1024.0;
}

bool AllocationProblem::fits(std::span<const int> gb) const {
  if (o_.high_count && high_layers(gb) > *o_.high_count) return false;
  if (o_.size_budget_kib && weight_kib(gb) > *o_.size_budget_kib + 1e-9) return false;
  if (o_.latency_budget_ms && latency_ms(gb) > *o_.latency_budget_ms) return false;
  return true;
}

double AllocationProblem::cost_of_raising(std::span<const int> gb, std::size_t group) const {
  std::vector<int> up(gb.begin(), gb.end());
  up[group] = o_.high_bits;
  if (o_.high_count || (!o_.size_budget_kib && !o_.latency_budget_ms))
    return static_cast<double>(groups_[group].layers.size());
  if (o_.size_budget_kib) return weight_kib(up) - weight_kib(gb);
  return latency_ms(up) - latency_ms(gb);
}

AllocateResult AllocationProblem::result(std::vector<int> gb, std::vector<std::size_t> raised) const {
  AllocateResult r;
  r.groups = groups_;
  r.forced = forced_;
  const auto p = precision(gb);
  r.alloc.model = g_.name;
  const auto compute = g_.compute_layers();
  for (std::size_t i = 0; i < compute.size(); ++i) r.alloc.set(g_.node(compute[i]).name, p[i]);
  r.high_layers = high_layers(gb);
  r.boundaries = static_cast<int>(plan_precision(g_, p).requants.size());
  r.weight_kib = weight_bytes(g_, p) / 1024.0;
  if (o_.hw) r.latency_ms = latency_ms(gb);
  r.group_bits = std::move(gb);
  r.raised = std::move(raised);
  return r;
}

// ------------------------------------------------------------------ knapsack

namespace {

// Multiple-choice knapsack: one option per item, total integer cost <= cap, most
// value. options[i][0] must cost 0. Returns the chosen option per item.
std::vector<std::size_t> solve_mckp(const std::vector<std::vector<std::pair<int64_t, double>>>& options, int64_t cap) {
  const std::size_t n = options.size();
  const auto width = static_cast<std::size_t>(std::max<int64_t>(cap, 0) + 1);
  const double none = -std::numeric_limits<double>::infinity();
  std::vector<double> best(width, 0.0), next(width);
  std::vector<std::vector<uint8_t>> pick(n, std::vector<uint8_t>(width, 0));
  for (std::size_t i = 0; i < n; ++i) {
    std::fill(next.begin(), next.end(), none);
    for (std::size_t c = 0; c < width; ++c)
      for (std::size_t k = 0; k < options[i].size(); ++k) {
        const int64_t cost = options[i][k].first;
        if (cost > static_cast<int64_t>(c) || best[c - static_cast<std::size_t>(cost)] == none) continue;
        const double v = best[c - static_cast<std::size_t>(cost)] + options[i][k].second;
        if (v > next[c]) {
          next[c] = v;
          pick[i][c] = static_cast<uint8_t>(k);
        }
      }
    best.swap(next);
  }
  std::size_t c = static_cast<std::size_t>(std::max_element(best.begin(), best.end()) - best.begin());
  std::vector<std::size_t> choice(n, 0);
  for (std::size_t i = n; i-- > 0;) {
    choice[i] = pick[i][c];
    c -= static_cast<std::size_t>(options[i][choice[i]].first);
  }
  return choice;
}

}  // namespace

AllocateResult allocate_knapsack(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o) {
  const auto compute = g.compute_layers();
  const int wl = sensitivity_low_width(g, s, o);
  const int wh = s.width_index(o.high_bits);
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  std::vector<char> scored(compute.size(), 0);
  std::vector<double> est_low(compute.size(), 0.0), est_high(compute.size(), 0.0);
  std::vector<int> s_group(compute.size(), -1);
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    const auto it = by_name.find(s.layers[l]);
    if (it == by_name.end())
      fail("{} (model '{}') names layer '{}', which is not a compute layer of '{}'", s.shown_name(), s.model,
           s.layers[l], g.name);
    const LayerSensitivity& row = s.at(static_cast<std::size_t>(wl), l);
    if (std::isnan(row.est_drop))
      fail("{} has no est_drop for layer '{}' (measure it again with this qsim); --allocator knapsack needs it",
           s.shown_name(), s.layers[l]);
    scored[it->second] = 1;
    est_low[it->second] = row.est_drop;
    if (wh >= 0 && !std::isnan(s.at(static_cast<std::size_t>(wh), l).est_drop))
      est_high[it->second] = s.at(static_cast<std::size_t>(wh), l).est_drop;
    s_group[it->second] = row.group;
  }
  const AllocationProblem prob(g, scored, o);
  const std::size_t ng = prob.groups().size();
  // Estimated drop of each group at each width: its members' groups in the table
  // (each counted once), or its largest member when the table has no groups.
  std::vector<double> g_low(ng, 0.0), g_high(ng, 0.0);
  for (std::size_t gi = 0; gi < ng; ++gi) {
    std::set<int> seen;
    for (std::size_t l : prob.groups()[gi].layers) {
      if (!scored[l]) continue;
      if (s_group[l] >= 0) {
        if (!seen.insert(s_group[l]).second) continue;
        g_low[gi] += est_low[l];
        g_high[gi] += est_high[l];
      } else {
        g_low[gi] = std::max(g_low[gi], est_low[l]);
        g_high[gi] = std::max(g_high[gi], est_high[l]);
      }
    }
  }
  std::vector<int> gb = prob.initial();
  const std::vector<std::size_t> free = prob.free_groups();
  // The budget in integer units: layers for a count; otherwise the remaining size or
  // latency in 4000 steps, costs rounded up (the solution fits).
  double cap_real = 0, unit = 1;
  std::vector<double> cost(free.size());
  for (std::size_t i = 0; i < free.size(); ++i) cost[i] = prob.cost_of_raising(gb, free[i]);
  if (o.high_count) {
    cap_real = static_cast<double>(*o.high_count - prob.high_layers(gb));
  } else if (o.size_budget_kib) {
    cap_real = *o.size_budget_kib - prob.weight_kib(gb);
    unit = std::max(cap_real, 1e-12) / 4000.0;
  } else if (o.latency_budget_ms) {
    cap_real = *o.latency_budget_ms - prob.latency_ms(gb);
    unit = std::max(cap_real, 1e-12) / 4000.0;
  } else {
    cap_real = 0;
    for (double c : cost) cap_real += c;
  }
  const auto cap = static_cast<int64_t>(std::floor(cap_real / unit + 1e-9));
  // Values: the estimated drop saved, never negative, plus a hair per unit of cost so
  // that the budget is used (raising costs nothing by the estimate).
  std::vector<std::vector<std::pair<int64_t, double>>> options(free.size());
  std::vector<double> value(free.size());
  for (std::size_t i = 0; i < free.size(); ++i) {
    value[i] = std::max(0.0, g_low[free[i]] - g_high[free[i]]);
    const auto c = static_cast<int64_t>(std::ceil(std::max(cost[i], 0.0) / unit - 1e-9));
    options[i] = {{0, 0.0}, {c, value[i] + 1e-9 * static_cast<double>(c)}};
  }
  const std::vector<std::size_t> choice = cap >= 0 ? solve_mckp(options, cap) : std::vector<std::size_t>(free.size(), 0);
  std::vector<std::size_t> raised;
  for (std::size_t i = 0; i < free.size(); ++i)
    if (choice[i] == 1) {
      gb[free[i]] = o.high_bits;
      raised.push_back(i);
    }
  // Exact check of every budget (latency is not additive): drop the raised groups of
  // least value per cost until it fits, then fill first-fit by value per cost.
  const auto ratio = [&](std::size_t i) { return value[i] / std::max(cost[i], 1e-12); };
  std::sort(raised.begin(), raised.end(), [&](std::size_t a, std::size_t b) { return ratio(a) > ratio(b); });
  while (!prob.fits(gb) && !raised.empty()) {
    gb[free[raised.back()]] = prob.initial()[free[raised.back()]];
    raised.pop_back();
  }
  std::vector<std::size_t> order(free.size());
  for (std::size_t i = 0; i < free.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ratio(a) > ratio(b); });
  for (std::size_t i : order) {
    if (gb[free[i]] == o.high_bits) continue;
    if (o.high_count && prob.high_layers(gb) >= *o.high_count) break;
    std::vector<int> trial = gb;
    trial[free[i]] = o.high_bits;
    if (prob.fits(trial)) {
      gb = std::move(trial);
      raised.push_back(i);
    }
  }
  std::vector<std::size_t> raised_groups;
  for (std::size_t i : raised) raised_groups.push_back(free[i]);
  double predicted = 0;
  for (std::size_t gi = 0; gi < ng; ++gi) predicted += gb[gi] >= o.high_bits ? g_high[gi] : g_low[gi];
  AllocateResult r = prob.result(std::move(gb), std::move(raised_groups));
  for (std::size_t gi = 0; gi < ng; ++gi) r.groups[gi].score = g_low[gi];
  for (std::size_t gi : r.raised) r.total_score += g_low[gi];
  r.allocator = "knapsack";
  r.est_drop = predicted;
  return r;
}

// ------------------------------------------------------------------ greedy-measured

namespace {

// One greedy pass of greedy-measured in one direction (search/allocate.h).
struct GreedyPass {
  std::vector<int> group_bits;
  std::vector<std::size_t> raised;
  std::vector<double> steps;  // the loss of the base, then after each step
};

GreedyPass greedy_pass(const AllocationProblem& prob, AllocationEvaluator& ev, bool labels, GreedyDirection dir) {
  const AllocateOptions& o = prob.options();
  const auto loss = [labels](const OutputScore& s) { return labels ? s.mean_ce() : s.mean_kl(); };
  const std::vector<std::size_t> free = prob.free_groups();
  GreedyPass p;
  std::vector<int>& gb = p.group_bits;
  gb = prob.initial();
  // One step: among the groups `movable` (at width `from`), the one whose move to `to`
  // changes the loss least per unit of budget (raising: most decrease per unit taken;
  // lowering: least increase per unit freed).
  const auto step = [&](int from, int to, bool need_fit, double current) -> std::optional<std::size_t> {
    std::vector<std::size_t> cands;
    std::vector<std::vector<LayerPrecision>> ps;
    for (std::size_t gi : free) {
      if (gb[gi] != from) continue;
      std::vector<int> trial = gb;
      trial[gi] = to;
      if (need_fit && !prob.fits(trial)) continue;
      cands.push_back(gi);
      ps.push_back(prob.precision(trial));
    }
    if (cands.empty()) return std::nullopt;
    const std::vector<OutputScore> sc = ev.evaluate_many(ps);
    std::size_t best = 0;
    double best_v = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < cands.size(); ++k) {
      const double c = std::max(to > from ? prob.cost_of_raising(gb, cands[k]) : [&] {
        std::vector<int> down = gb;
        down[cands[k]] = to;
        return prob.cost_of_raising(down, cands[k]);
      }(), 1e-12);
      const double v = (loss(sc[k]) - current) / c;  // raising: negative is good; lowering: small is good
      if (v < best_v) {
        best_v = v;
        best = k;
      }
    }
    return cands[best];
  };
  const auto raise_while_room = [&](double cur) {
    for (;;) {
      if (o.high_count && prob.high_layers(gb) >= *o.high_count) break;
      const auto pick = step(o.low_bits, o.high_bits, true, cur);
      if (!pick) break;
      gb[*pick] = o.high_bits;
      p.raised.push_back(*pick);
      cur = loss(ev.move_base(prob.precision(gb)));
      p.steps.push_back(cur);
    }
  };
  if (dir == GreedyDirection::kUp) {
    const double cur = loss(ev.set_base(prob.precision(gb)));
    p.steps.push_back(cur);
    raise_while_room(cur);
    return p;
  }
  for (std::size_t gi : free) gb[gi] = o.high_bits;
  double cur = loss(ev.set_base(prob.precision(gb)));
  p.steps.push_back(cur);
  while (!prob.fits(gb)) {
    const auto pick = step(o.high_bits, o.low_bits, false, cur);
    if (!pick) break;
    gb[*pick] = o.low_bits;
    cur = loss(ev.move_base(prob.precision(gb)));
    p.steps.push_back(cur);
  }
  // Room left (groups of several layers): fill it as going up would.
  raise_while_room(cur);
  p.raised.clear();
  for (std::size_t gi : free)
    if (gb[gi] == o.high_bits) p.raised.push_back(gi);
  return p;
}

}  // namespace

AllocateResult allocate_greedy_measured(const LayerGraph& g, AllocationEvaluator& ev, const AllocateOptions& o,
                                        const GreedyOptions& go) {
  const auto compute = g.compute_layers();
  std::vector<char> scored(compute.size());
  for (std::size_t i = 0; i < compute.size(); ++i) scored[i] = layer_weights(g, compute[i]).has_value();
  const AllocationProblem prob(g, scored, o);
  const EvalCost before = ev.cost();
  const bool labels = go.use_labels && ev.batches().labelled();

  // kBoth: both passes, the lower final loss kept (ties: the pass of fewer steps, up
  // without a count). The passes fail in opposite cases: going up from almost all low
  // cannot see groups that help only together (raising one alone raises the loss),
  // going down from all high cannot see errors that compound once most groups are low;
  // the loss of the whole allocation ranks the two results it has to choose between.
  std::vector<GreedyDirection> dirs;
  if (go.direction == GreedyDirection::kUp || go.direction == GreedyDirection::kDown) {
    dirs.push_back(go.direction);
  } else {
    GreedyDirection fewer = GreedyDirection::kUp;
    if (o.high_count && !o.size_budget_kib && !o.latency_budget_ms) {
      int64_t free_layers = 0;
      for (std::size_t gi : prob.free_groups()) free_layers += static_cast<int64_t>(prob.groups()[gi].layers.size());
      const int64_t up = std::max<int64_t>(*o.high_count - prob.high_layers(prob.initial()), 0);
      if (free_layers - up < up) fewer = GreedyDirection::kDown;
    }
    dirs.push_back(fewer);
    if (go.direction == GreedyDirection::kBoth)
      dirs.push_back(fewer == GreedyDirection::kUp ? GreedyDirection::kDown : GreedyDirection::kUp);
  }
  std::optional<GreedyPass> best;
  GreedyDirection best_dir = dirs.front();
  std::vector<std::pair<std::string, double>> direction_loss;
  for (GreedyDirection d : dirs) {
    GreedyPass p = greedy_pass(prob, ev, labels, d);
    const double final_loss = p.steps.back();
    direction_loss.emplace_back(d == GreedyDirection::kUp ? "up" : "down", final_loss);
    // NaN (a loss that cannot be computed) never wins over a number.
    if (!best || final_loss < best->steps.back() || (std::isnan(best->steps.back()) && !std::isnan(final_loss))) {
      best = std::move(p);
      best_dir = d;
    }
  }
  AllocateResult r = prob.result(std::move(best->group_bits), std::move(best->raised));
  r.direction_loss = std::move(direction_loss);
  r.allocator = "greedy-measured";
  r.direction = best_dir == GreedyDirection::kUp ? "up" : "down";
  r.step_loss = std::move(best->steps);
  const EvalCost after = ev.cost();
  r.eval_cost.evaluations = after.evaluations - before.evaluations;
  r.eval_cost.runs = after.runs - before.runs;
  r.eval_cost.pass_equivalents = after.pass_equivalents - before.pass_equivalents;
  r.eval_cost.seconds = after.seconds - before.seconds;
  r.evaluations = r.eval_cost.evaluations;
  return r;
}

}  // namespace qsim
