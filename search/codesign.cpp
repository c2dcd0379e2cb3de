#include "search/codesign.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "graph/error.h"
#include "runtime/thread_pool.h"
#include "search/optimum.h"
#include "search/quantune.h"
#include "search/ridge.h"
#include "sim/analytical/analytical_evaluator.h"

namespace qsim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What every chain reads. The corrected estimate changes only between segments,
// when no chain runs.
struct Context {
  const SearchProblem& p;
  const DropTable& drops;
  const ObjectiveSpec& obj;
  const SearchSpaceSpec* space;
  const HwConfig& base;
  SpaceShape shape;
  std::vector<std::vector<uint32_t>> layers;  // per group
  double ref_check = 0;
  // The corrected estimate [group][option]: max(0, drop + delta); `version` counts
  // the refits, so what was built on an older one is rebuilt.
  std::vector<std::vector<double>> est;
  std::vector<std::vector<double>> delta;
  int version = 0;
  std::size_t hw_cache = 64;

  double estimate(std::span<const uint8_t> option) const {
    double e = 0;
    for (std::size_t g = 0; g < est.size(); ++g) e += est[g][option[g]];
    return e;
  }
};

// The figures of one state on one hardware point.
struct Figures {
  double est = 0;  // E: the corrected estimate of the drop, points
  int64_t cycles = 0, cycles8 = 0;
  double latency_ms = 0, latency8_ms = 0, energy_uj = 0, weight_kib = 0, hw_excess = 0;
};

// f with `drop` (points) as the accuracy term: E for the estimate, the measured drop
// for a checked state. Constraint violations add penalty * (1 + relative excess).
double objective(const Context& c, const Figures& x, double drop, bool* feasible = nullptr) {
  const ObjectiveSpec& o = c.obj;
  double f = drop + o.lambda * static_cast<double>(x.cycles) / static_cast<double>(x.cycles8);
  double v = x.hw_excess;
  const SearchConstraints& l = o.limits;
  if (l.latency_ms && x.latency_ms > *l.latency_ms) v += (x.latency_ms - *l.latency_ms) / *l.latency_ms;
  if (l.size_kib && x.weight_kib > *l.size_kib * (1 + 1e-12)) v += (x.weight_kib - *l.size_kib) / *l.size_kib;
  if (l.energy_uj && x.energy_uj > *l.energy_uj) v += (x.energy_uj - *l.energy_uj) / *l.energy_uj;
  if (l.max_drop && drop > *l.max_drop) v += (drop - *l.max_drop) / std::max(*l.max_drop, 1.0);
  if (l.min_top1 && c.ref_check - drop < *l.min_top1)
    v += (*l.min_top1 - (c.ref_check - drop)) / std::max(*l.min_top1, 1.0);
  if (feasible) *feasible = v <= 0;
  if (v > 0) f += o.penalty * (1 + v);
  return f;
}

// ---------------------------------------------------------------- hardware points

// The starting hardware point: the space's point nearest the --hw config as stated
// (empty when the hardware is fixed).
std::vector<uint16_t> start_point(const Context& c) {
  return c.space ? nearest_point(*c.space, finish_hw_spec(c.base)) : std::vector<uint16_t>{};
}

struct HwPoint {
  std::vector<uint16_t> index;
  HwSpec hw;
  AnalyticalEvaluator ev;
  bool prepared = false;  // the evaluator was prepared and the all-8 reference timed (one evaluation)
  bool valid = false;
  std::string why;
  double excess = 0;
  int64_t cycles8 = 0;
  double latency8_ms = 0;
  std::vector<std::vector<int64_t>> group_cycles;  // [group][option]: its compute steps; -1 cannot run (amed only)
  IndependenceTable table;                         // the amed proposal's, at (table_version, table_t)
  int table_version = -1;
  double table_t = kNaN;
  uint64_t last_used = 0;
};

// A hardware point. Its budgets read the HwSpec alone (no model); the evaluator is
// prepared and the all-8 reference timed only when the point is within the budgets
// or `over_budget_too` (a chain that starts outside walks in through such points).
std::unique_ptr<HwPoint> make_point(const Context& c, const std::vector<uint16_t>& idx, bool over_budget_too = true) {
  auto pt = std::make_unique<HwPoint>();
  pt->index = idx;
  try {
    pt->hw = c.space ? hw_point(c.base, *c.space, idx) : finish_hw_spec(c.base);
    pt->excess = c.space ? budget_excess(*c.space, pt->hw) : 0;
    if (pt->excess > 0 && !over_budget_too) {
      pt->why = "over the budgets";
      return pt;
    }
    pt->prepared = true;
    pt->ev.prepare(c.p.graph(), pt->hw);
    const std::vector<LayerPrecision> all8(c.p.layers(), {8, 8, c.p.options().per_channel});
    const Evaluation e = pt->ev.evaluate(all8);
    if (!e.ok()) {
      pt->why = std::string(pt->ev.error());
      return pt;
    }
    pt->cycles8 = e.totals.total_cycles;
    pt->latency8_ms = e.totals.latency_ms;
    pt->valid = pt->cycles8 > 0;
    if (!pt->valid) pt->why = "the model takes no cycles";
  } catch (const Error& e) {
    pt->why = e.what();
  }
  return pt;
}

// The groups' compute-step cycles per option at a valid point (the amed proposal's
// scores); returns the number of step timings it took (0 when already known).
int64_t time_group_options(const Context& c, HwPoint& pt) {
  if (!pt.group_cycles.empty()) return 0;
  int64_t timings = 0;
  pt.group_cycles.resize(c.p.groups());
  for (std::size_t g = 0; g < c.p.groups(); ++g)
    for (const WidthOption& w : c.p.options(g)) {
      int64_t sum = 0;
      for (uint32_t l : c.layers[g]) {
        ++timings;
        const auto cy = pt.ev.compute_step_cycles(l, w.wbits, w.abits);
        if (!cy) {
          sum = -1;
          break;
        }
        sum += *cy;
      }
      pt.group_cycles[g].push_back(sum);
    }
  return timings;
}

// The prepared points of one chain; the least recently used is dropped beyond the cap.
class PointCache {
 public:
  HwPoint* get(const Context& c, const std::vector<uint16_t>& idx, const HwPoint* keep, bool over_budget_too = true) {
    ++clock_;
    auto it = map_.find(idx);
    if (it != map_.end() && !it->second->prepared && over_budget_too) {  // known over budget, now needed
      map_.erase(it);
      it = map_.end();
    }
    if (it == map_.end()) {
      if (map_.size() >= std::max<std::size_t>(c.hw_cache, 2)) {
        auto victim = map_.end();
        for (auto j = map_.begin(); j != map_.end(); ++j)
          if (j->second.get() != keep && (victim == map_.end() || j->second->last_used < victim->second->last_used))
            victim = j;
        if (victim != map_.end()) map_.erase(victim);
      }
      it = map_.emplace(idx, make_point(c, idx, over_budget_too)).first;
      if (it->second->prepared) ++prepared_;
    }
    it->second->last_used = clock_;
    return it->second.get();
  }
  int64_t prepared() const { return prepared_; }

 private:
  std::map<std::vector<uint16_t>, std::unique_ptr<HwPoint>> map_;
  uint64_t clock_ = 0;
  int64_t prepared_ = 0;
};

// AMED's independence proposal at a hardware point: p_g(o) ~ exp(score / T) with
// score = -(E_g(o) + lambda * cycles_g(o) / cycles8), the group's own terms of f.
void build_table(const Context& c, HwPoint& pt, double t) {
  if (pt.table_version == c.version && pt.table_t == t) return;
  std::vector<std::vector<double>> scores(c.p.groups());
  for (std::size_t g = 0; g < c.p.groups(); ++g)
    for (std::size_t o = 0; o < c.p.options(g).size(); ++o) {
      const int64_t cy = pt.group_cycles[g][o];
      scores[g].push_back(cy < 0 ? -kInf
                                 : -(c.est[g][o] +
                                     c.obj.lambda * static_cast<double>(cy) / static_cast<double>(pt.cycles8)));
    }
  pt.table.build(scores, t);
  pt.table_version = c.version;
  pt.table_t = t;
}

// ---------------------------------------------------------------- archives

struct Entry {
  SearchState state;
  Figures f;
};

// The Pareto front of visited states in (E, y), both minimised: y is the latency
// (as a ratio to 8 bits) or the energy. The state minimising f under any constraint
// on E is on the latency front, since f grows with both.
class Archive {
 public:
  explicit Archive(bool energy) : energy_(energy) {}
  double y(const Figures& f) const {
    return energy_ ? f.energy_uj : static_cast<double>(f.cycles) / static_cast<double>(f.cycles8);
  }
  bool dominated(const Figures& f) const {
    const double yy = y(f);
    const auto it = upper(f.est);
    return it != e_.begin() && y(std::prev(it)->f) <= yy;
  }
  void insert(const SearchState& s, const Figures& f) {
    if (dominated(f)) return;
    const double yy = y(f);
    auto it = upper(f.est);
    if (it != e_.begin() && std::prev(it)->f.est == f.est) it = e_.erase(std::prev(it));
    auto end = it;
    while (end != e_.end() && y(end->f) >= yy) ++end;
    it = e_.erase(it, end);
    e_.insert(it, Entry{s, f});
  }
  // The estimate changed: every entry's E again, the front rebuilt.
  void rekey(const Context& c) {
    std::vector<Entry> old;
    old.swap(e_);
    for (Entry& e : old) {
      e.f.est = c.estimate(e.state.option);
      insert(e.state, e.f);
    }
  }
  const std::vector<Entry>& entries() const { return e_; }

 private:
  std::vector<Entry>::iterator upper(double x) {
    return std::upper_bound(e_.begin(), e_.end(), x, [](double v, const Entry& a) { return v < a.f.est; });
  }
  std::vector<Entry>::const_iterator upper(double x) const {
    return std::upper_bound(e_.begin(), e_.end(), x, [](double v, const Entry& a) { return v < a.f.est; });
  }
  bool energy_;
  std::vector<Entry> e_;  // ascending E, strictly descending y
};

// ---------------------------------------------------------------- one chain

// What the model answered for one state (docs/search.md section 5, "evaluations"):
// its figures apart from the estimate, which changes at the checks.
struct Visit {
  bool valid = false;
  int64_t cycles = 0, cycles8 = 0;
  double latency_ms = 0, latency8_ms = 0, energy_uj = 0, hw_excess = 0;
  int64_t evaluation = 0;  // the chain's evaluation count once it was evaluated (1-based)
  int64_t step = 0;        // the chain step that proposed it (0: the start)
  bool accepted = false;   // the chain stood on it (its start, or a kept move)
};

struct StateHash {
  std::size_t operator()(const SearchState& s) const {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the options, then the hardware indices
    for (uint8_t o : s.option) h = (h ^ o) * 0x100000001b3ULL;
    for (uint16_t v : s.hw) h = (h ^ (v + 0x100u)) * 0x100000001b3ULL;
    return static_cast<std::size_t>(h);
  }
};

// Where a chain or a run first evaluated a state whose objective (by the final
// estimate) is at most a target.
struct Reach {
  int64_t step = -1;         // -1: never
  int64_t evaluation = -1;   // the chain's own count at that state / the run's (every chain up to `step`)
};

class Chain {
 public:
  Chain(const Context& c, std::unique_ptr<SearchAlgorithm> alg, Rng rng, bool amed)
      : c_(c), alg_(std::move(alg)), rng_(rng), amed_(amed), lat_(false), energy_(true) {}

  void start(const std::vector<uint16_t>& hw0) {
    version_ = c_.version;
    s_.option = c_.p.reference();
    s_.hw = hw0;
    prec_ = c_.p.precision(s_.option);
    cur_ = cache_.get(c_, s_.hw, nullptr);  // the start is evaluated even outside the budgets
    note_reference(*cur_);
    double cost = kInf;
    if (cur_->valid) {
      Visit& v = visit(*cur_, s_, [&] { return cur_->ev.evaluate(prec_).ok(); });
      if (v.valid) {
        const Figures f = figures(v, s_);
        cost = objective(c_, f, f.est);
        stand_on(v, f);
      }
    }
    alg_->start(cost);
    evals_at_.assign(1, evals_);
  }

  void run(int64_t steps, std::atomic<int64_t>& done, std::atomic<int64_t>& kept) {
    if (version_ != c_.version) {  // the estimate was corrected: re-cost the current state, rebuild the archives
      version_ = c_.version;
      rebuild_archives();
      const auto it = visits_.find(s_);
      if (it != visits_.end() && it->second.valid && std::isfinite(alg_->current_cost())) {
        const Figures f = figures(it->second, s_);
        alg_->start(objective(c_, f, f.est));
      }
    }
    for (int64_t k = 0; k < steps; ++k) {
      ++step_;
      const IndependenceTable* table = nullptr;
      if (amed_ && cur_->valid) {
        evals_ += time_group_options(c_, *cur_);
        build_table(c_, *cur_, alg_->temperature());
        table = &cur_->table;
      }
      const Move& m = alg_->next(s_, table, rng_);
      next_ = s_;
      apply_move(next_, m);
      HwPoint* np = cur_;
      Visit* v = nullptr;
      bool ev_moved = false;  // cur_'s evaluator holds next_'s widths (a width move evaluated now)
      if (!m.hw.empty()) {
        // A point over the budgets is rejected before any evaluation, unless the
        // chain is itself outside them (it started there and walks in).
        np = cache_.get(c_, next_.hw, cur_, cur_->excess > 0);
        if (!np->prepared) {
          ++over_budget_;
        } else {
          note_reference(*np);
          if (np->valid) v = &visit(*np, next_, [&] { return np->ev.evaluate(prec_).ok(); });
        }
      } else if (cur_->valid) {
        v = &visit(*cur_, next_, [&] {
          ev_moved = true;
          return set_options(*cur_, m.options);
        });
      }
      const bool valid = v && v->valid;
      double cost = kInf;
      Figures f;
      if (valid) {
        f = figures(*v, next_);
        cost = objective(c_, f, f.est);
      } else {
        ++invalid_;
      }
      const bool keep = alg_->report(valid, cost, rng_);
      if (keep) {
        for (const auto& [g, o] : m.options) {
          const WidthOption w = c_.p.options(g)[o];
          for (uint32_t l : c_.layers[g]) prec_[l] = {w.wbits, w.abits, c_.p.options().per_channel};
        }
        // A state answered from the memo: the incremental evaluator follows the chain
        // (its figures are known, so this is no new evaluation).
        if (!m.hw.empty() && !fresh_)
          (void)np->ev.evaluate(prec_);
        else if (m.hw.empty() && !ev_moved)
          set_options(*cur_, m.options);
        std::swap(s_, next_);
        cur_ = np;
        stand_on(*v, f);
        kept.fetch_add(1, std::memory_order_relaxed);
      } else if (ev_moved) {
        revert_.clear();
        for (const auto& [g, o] : m.options) revert_.emplace_back(g, s_.option[g]);
        set_options(*cur_, revert_);
      }
      evals_at_.push_back(evals_);
      done.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // The first state this chain evaluated whose objective under the current estimate
  // is at most `target` (ties: a relative 1e-12).
  Reach first_reach(double target) const {
    Reach r;
    const double tol = 1e-12 * std::max(1.0, std::abs(target));
    for (const auto& [s, v] : visits_) {
      if (!v.valid || (r.evaluation >= 0 && v.evaluation >= r.evaluation)) continue;
      const Figures f = figures(v, s);
      bool feasible = false;
      const double cost = objective(c_, f, f.est, &feasible);
      if (feasible && cost <= target + tol) r = {v.step, v.evaluation};
    }
    return r;
  }
  // The chain's evaluations after `step` steps (0: the start).
  int64_t evaluations_at(int64_t step) const {
    const int64_t last = static_cast<int64_t>(evals_at_.size()) - 1;
    return evals_at_[static_cast<std::size_t>(std::clamp<int64_t>(step, 0, last))];
  }

  const Archive& latency_front() const { return lat_; }
  const Archive& energy_front() const { return energy_; }
  ChainStats stats() const { return {alg_->steps(), alg_->accepted(), alg_->current_cost()}; }
  int64_t invalid() const { return invalid_; }
  int64_t prepared() const { return cache_.prepared(); }
  int64_t evaluations() const { return evals_; }
  int64_t states() const { return static_cast<int64_t>(visits_.size()); }
  int64_t references() const { return static_cast<int64_t>(referenced_.size()); }
  int64_t revisits() const { return revisits_; }
  int64_t over_budget() const { return over_budget_; }

 private:
  bool set_options(HwPoint& pt, const std::vector<std::pair<uint32_t, uint8_t>>& changes) {
    bool ok = true;
    for (const auto& [g, o] : changes) {
      const WidthOption w = c_.p.options(g)[o];
      for (uint32_t l : c_.layers[g]) ok = pt.ev.update(l, w.wbits, w.abits).ok() && ok;
    }
    return ok;
  }

  // The first preparation of a hardware point times its all-8 reference: one
  // evaluation (a point dropped from the cache and prepared again is not counted:
  // its reference is known).
  void note_reference(const HwPoint& pt) {
    if (pt.prepared && referenced_.insert(pt.index).second) ++evals_;
  }

  // The state's figures: from the memo when this chain evaluated it before (no new
  // evaluation), else `evaluate` runs the model on `pt` (one evaluation).
  template <class F>
  Visit& visit(const HwPoint& pt, const SearchState& s, F&& evaluate) {
    auto [it, fresh] = visits_.try_emplace(s);
    fresh_ = fresh;
    Visit& v = it->second;
    if (!fresh) {
      ++revisits_;
      return v;
    }
    v.evaluation = ++evals_;
    v.step = step_;
    v.valid = evaluate();
    if (v.valid) {
      const EvalTotals& t = pt.ev.totals();
      v.cycles = t.total_cycles;
      v.latency_ms = t.latency_ms;
      v.energy_uj = t.energy_uj();
      v.cycles8 = pt.cycles8;
      v.latency8_ms = pt.latency8_ms;
      v.hw_excess = pt.excess;
    }
    return v;
  }

  Figures figures(const Visit& v, const SearchState& s) const {
    Figures f;
    f.est = c_.estimate(s.option);
    for (std::size_t g = 0; g < c_.p.groups(); ++g) f.weight_kib += c_.p.weight_kib(g, s.option[g]);
    f.cycles = v.cycles;
    f.latency_ms = v.latency_ms;
    f.energy_uj = v.energy_uj;
    f.cycles8 = v.cycles8;
    f.latency8_ms = v.latency8_ms;
    f.hw_excess = v.hw_excess;
    return f;
  }

  // The chain now stands on s_ (its start, or a kept move), visited as v with figures f.
  void stand_on(Visit& v, const Figures& f) {
    v.accepted = true;
    record(s_, f);
  }
  // Every state the chain stood on that meets the constraints not depending on the
  // estimate enters the archives; the accuracy limits are judged when an archive is read.
  void record(const SearchState& s, const Figures& f) {
    const SearchConstraints& l = c_.obj.limits;
    if (f.hw_excess > 0) return;
    if (l.latency_ms && f.latency_ms > *l.latency_ms) return;
    if (l.size_kib && f.weight_kib > *l.size_kib * (1 + 1e-12)) return;
    if (l.energy_uj && f.energy_uj > *l.energy_uj) return;
    lat_.insert(s, f);
    energy_.insert(s, f);
  }
  // The archives again from every state the chain stood on, under the current estimate,
  // in evaluation order (deterministic). Re-keying the old fronts alone would lose a
  // state that was dominated under the old estimate but leads under the new one -- such
  // as the state the chain stands on, which it then never records again.
  void rebuild_archives() {
    std::vector<std::pair<int64_t, const std::pair<const SearchState, Visit>*>> order;
    for (const auto& e : visits_)
      if (e.second.valid && e.second.accepted) order.emplace_back(e.second.evaluation, &e);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    lat_ = Archive(false);
    energy_ = Archive(true);
    for (const auto& [ev, e] : order) record(e->first, figures(e->second, e->first));
  }

  const Context& c_;
  std::unique_ptr<SearchAlgorithm> alg_;
  Rng rng_;
  bool amed_;
  int version_ = 0;
  PointCache cache_;
  HwPoint* cur_ = nullptr;
  SearchState s_, next_;
  std::vector<LayerPrecision> prec_;
  std::vector<std::pair<uint32_t, uint8_t>> revert_;
  Archive lat_, energy_;
  int64_t invalid_ = 0;
  // Evaluations (docs/search.md section 5): every state this chain evaluated, with its
  // figures; the hardware points whose reference it timed; the count after each step.
  std::unordered_map<SearchState, Visit, StateHash> visits_;
  std::set<std::vector<uint16_t>> referenced_;
  std::vector<int64_t> evals_at_;
  int64_t evals_ = 0, revisits_ = 0, over_budget_ = 0, step_ = 0;
  bool fresh_ = false;
};

// ---------------------------------------------------------------- a run of chains

struct Checked {
  Figures f;
  double top1 = 0;
};

struct RunResult {
  Archive lat{false}, energy{true};
  std::map<SearchState, Checked> checked;
  std::vector<SearchState> check_order;
  std::vector<CorrectionStep> corrections;
  std::vector<ChainStats> chains;
  int64_t steps = 0, accepted = 0, checks = 0, invalid = 0, prepared = 0;
  EvaluationCount evaluations;
  double seconds = 0;
  std::vector<std::unique_ptr<Chain>> runs;  // kept for first_reach (their evaluated states)
};

// Where the run first reached `target`: the earliest step at which some chain
// evaluated such a state, and every chain's evaluations up to that step (the chains
// run side by side); per chain, its own first step and evaluation count.
ReachReport reach(const RunResult& r, double target) {
  ReachReport out;
  out.objective = target;
  for (const auto& ch : r.runs) {
    const Reach x = ch->first_reach(target);
    out.chain_steps.push_back(x.step);
    out.chain_evaluations.push_back(x.evaluation);
    if (x.step >= 0 && (out.step < 0 || x.step < out.step)) out.step = x.step;
  }
  if (out.step >= 0) {
    out.evaluations = 0;
    for (const auto& ch : r.runs) out.evaluations += ch->evaluations_at(out.step);
  }
  return out;
}

struct Monitor {
  std::atomic<int64_t> done{0}, kept{0};
  std::atomic<int64_t> total{0};
  std::atomic<bool> stop{false};
  std::mutex m;
  std::string phase;
  std::chrono::steady_clock::time_point phase_start = std::chrono::steady_clock::now();
  double best = kNaN;
};

// The correction (docs/search.md section 3): with x_s the indicator of the free
// groups' non-reference options in checked state s and r_s = measured drop -
// table estimate, delta minimises sum_s (r_s - x_s . delta)^2 + ridge |delta|^2
// (a Gaussian prior around the table), solved in its dual form,
// delta = X^T (X X^T + ridge I)^-1 r: per check, a few tens of states.
void refit_estimate(Context& c, const std::map<SearchState, Checked>& checked, double ridge, CorrectionStep& step) {
  std::vector<std::pair<uint32_t, uint8_t>> features;  // (group, option) -> column
  std::map<std::pair<uint32_t, uint8_t>, std::size_t> col;
  const auto ref = c.p.reference();
  for (const auto& [s, ch] : checked)
    for (uint32_t g : c.p.free_groups())
      if (s.option[g] != ref[g] && col.emplace(std::make_pair(g, s.option[g]), features.size()).second)
        features.emplace_back(g, s.option[g]);
  const std::size_t n = checked.size(), m = features.size();
  std::vector<double> x(n * m, 0.0), r(n, 0.0);
  std::size_t i = 0;
  double raw2 = 0;
  for (const auto& [s, ch] : checked) {
    double table = 0;
    for (std::size_t g = 0; g < c.p.groups(); ++g) table += c.drops.drop[g][s.option[g]];
    r[i] = (c.ref_check - ch.top1) - table;
    raw2 += r[i] * r[i];
    for (uint32_t g : c.p.free_groups())
      if (s.option[g] != ref[g]) x[i * m + col.at({g, s.option[g]})] = 1.0;
    ++i;
  }
  for (auto& row : c.delta) std::fill(row.begin(), row.end(), 0.0);
  if (n > 0 && m > 0) {
    const std::vector<double> d = ridge_dual(x, n, m, r, ridge);
    for (std::size_t f = 0; f < m; ++f) c.delta[features[f].first][features[f].second] = d[f];
  }
  for (std::size_t g = 0; g < c.p.groups(); ++g)
    for (std::size_t o = 0; o < c.est[g].size(); ++o) c.est[g][o] = std::max(0.0, c.drops.drop[g][o] + c.delta[g][o]);
  ++c.version;
  double cor2 = 0;
  for (const auto& [s, ch] : checked) {
    const double e = (c.ref_check - ch.top1) - c.estimate(s.option);
    cor2 += e * e;
  }
  step.states = n;
  step.rms_raw = n ? std::sqrt(raw2 / static_cast<double>(n)) : 0.0;
  step.rms_corrected = n ? std::sqrt(cor2 / static_cast<double>(n)) : 0.0;
}

// Checks the best unchecked states of the merged latency front (by f, accuracy
// limits included) with the true accuracy on the held-out samples, then refits
// unless `refit` is false (in the second anneal and after the last segment: the
// chains' final estimate stays the one they ran under, so their gap to the optimum
// of that estimate is meaningful).
void check_and_refit(Context& c, RunResult& r, AllocationAccuracy& check, int top, double ridge, bool refit = true) {
  std::vector<std::pair<double, const Entry*>> ranked;
  for (const Entry& e : r.lat.entries()) ranked.emplace_back(objective(c, e.f, e.f.est), &e);
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  int picked = 0;
  for (const auto& [f, e] : ranked) {
    if (picked >= top) break;
    if (r.checked.count(e->state)) continue;
    const double t1 = check.top1(c.p.precision(e->state.option));
    r.checked.emplace(e->state, Checked{e->f, t1});
    r.check_order.push_back(e->state);
    ++picked;
  }
  ++r.checks;
  if (!refit) return;
  CorrectionStep step;
  refit_estimate(c, r.checked, ridge, step);
  r.corrections.push_back(step);
}

// `check` null: the estimate alone, never checked nor corrected (bench/search_bench).
RunResult run_chains(Context& c, const SearchOptions& o, bool random, AllocationAccuracy* check, Monitor& mon,
                     ThreadPool& pool) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  const std::vector<uint16_t> hw0 = start_point(c);
  std::vector<std::unique_ptr<Chain>> chains;
  // Two anneals (docs/search.md section 3): the checks refit the estimate during the
  // first half of the run (rounded down to whole segments); from there the chains anneal
  // again, on the final estimate, and the later checks serve the choice only. (With one
  // anneal throughout, a late refit can move the optimum while the chains are cold.)
  const int64_t k = std::max<int64_t>(1, o.check_every);
  const int64_t refit_until = check ? (o.steps / 2 / k) * k : 0;
  const TemperatureSchedule sched{o.t_start, o.t_end, o.steps, o.stage, refit_until};
  for (int i = 0; i < o.chains; ++i) {
    std::unique_ptr<SearchAlgorithm> alg;
    if (random)
      alg = std::make_unique<RandomSearch>(c.shape);
    else
      alg = std::make_unique<MetropolisHastings>(c.shape, o.proposal, sched);
    // Streams: chain i of the search is stream i, of the random baseline 2^32 + i.
    const uint64_t stream = (random ? (uint64_t{1} << 32) : 0) + static_cast<uint64_t>(i);
    chains.push_back(std::make_unique<Chain>(c, std::move(alg), Rng::stream(o.seed, stream),
                                             !random && o.proposal == ProposalKind::kAmed));
  }
  pool.parallel_for(static_cast<int64_t>(chains.size()),
                    [&](int64_t i, int) { chains[static_cast<std::size_t>(i)]->start(hw0); });
  const auto merge = [&] {
    // In chain order: the result does not depend on which thread ran which chain.
    r.lat = Archive(false);
    for (const auto& ch : chains)
      for (const Entry& e : ch->latency_front().entries()) r.lat.insert(e.state, e.f);
  };
  for (int64_t done = 0; done < o.steps;) {
    const int64_t n = std::min(k, o.steps - done);
    pool.parallel_for(static_cast<int64_t>(chains.size()),
                      [&](int64_t i, int) { chains[static_cast<std::size_t>(i)]->run(n, mon.done, mon.kept); });
    done += n;
    merge();
    if (check)
      check_and_refit(c, r, *check, o.check_top, o.ridge, done < o.steps && (refit_until == 0 || done <= refit_until));
    r.lat.rekey(c);
    double best = kInf;
    for (const Entry& e : r.lat.entries()) best = std::min(best, objective(c, e.f, e.f.est));
    std::lock_guard lock(mon.m);
    mon.best = best;
  }
  if (o.steps <= 0) {
    merge();
    if (check) check_and_refit(c, r, *check, o.check_top, o.ridge, false);
    r.lat.rekey(c);
  }
  for (const auto& ch : chains) {
    r.evaluations.total += ch->evaluations();
    r.evaluations.states += ch->states();
    r.evaluations.references += ch->references();
    r.evaluations.revisits += ch->revisits();
    r.evaluations.over_budget += ch->over_budget();
    for (const Entry& e : ch->energy_front().entries()) {
      Figures f = e.f;
      f.est = c.estimate(e.state.option);
      r.energy.insert(e.state, f);
    }
    r.chains.push_back(ch->stats());
    r.steps += ch->stats().steps;
    r.accepted += ch->stats().accepted;
    r.invalid += ch->invalid();
    r.prepared += ch->prepared();
  }
  r.evaluations.group_timings = r.evaluations.total - r.evaluations.states - r.evaluations.references;
  r.runs = std::move(chains);
  r.seconds = seconds_since(t0);
  return r;
}

// The checked state with the best checked objective (its measured drop in place of
// E) that meets every constraint with it, or null.
const std::pair<const SearchState, Checked>* choose(const Context& c, const RunResult& r) {
  const std::pair<const SearchState, Checked>* best = nullptr;
  double best_f = kInf;
  for (const SearchState& s : r.check_order) {
    const auto& it = *r.checked.find(s);
    bool feasible = false;
    const double f = objective(c, it.second.f, c.ref_check - it.second.top1, &feasible);
    if (feasible && f < best_f) {
      best_f = f;
      best = &it;
    }
  }
  return best;
}

// ---------------------------------------------------------------- reported points

SearchPoint make_search_point(const Context& c, HwPoint& pt, std::string name, std::vector<LayerPrecision> precision) {
  SearchPoint s;
  s.name = std::move(name);
  s.hw = pt.hw;
  s.hw_index = pt.index;
  s.option = c.p.options_of(precision);
  const Evaluation e = pt.ev.evaluate(precision);
  if (!e.ok()) fail("{}: {}", s.name, pt.ev.error());
  Figures f;
  f.cycles = e.totals.total_cycles;
  f.latency_ms = e.totals.latency_ms;
  f.energy_uj = e.totals.energy_uj();
  f.cycles8 = pt.cycles8;
  f.latency8_ms = pt.latency8_ms;
  f.hw_excess = pt.excess;
  f.weight_kib = weight_bytes(c.p.graph(), precision) / 1024.0;
  s.cycles = f.cycles;
  s.cycles8 = f.cycles8;
  s.latency_ms = f.latency_ms;
  s.energy_uj = f.energy_uj;
  s.weight_kib = f.weight_kib;
  if (!s.option.empty()) {
    f.est = c.estimate(s.option);
    s.est_drop = f.est;
    s.est_top1 = c.ref_check - s.est_drop;
    s.objective = objective(c, f, s.est_drop, &s.feasible);
  } else {
    bool feasible = false;
    (void)objective(c, f, 0.0, &feasible);
    s.feasible = feasible;
    s.note = "outside the search space (pinned layers at another width): no estimate";
  }
  s.precision = std::move(precision);
  return s;
}

// f of a reported point on hardware point `pt` with its measured drop on the held-out
// samples (check_top1) as the accuracy term: the objective `choose` ranks the checked
// states by.
double measured_objective(const Context& c, const HwPoint& pt, const SearchPoint& s, bool* feasible = nullptr) {
  Figures f;
  f.cycles = s.cycles;
  f.cycles8 = s.cycles8;
  f.latency_ms = s.latency_ms;
  f.energy_uj = s.energy_uj;
  f.weight_kib = s.weight_kib;
  f.hw_excess = pt.excess;
  return objective(c, f, c.ref_check - s.check_top1, feasible);
}

// The exact optimum of f with the corrected estimate on one hardware point, under
// the latency target when there is one (search/optimum.h). The other constraints
// are checked on the result, not optimised over (docs/search.md section 5).
std::vector<uint8_t> optimum_on(const Context& c, HwPoint& pt, OptimumInfo& info) {
  const auto t0 = std::chrono::steady_clock::now();
  info = {};
  info.computed = true;
  std::optional<int64_t> max_cycles;
  if (c.obj.limits.latency_ms)
    max_cycles = static_cast<int64_t>(std::floor(*c.obj.limits.latency_ms * pt.hw.array.clock_mhz * 1e3 * (1 + 1e-12)));
  const EstimateOptimum opt = estimate_optimum(c.p, pt.hw, pt.ev, c.est, c.obj.lambda, pt.cycles8, max_cycles);
  info.exact = opt.exact;
  info.factors = opt.factors;
  info.largest_states = opt.largest_states;
  info.largest_front = opt.largest_front;
  info.compute_timings = opt.compute_timings;
  info.factor_timings = opt.factor_timings;
  info.timings = opt.compute_timings + opt.factor_timings;
  if (!opt.option.empty()) {
    const Evaluation e = pt.ev.evaluate(c.p.precision(opt.option));
    Figures f;
    f.est = c.estimate(opt.option);
    f.cycles = e.totals.total_cycles;
    f.latency_ms = e.totals.latency_ms;
    f.energy_uj = e.totals.energy_uj();
    f.cycles8 = pt.cycles8;
    f.hw_excess = pt.excess;
    for (std::size_t gi = 0; gi < c.p.groups(); ++gi) f.weight_kib += c.p.weight_kib(gi, opt.option[gi]);
    info.objective = objective(c, f, f.est);
  }
  info.seconds = seconds_since(t0);
  return opt.option;
}

double gap(double f, double opt) { return std::isfinite(f) && std::isfinite(opt) ? (f - opt) / std::abs(opt) : kNaN; }

void init_context(Context& c, const SearchOptions& o) {
  const SearchProblem& p = c.p;
  if (o.chains < 1) fail("--chains {}: must be at least 1", o.chains);
  if (o.steps < 0) fail("--steps {}: must be zero or positive", o.steps);
  c.delta = c.drops.drop;
  for (auto& row : c.delta) std::fill(row.begin(), row.end(), 0.0);
  c.layers.resize(p.groups());
  for (std::size_t g = 0; g < p.groups(); ++g)
    for (std::size_t l : p.group(g).layers) c.layers[g].push_back(static_cast<uint32_t>(l));
  c.shape.free_groups = p.free_groups();
  for (std::size_t g = 0; g < p.groups(); ++g) c.shape.options.push_back(static_cast<int>(p.options(g).size()));
  if (c.space)
    for (const HwAxis& a : c.space->axes) {
      c.shape.axis_size.push_back(static_cast<int>(a.values.size()));
      c.shape.axis_ordered.push_back(a.ordered ? 1 : 0);
    }
  c.shape.hw_move_prob = o.hw_move_prob;
  if (c.shape.free_groups.empty() && !c.shape.has_hw_moves())
    fail("nothing to search: every group is pinned and the hardware is fixed");
}

}  // namespace

EstimateOnlyRun run_estimate_only(const SearchProblem& p, const HwConfig& base, const SearchSpaceSpec* space,
                                  const DropTable& drops, const ObjectiveSpec& obj, const SearchOptions& o) {
  Context c{p, drops, obj, space, base, {}, {}, 0, drops.drop, {}, 0, o.hw_cache};
  init_context(c, o);
  Monitor mon;
  ThreadPool pool(o.threads);
  const RunResult r = run_chains(c, o, false, nullptr, mon, pool);
  EstimateOnlyRun out;
  out.steps = r.steps;
  out.accepted = r.accepted;
  out.seconds = r.seconds;
  for (const Entry& e : r.lat.entries()) out.best_objective = std::min(out.best_objective, objective(c, e.f, e.f.est));
  return out;
}

SearchReport run_codesign(const SearchInputs& in, const ObjectiveSpec& obj, const SearchOptions& o,
                          const std::function<void(const SearchProgress&)>& progress) {
  const SearchProblem& p = in.problem;
  if (o.check_top < 1) fail("--check-top {}: must be at least 1", o.check_top);
  Context c{p, in.drops, obj, in.space, in.base, {}, {}, 0, in.drops.drop, {}, 0, o.hw_cache};
  init_context(c, o);

  SearchReport rep;
  const std::vector<uint8_t> ref = p.reference();
  c.ref_check = in.check.top1(p.precision(ref));
  rep.reference_check_top1 = c.ref_check;

  Monitor mon;
  std::thread monitor;
  const auto t_start = std::chrono::steady_clock::now();
  if (progress) {
    monitor = std::thread([&] {
      std::unique_lock lock(mon.m);
      while (!mon.stop.load()) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        lock.lock();
        SearchProgress pr;
        pr.phase = mon.phase;
        pr.done = mon.done.load();
        pr.total = mon.total.load();
        pr.accept_rate = pr.done ? static_cast<double>(mon.kept.load()) / static_cast<double>(pr.done) : 0;
        pr.best = mon.best;
        pr.seconds = seconds_since(t_start);
        const double in_phase = seconds_since(mon.phase_start);
        if (pr.total > 0 && pr.done >= pr.total)
          pr.eta_seconds = 0;
        else if (pr.done > 0)
          pr.eta_seconds = in_phase * static_cast<double>(pr.total - pr.done) / static_cast<double>(pr.done);
        if (!mon.stop.load()) progress(pr);
      }
    });
  }
  struct StopMonitor {
    Monitor& m;
    std::thread& t;
    ~StopMonitor() {
      m.stop.store(true);
      if (t.joinable()) t.join();
    }
  } stop_monitor{mon, monitor};
  const auto set_phase = [&](std::string phase, int64_t total) {
    std::lock_guard lock(mon.m);
    mon.phase = std::move(phase);
    mon.phase_start = std::chrono::steady_clock::now();
    mon.done.store(0);
    mon.kept.store(0);
    mon.total.store(total);
    mon.best = kNaN;
  };

  ThreadPool pool(o.threads);

  // ---- the search
  set_phase("search", o.steps * o.chains);
  const auto t_search = std::chrono::steady_clock::now();
  RunResult run = run_chains(c, o, false, &in.check, mon, pool);
  rep.search_seconds = seconds_since(t_search);
  rep.corrections = run.corrections;
  rep.estimate = c.est;
  rep.chains = run.chains;
  rep.steps = run.steps;
  rep.accepted = run.accepted;
  rep.checks = run.checks;
  rep.invalid_states = run.invalid;

  const auto* chosen = choose(c, run);
  if (!chosen) {
    if (run.lat.entries().empty()) {
      // Under a latency target, say whether the narrowest allocation would meet it: the
      // target is then out of reach of any width, or only of these chains.
      std::string narrowest;
      if (obj.limits.latency_ms) {
        const auto pt = make_point(c, start_point(c));
        if (pt->valid) {
          const Evaluation e = pt->ev.evaluate(p.precision(std::vector<uint8_t>(p.groups(), 0)));
          if (e.ok())
            narrowest = fmt::format("; every free group at its narrowest width takes {:.6g} ms on the starting "
                                    "hardware, the target is {:.6g} ms",
                                    e.totals.latency_ms, *obj.limits.latency_ms);
        }
      }
      fail("no state met the constraints in {} steps x {} chains (latency target, size, energy, hardware budgets){}",
           o.steps, o.chains, narrowest);
    }
    fail("no checked state met the accuracy constraints on the held-out samples ({} states checked)",
         run.checked.size());
  }

  // Reported points are re-timed on fresh evaluators of their hardware (single-threaded).
  std::map<std::vector<uint16_t>, std::unique_ptr<HwPoint>> points;
  const auto point = [&](const std::vector<uint16_t>& idx) -> HwPoint& {
    auto it = points.find(idx);
    if (it == points.end()) it = points.emplace(idx, make_point(c, idx)).first;
    if (!it->second->valid) fail("hardware point {}: {}", c.space ? c.space->describe(idx) : "base", it->second->why);
    return *it->second;
  };
  rep.evaluations = run.evaluations;
  const int64_t search_evals = run.evaluations.total;

  HwPoint& best_pt = point(chosen->first.hw);
  rep.best = make_search_point(c, best_pt, "search", p.precision(chosen->first.option));
  rep.best.check_top1 = chosen->second.top1;
  rep.best.evaluations = search_evals;
  rep.best.source = "chain";
  {
    const SearchState* cb = nullptr;
    double best_f = kInf;
    for (const Entry& e : run.lat.entries()) {
      bool feasible = false;
      const double f = objective(c, e.f, e.f.est, &feasible);
      if (feasible && f < best_f) {
        best_f = f;
        cb = &e.state;
      }
    }
    if (cb) {
      rep.chain_best = make_search_point(c, point(cb->hw), "chain_best", p.precision(cb->option));
      rep.chain_best.evaluations = search_evals;
      if (const auto it = run.checked.find(*cb); it != run.checked.end()) rep.chain_best.check_top1 = it->second.top1;
      rep.reach_best = reach(run, best_f);
    }
  }
  {
    HwSpec a = best_pt.hw;
    const HwSpec b = finish_hw_spec(in.base);
    a.name = b.name;
    a.source = b.source;
    rep.hw_moved = in.space && !(a == b);
  }

  // ---- baselines
  const auto t_base = std::chrono::steady_clock::now();
  set_phase("baselines", 0);
  // The exact optimum of the corrected estimate on the chosen hardware.
  const std::vector<uint8_t> opt = optimum_on(c, best_pt, rep.optimum);
  if (!opt.empty()) {
    SearchPoint s = make_search_point(c, best_pt, "optimum", p.precision(opt));
    s.evaluations = 1;
    s.note = fmt::format("exact DP over {} groups and {} requantization/vector factors (at most {} states)",
                         p.groups(), rep.optimum.factors, rep.optimum.largest_states);
    rep.baselines.push_back(std::move(s));
  }
  // Every uniform width the PE runs, on the chosen hardware.
  for (const WidthOption& w : p.choices()) {
    SearchPoint s = make_search_point(c, best_pt, fmt::format("uniform_w{}a{}", w.wbits, w.abits), p.uniform(w.wbits));
    s.evaluations = 1;
    rep.baselines.push_back(std::move(s));
  }
  if (in.space && rep.hw_moved) {
    SearchPoint s = make_search_point(c, point(start_point(c)), "start_hw_w8a8", p.uniform(8));
    s.evaluations = 1;
    s.note = "the starting hardware point at 8 bits";
    rep.baselines.push_back(std::move(s));
  }
  // QuantuneV2 at the chosen state's latency, one per low width of distinct cost.
  const auto quantune_rows = [&](double budget_ms) {
    std::vector<SearchPoint> rows;
    if (!in.scores) return rows;
    std::vector<int> lows;
    for (const WidthOption& w : p.choices()) {
      if (w.wbits >= 8) continue;
      const int eff = effective_width(best_pt.hw.pe, w.wbits);
      bool dup = false;
      for (const WidthOption& v : p.choices())
        dup = dup || (v.wbits > w.wbits && v.wbits < 8 && effective_width(best_pt.hw.pe, v.wbits) == eff);
      if (!dup && in.scores->width_index(w.wbits) >= 0) lows.push_back(w.wbits);
    }
    for (int low : lows) {
      AllocateOptions ao;
      ao.high_bits = 8;
      ao.low_bits = low;
      ao.abits = p.options().abits;
      ao.per_channel = p.options().per_channel;
      ao.latency_budget_ms = budget_ms;
      ao.hw = &best_pt.hw;
      ao.keep = p.options().keep;
      ao.keep_first_last = p.options().keep_first_last;
      const std::string name = fmt::format("quantunev2_w{}", low);
      try {
        const AllocateResult a = allocate_precision(p.graph(), *in.scores, ao);
        SearchPoint s = make_search_point(c, best_pt, name, a.alloc.resolve(p.graph(), name));
        s.evaluations = static_cast<int64_t>(p.free_groups().size()) + 2;
        s.note = fmt::format("{} of {} layers at 8 bits, the rest at {}, latency budget {:.6g} ms", a.high_layers,
                             p.layers(), low, budget_ms);
        rows.push_back(std::move(s));
      } catch (const Error& e) {
        SearchPoint s;
        s.name = name;
        s.feasible = false;
        s.note = e.what();
        s.hw = best_pt.hw;
        rows.push_back(std::move(s));
      }
    }
    return rows;
  };
  for (SearchPoint& s : quantune_rows(rep.best.latency_ms)) rep.baselines.push_back(std::move(s));
  // Random search with the same number of evaluations and checks (its own correction).
  if (o.random_baseline && !c.shape.free_groups.empty()) {
    set_phase("random search", o.steps * o.chains);
    Context rc = c;
    rc.est = in.drops.drop;
    for (auto& row : rc.delta) std::fill(row.begin(), row.end(), 0.0);
    rc.version = 0;
    RunResult rr = run_chains(rc, o, true, &in.check, mon, pool);
    if (const auto* rchosen = choose(rc, rr)) {
      SearchPoint s = make_search_point(c, point(rchosen->first.hw), "random", p.precision(rchosen->first.option));
      s.check_top1 = rchosen->second.top1;
      s.evaluations = rr.evaluations.total;
      s.note = fmt::format("{} uniform draws, {} checked on the held-out samples", rr.steps, rr.checked.size());
      rep.baselines.push_back(std::move(s));
    } else {
      SearchPoint s;
      s.name = "random";
      s.feasible = false;
      s.note = "no checked state met the constraints";
      rep.baselines.push_back(std::move(s));
    }
  }
  // The choice among every allocation measured on the held-out samples in this run
  // (docs/search.md section 3, Choice): a baseline's allocation in the search space and on the
  // chosen hardware that measures a lower f than the chains' choice becomes the result,
  // and the chains' choice is reported as `chain_choice`. QuantuneV2 is then re-run at
  // the new latency, so it is still compared at matching latency.
  {
    // Every candidate is on the chosen hardware point; the chains' choice meets every constraint.
    double best_f = measured_objective(c, best_pt, rep.best);
    const SearchPoint* winner = nullptr;
    for (SearchPoint& s : rep.baselines) {
      if (s.option.empty() || s.precision.empty() || s.hw_index != rep.best.hw_index) continue;
      if (std::isnan(s.check_top1)) s.check_top1 = in.check.top1(s.precision);
      bool feasible = false;
      const double f = measured_objective(c, best_pt, s, &feasible);
      if (feasible && f < best_f - 1e-9) {
        best_f = f;
        winner = &s;
      }
    }
    if (winner) {
      SearchPoint own = rep.best;
      own.name = "chain_choice";
      own.note = fmt::format("the chains' choice; {}'s allocation measured a lower objective on the held-out samples",
                             winner->name);
      SearchPoint chosen_point = *winner;
      chosen_point.name = "search";
      chosen_point.source = winner->name;
      chosen_point.evaluations = search_evals + winner->evaluations;
      chosen_point.note = fmt::format("{}'s allocation: it measured a lower objective on the held-out samples than "
                                      "the chains' choice (chain_choice)",
                                      winner->name);
      rep.best = std::move(chosen_point);
      std::erase_if(rep.baselines, [](const SearchPoint& s) { return s.name.starts_with("quantunev2_"); });
      for (SearchPoint& s : quantune_rows(rep.best.latency_ms)) rep.baselines.push_back(std::move(s));
      rep.baselines.push_back(std::move(own));
    }
  }
  // The grid sweep: the exact optimum of the estimate at every point of the space.
  if (in.space && in.space->points() <= o.grid_limit) {
    const uint64_t n = in.space->points();
    set_phase("grid", static_cast<int64_t>(n));
    struct GridResult {
      std::vector<uint8_t> state;
      double f = kInf;
      int64_t evals = 0, references = 0, compute_timings = 0, factor_timings = 0;
      bool valid = false;
    };
    std::vector<GridResult> grid(n);
    const auto t_grid = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i, int) {
      const std::vector<uint16_t> idx = in.space->point(static_cast<uint64_t>(i));
      // The chains' rule (EvaluationCount): a point over the budgets costs nothing; a
      // point within them costs its all-8 reference, then the DP's step timings.
      auto pt = make_point(c, idx, false);
      GridResult& gr = grid[static_cast<std::size_t>(i)];
      gr.references = pt->prepared ? 1 : 0;
      gr.evals = gr.references;
      if (pt->valid && pt->excess <= 0) {
        OptimumInfo info;
        gr.state = optimum_on(c, *pt, info);
        gr.evals += info.timings;
        gr.compute_timings = info.compute_timings;
        gr.factor_timings = info.factor_timings;
        gr.f = info.objective;
        gr.valid = !gr.state.empty();
      }
      mon.done.fetch_add(1, std::memory_order_relaxed);
    });
    int64_t evals = 0, valid = 0;
    std::size_t best_i = n;
    for (std::size_t i = 0; i < n; ++i) {
      evals += grid[i].evals;
      rep.grid_references += grid[i].references;
      rep.grid_compute_timings += grid[i].compute_timings;
      rep.grid_factor_timings += grid[i].factor_timings;
      if (!grid[i].valid) continue;
      ++valid;
      if (best_i == n || grid[i].f < grid[best_i].f) best_i = i;
    }
    if (best_i < n) {
      SearchPoint s = make_search_point(c, point(in.space->point(best_i)), "grid", p.precision(grid[best_i].state));
      s.evaluations = evals;
      s.note = fmt::format(
          "{} points ({} valid within the budgets), each at the exact optimum of the estimate; evaluations: {} "
          "all-8 references + {} Compute-step and {} Requantize/Vector timings",
          n, valid, rep.grid_references, rep.grid_compute_timings, rep.grid_factor_timings);
      rep.reach_grid = reach(run, grid[best_i].f);
      rep.baselines.push_back(std::move(s));
    }
    rep.grid_evaluations = evals;
    rep.grid_seconds = seconds_since(t_grid);
  }
  for (SearchPoint& s : rep.baselines) s.optimum_gap = gap(s.objective, rep.optimum.objective);
  rep.chain_best.optimum_gap = gap(rep.chain_best.objective, rep.optimum.objective);
  rep.best.optimum_gap = rep.chain_best.optimum_gap;

  // ---- front: the thinned latency and energy fronts of the search
  const auto thin = [&](const Archive& a, int k) {
    std::vector<const Entry*> out;
    const auto& e = a.entries();
    if (e.empty() || k <= 0) return out;
    const std::size_t n = e.size();
    const std::size_t m = std::min<std::size_t>(n, static_cast<std::size_t>(k));
    for (std::size_t i = 0; i < m; ++i) {
      const Entry* x = &e[m == 1 ? 0 : i * (n - 1) / (m - 1)];
      if (out.empty() || out.back() != x) out.push_back(x);
    }
    return out;
  };
  std::map<SearchState, std::string> front_of;
  for (const Entry* e : thin(run.lat, o.front_points)) front_of[e->state] = "latency";
  for (const Entry* e : thin(run.energy, o.front_points)) {
    auto [it, fresh] = front_of.emplace(e->state, "energy");
    if (!fresh) it->second = "latency+energy";
  }
  for (const auto& [state, which] : front_of) {
    SearchPoint s = make_search_point(c, point(state.hw), "front", p.precision(state.option));
    s.front = which;
    if (const auto it = run.checked.find(state); it != run.checked.end()) s.check_top1 = it->second.top1;
    rep.front.push_back(std::move(s));
  }
  std::stable_sort(rep.front.begin(), rep.front.end(), [](const SearchPoint& a, const SearchPoint& b) {
    return a.latency_ms != b.latency_ms ? a.latency_ms < b.latency_ms : a.energy_uj < b.energy_uj;
  });
  rep.baseline_seconds = seconds_since(t_base);

  // ---- final figures: the held-out check and the test split for every point
  const auto t_final = std::chrono::steady_clock::now();
  std::vector<SearchPoint*> all{&rep.best, &rep.chain_best};
  for (SearchPoint& s : rep.baselines) all.push_back(&s);
  for (SearchPoint& s : rep.front) all.push_back(&s);
  set_phase("final evaluation", static_cast<int64_t>(all.size()) * (in.test ? 2 : 1));
  for (SearchPoint* s : all) {
    if (s->precision.empty()) continue;
    if (std::isnan(s->check_top1)) s->check_top1 = in.check.top1(s->precision);
    mon.done.fetch_add(1);
    if (in.test) {
      s->true_top1 = in.test->top1(s->precision);
      mon.done.fetch_add(1);
    }
  }
  if (in.test) rep.reference_test_top1 = in.test->top1(p.precision(ref));
  rep.check_evaluations = in.check.evaluations();
  rep.test_evaluations = in.test ? in.test->evaluations() : 0;
  rep.check_passes = in.check.passes();
  rep.test_passes = in.test ? in.test->passes() : 0;
  rep.final_seconds = seconds_since(t_final);
  return rep;
}

}  // namespace qsim
