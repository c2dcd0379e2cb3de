// The Markov-chain search's algorithms, behind an ask/tell interface
// (docs/search.md sections 2 and 3).
//
// A search state is one option per fused group (a (wbits, abits) pair; search/
// codesign.h defines the options) and one value index per hardware axis of the
// space (search/space.h). An algorithm never evaluates anything: like Timeloop's
// search (Next / Report), it proposes a move from the current state (`next`) and is
// told the cost of the state the move leads to (`report`), which tells the driver
// whether the move is kept. The driver (search/codesign.h, or a test with a table
// of costs) owns the state and the evaluators.
//
// Proposals, each with the ratio that makes Metropolis-Hastings sample
// pi(s) ~ exp(-f(s)/T):
//   walk          with probability hw_move_prob (when the space has hardware axes) one
//                 hardware step, else 1 to 3 free groups (k with probability 0.6/0.3/0.1,
//                 at most the number of free groups), each given another option drawn
//                 uniformly. The width move is symmetric (q ratio 1). A hardware step picks
//                 an axis uniformly; an ordered axis (numbers) moves to a neighbouring value,
//                 one of the two in the interior and the only one at an edge, so
//                 q(s->s') = 1/n(s) and the ratio is n(s)/n(s') (Hastings correction at the
//                 edges); a categorical axis (dataflow) moves to any other value (symmetric).
//   independence  AMED's proposal: every free group's option drawn afresh from
//                 p_g(o) = softmax_o(score_g(o) / T), independent of the current state;
//                 the ratio is q(s)/q(s') = prod_g p_g(o_g) / p_g(o'_g). With a hardware
//                 space, hardware steps are mixed in as in `walk`.
//   uniform       random search: every free group and hardware axis drawn uniformly;
//                 every proposal is kept (not MH: the baseline with the same budget).
// Each kernel satisfies detailed balance with pi on its own and the choice among
// them does not depend on the state, so the mixture does too
// (tests/search/mcmc_test.cpp checks the empirical distribution on small targets).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace qsim {

// Random numbers with an output specified bit for bit (std::mt19937_64 is, the
// standard distributions are not), so a seed gives the same run everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  // Stream `stream` of seed `seed` (per chain), decorrelated by splitmix64.
  static Rng stream(uint64_t seed, uint64_t stream);
  uint64_t next() { return g_(); }
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }  // [0, 1)
  uint64_t below(uint64_t n);  // uniform in [0, n), n > 0, unbiased

 private:
  std::mt19937_64 g_;
};

// One search state: an option per group, a value index per hardware axis.
struct SearchState {
  std::vector<uint8_t> option;
  std::vector<uint16_t> hw;
  friend bool operator==(const SearchState&, const SearchState&) = default;
  friend bool operator<(const SearchState& a, const SearchState& b);  // for ordered containers
};

enum class MoveKind : uint8_t { kWidths, kHardware, kIndependence, kUniform };

// A move from the current state: the groups whose option changes, or one hardware
// axis, and log(q(s'->s) / q(s->s')).
struct Move {
  MoveKind kind = MoveKind::kWidths;
  std::vector<std::pair<uint32_t, uint8_t>> options;  // group -> new option
  std::vector<std::pair<uint32_t, uint16_t>> hw;      // axis -> new value index
  double log_hastings = 0.0;
  void clear() {
    options.clear();
    hw.clear();
    log_hastings = 0.0;
  }
};

// The shape of the state space, as the proposals see it.
struct SpaceShape {
  std::vector<uint32_t> free_groups;  // groups with more than one option
  std::vector<int> options;           // per group: its number of options
  std::vector<int> axis_size;         // per hardware axis: its number of values
  std::vector<uint8_t> axis_ordered;  // per axis: 1 ordered (neighbour steps), 0 categorical
  double hw_move_prob = 0.2;          // share of hardware steps when there are axes to move
  bool has_hw_moves() const;
};

enum class ProposalKind : uint8_t { kWalk, kAmed };
std::string_view proposal_name(ProposalKind p);  // "walk" | "amed"

// Temperature: geometric from t_start to t_end over the run, constant within
// stages of `stage` steps (so the independence proposal's table is rebuilt once per
// stage): T(k) = t_start * (t_end / t_start)^(floor(k / stage) * stage / steps).
struct TemperatureSchedule {
  double t_start = 1.0;
  double t_end = 0.01;
  int64_t steps = 1;
  int64_t stage = 64;
  // When 0 < second_anneal < steps: the schedule runs over the first second_anneal
  // steps, then again from t_start to t_end over the rest (docs/search.md section 3).
  int64_t second_anneal = 0;
  double at(int64_t step) const;
};

// Per free group, the log-probabilities of its options under the independence
// proposal; `scores[g][o]` (higher is better) and temperature t give
// log softmax(score / t). Groups with one option get {0}.
class IndependenceTable {
 public:
  void build(std::span<const std::vector<double>> scores, double t);
  std::span<const double> log_p(std::size_t group) const { return log_p_[group]; }
  // Draws an option of `group`.
  uint8_t draw(std::size_t group, Rng& rng) const;

 private:
  std::vector<std::vector<double>> log_p_;
  std::vector<std::vector<double>> cdf_;
};

// The ask/tell interface (Timeloop's Next / Report).
class SearchAlgorithm {
 public:
  virtual ~SearchAlgorithm() = default;
  // Ask: a move from `current` (the state last kept). `table` is the independence
  // proposal's table at the current hardware point and temperature (ignored by the
  // other proposals).
  virtual const Move& next(const SearchState& current, const IndependenceTable* table, Rng& rng) = 0;
  // Tell: the cost of the proposed state (`valid` false: it cannot be evaluated,
  // e.g. a hardware point the mapper refuses). Returns whether the move is kept.
  virtual bool report(bool valid, double cost, Rng& rng) = 0;
  // Tell the cost of the starting state (before the first next()).
  virtual void start(double cost) = 0;
  virtual double current_cost() const = 0;
  virtual int64_t steps() const = 0;
  virtual int64_t accepted() const = 0;
  virtual double temperature() const = 0;  // at the next step
};

// Metropolis-Hastings with the walk or the independence proposal (see the top of
// this file): a move is kept with probability
//   min(1, exp(-(f(s') - f(s)) / T) * q(s'->s) / q(s->s')).
class MetropolisHastings final : public SearchAlgorithm {
 public:
  MetropolisHastings(const SpaceShape& shape, ProposalKind proposal, TemperatureSchedule schedule);
  const Move& next(const SearchState& current, const IndependenceTable* table, Rng& rng) override;
  bool report(bool valid, double cost, Rng& rng) override;
  void start(double cost) override { cost_ = cost; }
  double current_cost() const override { return cost_; }
  int64_t steps() const override { return step_; }
  int64_t accepted() const override { return accepted_; }
  double temperature() const override { return schedule_.at(step_); }
  ProposalKind proposal() const { return proposal_; }

 private:
  void walk_widths(const SearchState& s, Rng& rng);
  void walk_hardware(const SearchState& s, Rng& rng);
  void independence(const SearchState& s, const IndependenceTable& table, Rng& rng);

  const SpaceShape& shape_;
  ProposalKind proposal_;
  TemperatureSchedule schedule_;
  Move move_;
  std::vector<uint32_t> pick_;  // scratch
  double cost_ = 0.0;
  int64_t step_ = 0;
  int64_t accepted_ = 0;
};

// Random search: independent uniform states, every one kept (the driver keeps the
// best): the baseline that spends the same evaluations without a chain.
class RandomSearch final : public SearchAlgorithm {
 public:
  explicit RandomSearch(const SpaceShape& shape) : shape_(shape) {}
  const Move& next(const SearchState& current, const IndependenceTable* table, Rng& rng) override;
  bool report(bool valid, double cost, Rng& rng) override;
  void start(double cost) override { cost_ = cost; }
  double current_cost() const override { return cost_; }
  int64_t steps() const override { return step_; }
  int64_t accepted() const override { return accepted_; }
  double temperature() const override { return INFINITY; }

 private:
  const SpaceShape& shape_;
  Move move_;
  double cost_ = 0.0;
  int64_t step_ = 0;
  int64_t accepted_ = 0;
};

// Applies a move to a state.
void apply_move(SearchState& s, const Move& m);

}  // namespace qsim
