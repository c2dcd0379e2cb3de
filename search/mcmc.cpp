#include "search/mcmc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace qsim {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Rng Rng::stream(uint64_t seed, uint64_t stream) { return Rng(splitmix64(splitmix64(seed) ^ splitmix64(~stream))); }

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw std::logic_error("Rng::below(0)");
  // Rejection of the top partial block: unbiased and platform-independent.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  for (;;) {
    const uint64_t x = g_();
    if (x < limit) return x % n;
  }
}

bool SpaceShape::has_hw_moves() const {
  return std::any_of(axis_size.begin(), axis_size.end(), [](int n) { return n > 1; });
}

std::string_view proposal_name(ProposalKind p) { return p == ProposalKind::kWalk ? "walk" : "amed"; }

double TemperatureSchedule::at(int64_t step) const {
  if (steps <= 0 || t_start <= 0 || t_end <= 0) return t_start;
  const int64_t st = std::max<int64_t>(1, stage);
  int64_t from = 0, len = steps;
  if (second_anneal > 0 && second_anneal < steps) {
    from = step < second_anneal ? 0 : second_anneal;
    len = step < second_anneal ? second_anneal : steps - second_anneal;
  }
  const double frac =
      std::clamp(static_cast<double>(((step - from) / st) * st) / static_cast<double>(len), 0.0, 1.0);
  return t_start * std::pow(t_end / t_start, frac);
}

void IndependenceTable::build(std::span<const std::vector<double>> scores, double t) {
  log_p_.resize(scores.size());
  cdf_.resize(scores.size());
  for (std::size_t g = 0; g < scores.size(); ++g) {
    const auto& s = scores[g];
    auto& lp = log_p_[g];
    auto& cdf = cdf_[g];
    lp.assign(s.size(), 0.0);
    cdf.assign(s.size(), 1.0);
    if (s.size() <= 1) continue;
    double m = -std::numeric_limits<double>::infinity();
    for (double x : s) m = std::max(m, x / t);
    double z = 0;
    for (double x : s) z += std::exp(x / t - m);
    const double log_z = m + std::log(z);
    double c = 0;
    for (std::size_t o = 0; o < s.size(); ++o) {
      lp[o] = s[o] / t - log_z;
      c += std::exp(lp[o]);
      cdf[o] = c;
    }
    cdf.back() = 1.0;  // rounding
  }
}

uint8_t IndependenceTable::draw(std::size_t group, Rng& rng) const {
  const auto& cdf = cdf_[group];
  const double u = rng.uniform();
  for (std::size_t o = 0; o + 1 < cdf.size(); ++o)
    if (u < cdf[o]) return static_cast<uint8_t>(o);
  return static_cast<uint8_t>(cdf.size() - 1);
}

bool operator<(const SearchState& a, const SearchState& b) {
  // An explicit loop: GCC 12 warns on the memcmp of std::vector<uint8_t>'s <=>.
  const auto less = [](const auto& x, const auto& y) {
    const std::size_t n = std::min(x.size(), y.size());
    for (std::size_t i = 0; i < n; ++i)
      if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return x.size() == y.size() ? 0 : (x.size() < y.size() ? -1 : 1);
  };
  const int o = less(a.option, b.option);
  return o != 0 ? o < 0 : less(a.hw, b.hw) < 0;
}

void apply_move(SearchState& s, const Move& m) {
  for (const auto& [g, o] : m.options) s.option[g] = o;
  for (const auto& [a, v] : m.hw) s.hw[a] = v;
}

// ---------------------------------------------------------------- Metropolis-Hastings

MetropolisHastings::MetropolisHastings(const SpaceShape& shape, ProposalKind proposal, TemperatureSchedule schedule)
    : shape_(shape), proposal_(proposal), schedule_(schedule) {
  if (shape_.free_groups.empty() && !shape_.has_hw_moves())
    throw std::logic_error("MetropolisHastings: nothing to move");
}

void MetropolisHastings::walk_widths(const SearchState& s, Rng& rng) {
  move_.kind = MoveKind::kWidths;
  const std::size_t n = shape_.free_groups.size();
  // k groups: 1, 2 or 3 with probabilities 0.6, 0.3, 0.1, at most the free groups.
  const double u = rng.uniform();
  std::size_t k = u < 0.6 ? 1 : u < 0.9 ? 2 : 3;
  k = std::min(k, n);
  pick_.assign(shape_.free_groups.begin(), shape_.free_groups.end());
  for (std::size_t i = 0; i < k; ++i) {  // partial Fisher-Yates: k distinct groups
    const std::size_t j = i + static_cast<std::size_t>(rng.below(n - i));
    std::swap(pick_[i], pick_[j]);
    const uint32_t g = pick_[i];
    const int options = shape_.options[g];
    // Another option, uniformly: symmetric, q(s->s') = q(s'->s).
    auto o = static_cast<int>(rng.below(static_cast<uint64_t>(options - 1)));
    if (o >= s.option[g]) ++o;
    move_.options.emplace_back(g, static_cast<uint8_t>(o));
  }
}

void MetropolisHastings::walk_hardware(const SearchState& s, Rng& rng) {
  move_.kind = MoveKind::kHardware;
  pick_.clear();
  for (std::size_t a = 0; a < shape_.axis_size.size(); ++a)
    if (shape_.axis_size[a] > 1) pick_.push_back(static_cast<uint32_t>(a));
  const uint32_t a = pick_[rng.below(pick_.size())];
  const int size = shape_.axis_size[a];
  const int i = s.hw[a];
  int j;
  if (shape_.axis_ordered[a]) {
    // A neighbouring value: n(i) of them (1 at an edge, else 2), q = 1/n(i).
    const auto neighbours = [&](int x) { return (x > 0 ? 1 : 0) + (x + 1 < size ? 1 : 0); };
    const int n = neighbours(i);
    if (n == 2)
      j = rng.below(2) == 0 ? i - 1 : i + 1;
    else
      j = i > 0 ? i - 1 : i + 1;
    move_.log_hastings = std::log(static_cast<double>(n)) - std::log(static_cast<double>(neighbours(j)));
  } else {
    j = static_cast<int>(rng.below(static_cast<uint64_t>(size - 1)));
    if (j >= i) ++j;
  }
  move_.hw.emplace_back(a, static_cast<uint16_t>(j));
}

void MetropolisHastings::independence(const SearchState& s, const IndependenceTable& table, Rng& rng) {
  move_.kind = MoveKind::kIndependence;
  double log_ratio = 0;
  for (uint32_t g : shape_.free_groups) {
    const uint8_t o = table.draw(g, rng);
    const auto lp = table.log_p(g);
    log_ratio += lp[s.option[g]] - lp[o];  // q(s) / q(s')
    if (o != s.option[g]) move_.options.emplace_back(g, o);
  }
  move_.log_hastings = log_ratio;
}

const Move& MetropolisHastings::next(const SearchState& current, const IndependenceTable* table, Rng& rng) {
  move_.clear();
  const bool hw = shape_.has_hw_moves() && (shape_.free_groups.empty() || rng.uniform() < shape_.hw_move_prob);
  if (hw) {
    walk_hardware(current, rng);
  } else if (proposal_ == ProposalKind::kAmed) {
    if (!table) throw std::logic_error("MetropolisHastings: the amed proposal needs its table");
    independence(current, *table, rng);
  } else {
    walk_widths(current, rng);
  }
  return move_;
}

bool MetropolisHastings::report(bool valid, double cost, Rng& rng) {
  const double t = schedule_.at(step_);
  ++step_;
  if (!valid || !std::isfinite(cost)) return false;
  const double log_a = -(cost - cost_) / t + move_.log_hastings;
  const bool keep = log_a >= 0 || rng.uniform() < std::exp(log_a);
  if (keep) {
    cost_ = cost;
    ++accepted_;
  }
  return keep;
}

// ---------------------------------------------------------------- random search

const Move& RandomSearch::next(const SearchState& current, const IndependenceTable*, Rng& rng) {
  move_.clear();
  move_.kind = MoveKind::kUniform;
  for (uint32_t g : shape_.free_groups) {
    const auto o = static_cast<uint8_t>(rng.below(static_cast<uint64_t>(shape_.options[g])));
    if (o != current.option[g]) move_.options.emplace_back(g, o);
  }
  for (std::size_t a = 0; a < shape_.axis_size.size(); ++a) {
    if (shape_.axis_size[a] < 2) continue;
    const auto v = static_cast<uint16_t>(rng.below(static_cast<uint64_t>(shape_.axis_size[a])));
    if (v != current.hw[a]) move_.hw.emplace_back(static_cast<uint32_t>(a), v);
  }
  return move_;
}

bool RandomSearch::report(bool valid, double cost, Rng&) {
  ++step_;
  if (!valid) return false;
  cost_ = cost;
  ++accepted_;
  return true;
}

}  // namespace qsim
