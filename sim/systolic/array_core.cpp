#include "sim/systolic/array_core.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "graph/error.h"
#include "arith/int_arith.h"

namespace qsim {

namespace {

using intarith::ceil_div;

// Multiples of s (plus `offset`, 0 <= offset < s) in [lo, hi).
int64_t count_congruent(int64_t lo, int64_t hi, int64_t s, int64_t offset) {
  if (hi <= lo) return 0;
  auto upto = [&](int64_t x) {  // values v < x with v = offset (mod s), v >= 0
    if (x <= offset) return int64_t{0};
    return (x - offset + s - 1) / s;
  };
  return upto(hi) - upto(std::max<int64_t>(lo, 0));
}

}  // namespace

void SystolicCore::configure(const ArrayConfig& c) {
  if (c.rows < 1 || c.cols < 1 || c.pe.pack < 1 || c.pe.slices < 1)
    throw std::invalid_argument("SystolicCore: array and PE sizes must be positive");
  cfg_ = c;
  R_ = c.rows;
  C_ = c.cols;
  S_ = c.pe.slices;
  P_ = c.pe.pack;
  load_ = c.dataflow == Dataflow::kOS ? 0 : R_;
  const auto n = static_cast<std::size_t>(R_ * C_);
  h_.assign(n, -1);
  v_.assign(n, -1);
  w_.assign(n, -1);
  ptag_.assign(n, -1);
  psum_.assign(n, 0);
  acc_.assign(n, 0);
  col_acc_.assign(static_cast<std::size_t>(C_), 0);
  const bool is = c.dataflow == Dataflow::kIS;
  ifmap_lanes_.assign(static_cast<std::size_t>(is ? C_ : R_), {});
  filter_lanes_.assign(static_cast<std::size_t>(is ? R_ : C_), {});
  ofmap_lanes_.assign(static_cast<std::size_t>(C_), {});
  psum_lanes_.assign(static_cast<std::size_t>(C_), {});
  edge_ = {0, ifmap_lanes_, filter_lanes_, ofmap_lanes_, psum_lanes_};
}

void SystolicCore::begin_fold(const FoldWork& f, const GemmOperands* values) {
  if (f.rows_used < 1 || f.rows_used > R_ || f.cols_used < 1 || f.cols_used > C_)
    throw std::invalid_argument("SystolicCore: a fold must use between 1 and all rows and columns");
  f_ = f;
  values_ = values;
  switch (cfg_.dataflow) {
    case Dataflow::kOS: steps_ = ceil_div(f.k.size(), P_); break;
    case Dataflow::kWS: steps_ = f.m.size(); break;
    case Dataflow::kIS: steps_ = f.n.size(); break;
  }
  const int64_t skew = cfg_.dataflow == Dataflow::kOS ? R_ + C_ - 2 : 2 * R_ + C_ - 2;
  fold_cycles_ = skew + steps_ * S_;
  t_ = 0;
  counts_ = {};
  std::fill(h_.begin(), h_.end(), -1);
  std::fill(v_.begin(), v_.end(), -1);
  std::fill(w_.begin(), w_.end(), -1);
  std::fill(ptag_.begin(), ptag_.end(), -1);
  std::fill(psum_.begin(), psum_.end(), 0);
  std::fill(acc_.begin(), acc_.end(), 0);
  std::fill(col_acc_.begin(), col_acc_.end(), 0);
  if (values) {  // B's tile column by column, for fast-forwarded dot products
    const int64_t kt = f.k.size();
    bt_.resize(static_cast<std::size_t>(f.n.size() * kt));
    for (int64_t n = f.n.begin; n < f.n.end; ++n)
      for (int64_t k = f.k.begin; k < f.k.end; ++k)
        bt_[static_cast<std::size_t>((n - f.n.begin) * kt + (k - f.k.begin))] = values->b[k * values->ldb + n];
  }
}

int64_t SystolicCore::dot(int64_t m, int64_t n, int64_t k_begin, int64_t k_end) const {
  const int32_t* a = values_->a + m * values_->lda + k_begin;
  const int32_t* b = bt_.data() + (n - f_.n.begin) * f_.k.size() + (k_begin - f_.k.begin);
  int64_t sum = 0;
  for (int64_t k = 0; k < k_end - k_begin; ++k) sum += static_cast<int64_t>(a[k]) * b[k];
  return sum;
}

int32_t SystolicCore::row_tag(int64_t r, int64_t u) const {
  if (r >= f_.rows_used) return -1;
  const int64_t q = u - r;
  return q >= 0 && q < steps_ * S_ ? static_cast<int32_t>(q) : -1;
}

int32_t SystolicCore::col_tag(int64_t c, int64_t u) const {
  if (c >= f_.cols_used) return -1;
  const int64_t q = u - c;
  return q >= 0 && q < steps_ * S_ ? static_cast<int32_t>(q) : -1;
}

int64_t SystolicCore::pack_len(int64_t kk) const { return std::clamp<int64_t>(f_.k.end - kk, 0, P_); }

// ------------------------------------------------------------------ edge lanes

// The os sequencer: lane r reads A[m0 + r][step i] when its slice-0 tag enters,
// lane c reads B[step i][n0 + c]; the PE on the anti-diagonal r + c = t - (T*s - 1)
// of column c writes its output (timing mode; value mode takes writes from the PEs).
void SystolicCore::lanes_os(int64_t t, bool fill) {
  for (int64_t r = 0; r < R_; ++r) {
    LaneAccess a{};
    const int32_t q = row_tag(r, t);
    if (q >= 0 && q % S_ == 0) {
      const int64_t kk = f_.k.begin + (q / S_) * P_;
      a = {f_.m.begin + r, kk, static_cast<int32_t>(pack_len(kk))};
      counts_.ifmap_read += a.count;
    }
    if (fill) ifmap_lanes_[static_cast<std::size_t>(r)] = a;
  }
  for (int64_t c = 0; c < C_; ++c) {
    LaneAccess a{};
    const int32_t q = col_tag(c, t);
    if (q >= 0 && q % S_ == 0) {
      const int64_t kk = f_.k.begin + (q / S_) * P_;
      a = {kk, f_.n.begin + c, static_cast<int32_t>(pack_len(kk))};
      counts_.filter_read += a.count;
    }
    if (fill) filter_lanes_[static_cast<std::size_t>(c)] = a;
  }
  if (values_) return;  // the PEs report their writes
  for (int64_t c = 0; c < C_; ++c) {
    LaneAccess a{};
    const int64_t r = t - (steps_ * S_ - 1) - c;
    if (c < f_.cols_used && r >= 0 && r < f_.rows_used) {
      a = {f_.m.begin + r, f_.n.begin + c, 1};
      counts_.ofmap_write += 1;
    }
    if (fill) ofmap_lanes_[static_cast<std::size_t>(c)] = a;
  }
}

// The ws/is sequencer: in cycles 0..R-1 column lane c loads tile row R-1-t of the
// stationary operand; from cycle R row lane r streams its operand; the sum of step i
// leaves column c in cycle 2R - 1 + i*s + (s-1) + c (timing mode; value mode takes
// writes from the partial sums reaching the bottom).
void SystolicCore::lanes_stationary(int64_t t, bool fill) {
  const bool ws = cfg_.dataflow == Dataflow::kWS;
  std::vector<LaneAccess>& load_lanes = ws ? filter_lanes_ : ifmap_lanes_;
  std::vector<LaneAccess>& stream_lanes = ws ? ifmap_lanes_ : filter_lanes_;
  int64_t& load_count = ws ? counts_.filter_read : counts_.ifmap_read;
  int64_t& stream_count = ws ? counts_.ifmap_read : counts_.filter_read;
  for (int64_t c = 0; c < C_; ++c) {
    LaneAccess a{};
    const int64_t j = R_ - 1 - t;  // tile row loaded in this cycle
    if (t < R_ && j < f_.rows_used && c < f_.cols_used) {
      const int64_t kk = f_.k.begin + j * P_;
      const auto n = static_cast<int32_t>(pack_len(kk));
      a = ws ? LaneAccess{kk, f_.n.begin + c, n} : LaneAccess{f_.m.begin + c, kk, n};
      load_count += n;
    }
    if (fill) load_lanes[static_cast<std::size_t>(c)] = a;
  }
  for (int64_t r = 0; r < R_; ++r) {
    LaneAccess a{};
    const int32_t q = t >= R_ ? row_tag(r, t - R_) : -1;
    if (q >= 0 && q % S_ == 0) {
      const int64_t kk = f_.k.begin + r * P_;
      const int64_t i = q / S_;
      const auto n = static_cast<int32_t>(pack_len(kk));
      a = ws ? LaneAccess{f_.m.begin + i, kk, n} : LaneAccess{kk, f_.n.begin + i, n};
      stream_count += n;
    }
    if (fill) stream_lanes[static_cast<std::size_t>(r)] = a;
  }
  if (values_) return;
  for (int64_t c = 0; c < C_; ++c) {
    LaneAccess a{};
    const int64_t q = t - (2 * R_ - 1) - c;
    if (c < f_.cols_used && q >= 0 && q < steps_ * S_ && q % S_ == S_ - 1) {
      const int64_t i = q / S_;
      a = ws ? LaneAccess{f_.m.begin + i, f_.n.begin + c, 1} : LaneAccess{f_.m.begin + c, f_.n.begin + i, 1};
      counts_.ofmap_write += 1;
      if (!f_.first_k) counts_.psum_read += 1;
    }
    if (fill) {
      ofmap_lanes_[static_cast<std::size_t>(c)] = a;
      psum_lanes_[static_cast<std::size_t>(c)] = f_.first_k ? LaneAccess{} : a;
    }
  }
}

void SystolicCore::emit(EdgeObserver* obs) {
  edge_.cycle = t_;
  if (obs) obs->on_cycle(edge_);
}

// ------------------------------------------------------------------ value mode

int64_t SystolicCore::os_term(int64_t r, int64_t c, int32_t tag) const {
  const GemmOperands& g = *values_;
  const int64_t kk = f_.k.begin + (tag / S_) * P_;
  const int32_t* w = g.b + kk * g.ldb + f_.n.begin + c;
  const int32_t* a = g.a + (f_.m.begin + r) * g.lda + kk;
  return cfg_.pe.term(w, g.ldb, a, 1, pack_len(kk), static_cast<int>(tag % S_));
}

int64_t SystolicCore::stat_term(int64_t r, int64_t c, int32_t tag) const {
  const GemmOperands& g = *values_;
  const int64_t kk = f_.k.begin + r * P_;
  const int64_t i = tag / S_;
  const bool ws = cfg_.dataflow == Dataflow::kWS;
  const int32_t* w = g.b + kk * g.ldb + f_.n.begin + (ws ? c : i);
  const int32_t* a = g.a + (f_.m.begin + (ws ? i : c)) * g.lda + kk;
  return cfg_.pe.term(w, g.ldb, a, 1, pack_len(kk), static_cast<int>(tag % S_));
}

void SystolicCore::emit_output(int64_t c, int64_t m, int64_t n, int64_t value) {
  const GemmOperands& g = *values_;
  int64_t& y = g.y[m * g.ldy + n];
  if (!f_.first_k) {  // read-modify-write of the stored partial sum
    value = cfg_.pe.add(value, y);
    counts_.psum_read += 1;
    psum_lanes_[static_cast<std::size_t>(c)] = {m, n, 1};
  }
  y = value;
  counts_.ofmap_write += 1;
  ofmap_lanes_[static_cast<std::size_t>(c)] = {m, n, 1};
}

void SystolicCore::step_os(EdgeObserver* obs) {
  const int64_t t = t_;
  lanes_os(t, obs != nullptr || values_ != nullptr);
  if (values_) {
    std::fill(ofmap_lanes_.begin(), ofmap_lanes_.end(), LaneAccess{});
    // Operands move one PE per cycle: A to the right, B down.
    for (int64_t r = 0; r < R_; ++r) {
      int32_t* row = h_.data() + r * C_;
      std::memmove(row + 1, row, static_cast<std::size_t>(C_ - 1) * sizeof(int32_t));
      row[0] = row_tag(r, t);
    }
    std::memmove(v_.data() + C_, v_.data(), static_cast<std::size_t>((R_ - 1) * C_) * sizeof(int32_t));
    for (int64_t c = 0; c < C_; ++c) v_[static_cast<std::size_t>(c)] = col_tag(c, t);
    const int32_t last = static_cast<int32_t>(steps_ * S_ - 1);
    for (int64_t r = 0; r < f_.rows_used; ++r)
      for (int64_t c = 0; c < f_.cols_used; ++c) {
        const auto i = static_cast<std::size_t>(r * C_ + c);
        const int32_t tag = h_[i];
        if (tag < 0 && v_[i] < 0) continue;
        if (tag != v_[i]) throw std::logic_error("SystolicCore: os operands out of step");
        acc_[i] = cfg_.pe.add(acc_[i], os_term(r, c, tag));
        if (tag == last) {  // its last MAC: the output leaves through the column's write port
          const GemmOperands& g = *values_;
          g.y[(f_.m.begin + r) * g.ldy + f_.n.begin + c] = acc_[i];
          counts_.ofmap_write += 1;
          ofmap_lanes_[static_cast<std::size_t>(c)] = {f_.m.begin + r, f_.n.begin + c, 1};
        }
      }
  }
  emit(obs);
  ++t_;
}

void SystolicCore::step_stationary(EdgeObserver* obs) {
  const int64_t t = t_;
  lanes_stationary(t, obs != nullptr || values_ != nullptr);
  if (values_) {
    std::fill(ofmap_lanes_.begin(), ofmap_lanes_.end(), LaneAccess{});
    std::fill(psum_lanes_.begin(), psum_lanes_.end(), LaneAccess{});
    if (t < R_) {  // the stationary operand shifts down its column
      std::memmove(w_.data() + C_, w_.data(), static_cast<std::size_t>((R_ - 1) * C_) * sizeof(int32_t));
      const int64_t j = R_ - 1 - t;
      for (int64_t c = 0; c < C_; ++c)
        w_[static_cast<std::size_t>(c)] = j < f_.rows_used && c < f_.cols_used ? static_cast<int32_t>(j) : -1;
    } else {
      for (int64_t r = 0; r < R_; ++r) {  // the streamed operand moves right
        int32_t* row = h_.data() + r * C_;
        std::memmove(row + 1, row, static_cast<std::size_t>(C_ - 1) * sizeof(int32_t));
        row[0] = row_tag(r, t - R_);
      }
      // Partial sums move down: each PE adds its term to what the PE above held.
      for (int64_t r = R_ - 1; r >= 0; --r)
        for (int64_t c = 0; c < C_; ++c) {
          const auto i = static_cast<std::size_t>(r * C_ + c);
          int32_t tag;
          int64_t val = 0;
          if (r == 0) {
            tag = c < f_.cols_used ? h_[i] : -1;
          } else {
            tag = ptag_[i - static_cast<std::size_t>(C_)];
            val = psum_[i - static_cast<std::size_t>(C_)];
          }
          ptag_[i] = tag;
          if (tag < 0) {
            psum_[i] = 0;
            continue;
          }
          if (h_[i] >= 0) {
            if (h_[i] != tag) throw std::logic_error("SystolicCore: partial sum and operand out of step");
            if (w_[i] >= 0) val = cfg_.pe.add(val, stat_term(r, c, tag));
          }
          psum_[i] = val;
        }
      // The bottom row's sums leave the array: the column adder collects the bit
      // slices of a step and writes the output in the cycle of the last slice.
      const bool ws = cfg_.dataflow == Dataflow::kWS;
      for (int64_t c = 0; c < C_; ++c) {
        const auto i = static_cast<std::size_t>((R_ - 1) * C_ + c);
        const int32_t tag = ptag_[i];
        if (tag < 0) continue;
        int64_t& ca = col_acc_[static_cast<std::size_t>(c)];
        ca = cfg_.pe.add(ca, psum_[i]);
        if (tag % S_ != S_ - 1) continue;
        const int64_t step = tag / S_;
        emit_output(c, f_.m.begin + (ws ? step : c), f_.n.begin + (ws ? c : step), ca);
        ca = 0;
      }
    }
  }
  emit(obs);
  ++t_;
}

void SystolicCore::step(EdgeObserver* obs) {
  if (done()) throw std::logic_error("SystolicCore::step past the end of the fold");
  if (cfg_.dataflow == Dataflow::kOS) {
    step_os(obs);
  } else {
    step_stationary(obs);
  }
}

// ------------------------------------------------------------------ fast-forward

int64_t SystolicCore::steady_run() const {
  // os: every lane injects, every used PE adds, no output is due yet.
  // ws/is: every lane injects, every PE of a used column holds a partial sum, and
  // every used column's bottom receives one.
  const int64_t start = cfg_.dataflow == Dataflow::kOS ? f_.rows_used + f_.cols_used - 2 : 2 * R_ + f_.cols_used - 2;
  const int64_t end = cfg_.dataflow == Dataflow::kOS ? steps_ * S_ - 1 : R_ + steps_ * S_;
  return t_ >= start && t_ < end ? end - t_ : 0;
}

void SystolicCore::fast_forward(int64_t n) {
  if (n <= 0) return;
  if (n > steady_run()) throw std::logic_error("SystolicCore::fast_forward beyond the steady stream");
  const int64_t t0 = t_, t1 = t_ + n;
  const int64_t ur = f_.rows_used, uc = f_.cols_used;
  if (cfg_.dataflow == Dataflow::kOS) {
    // Lane r reads the packs of steps whose tags q = t - r (t in [t0, t1)) are slice 0;
    // the packs of a range of steps are consecutive k: their elements telescope.
    auto elems = [&](int64_t lo_q, int64_t hi_q) {
      const int64_t i0 = ceil_div(lo_q, S_), i1 = ceil_div(hi_q, S_);
      if (i1 <= i0) return int64_t{0};
      return std::min(f_.k.end, f_.k.begin + i1 * P_) - (f_.k.begin + i0 * P_);
    };
    for (int64_t r = 0; r < ur; ++r) counts_.ifmap_read += elems(t0 - r, t1 - r);
    for (int64_t c = 0; c < uc; ++c) counts_.filter_read += elems(t0 - c, t1 - c);
    if (values_) {
      for (int64_t r = 0; r < ur; ++r)
        for (int64_t c = 0; c < uc; ++c) {
          int64_t& acc = acc_[static_cast<std::size_t>(r * C_ + c)];
          if (S_ == 1) {  // whole steps: one dot product over their k range
            const int64_t kb = f_.k.begin + (t0 - r - c) * P_, ke = std::min(f_.k.end, f_.k.begin + (t1 - r - c) * P_);
            acc = cfg_.pe.add(acc, dot(f_.m.begin + r, f_.n.begin + c, kb, ke));
            continue;
          }
          for (int64_t q = t0 - r - c; q < t1 - r - c; ++q) acc = cfg_.pe.add(acc, os_term(r, c, static_cast<int32_t>(q)));
        }
    }
  } else {
    const bool ws = cfg_.dataflow == Dataflow::kWS;
    int64_t& stream_count = ws ? counts_.ifmap_read : counts_.filter_read;
    for (int64_t r = 0; r < ur; ++r)
      stream_count += count_congruent(t0 - R_ - r, t1 - R_ - r, S_, 0) * pack_len(f_.k.begin + r * P_);
    // Column c's bottom receives tags q in [t0 - (2R-1) - c, t1 - (2R-1) - c).
    const int64_t base = 2 * R_ - 1;
    if (values_ && S_ == 1) {
      // Whole steps: every tag is an output, the product of an A row and a B column
      // over the fold's k range. Computed step by step for all columns at once (the
      // B row contiguous over the columns), keeping those this window emits.
      const GemmOperands& g = *values_;
      const int64_t q_lo = t0 - base - (uc - 1), q_hi = t1 - base;
      const int64_t width = ws ? uc : q_hi - q_lo;  // outputs per pass: columns (ws) or steps (is)
      sums_.assign(static_cast<std::size_t>(width), 0);
      auto emit = [&](int64_t c, int64_t q, int64_t sum) {
        if (q + c < t0 - base || q + c >= t1 - base) return;  // outside this window: stepped later
        int64_t& ca = col_acc_[static_cast<std::size_t>(c)];
        emit_output(c, f_.m.begin + (ws ? q : c), f_.n.begin + (ws ? c : q), cfg_.pe.add(ca, sum));
        ca = 0;
      };
      if (ws) {
        for (int64_t q = std::max<int64_t>(0, q_lo); q < q_hi; ++q) {
          std::fill(sums_.begin(), sums_.end(), 0);
          const int32_t* a = g.a + (f_.m.begin + q) * g.lda;
          for (int64_t k = f_.k.begin; k < f_.k.end; ++k) {
            const int64_t x = a[k];
            const int32_t* b = g.b + k * g.ldb + f_.n.begin;
            for (int64_t c = 0; c < uc; ++c) sums_[static_cast<std::size_t>(c)] += x * b[c];
          }
          for (int64_t c = 0; c < uc; ++c) emit(c, q, sums_[static_cast<std::size_t>(c)]);
        }
      } else {
        const int64_t q0 = std::max<int64_t>(0, q_lo);
        for (int64_t c = 0; c < uc; ++c) {
          std::fill(sums_.begin(), sums_.end(), 0);
          const int32_t* a = g.a + (f_.m.begin + c) * g.lda;
          for (int64_t k = f_.k.begin; k < f_.k.end; ++k) {
            const int64_t x = a[k];
            const int32_t* b = g.b + k * g.ldb + f_.n.begin + q0;
            for (int64_t q = 0; q < q_hi - q0; ++q) sums_[static_cast<std::size_t>(q)] += x * b[q];
          }
          for (int64_t q = q0; q < q_hi; ++q) emit(c, q, sums_[static_cast<std::size_t>(q - q0)]);
        }
      }
    } else {
      for (int64_t c = 0; c < uc; ++c) {
        const int64_t lo = t0 - base - c, hi = t1 - base - c;
        if (!values_) {
          const int64_t outs = count_congruent(lo, hi, S_, S_ - 1);
          counts_.ofmap_write += outs;
          if (!f_.first_k) counts_.psum_read += outs;
          continue;
        }
        int64_t& ca = col_acc_[static_cast<std::size_t>(c)];
        for (int64_t q = lo; q < hi; ++q) {
          int64_t wave = 0;
          for (int64_t r = 0; r < ur; ++r) wave = cfg_.pe.add(wave, stat_term(r, c, static_cast<int32_t>(q)));
          ca = cfg_.pe.add(ca, wave);
          if (q % S_ != S_ - 1) continue;
          const int64_t step = q / S_;
          emit_output(c, f_.m.begin + (ws ? step : c), f_.n.begin + (ws ? c : step), ca);
          ca = 0;
        }
      }
    }
  }
  t_ = t1;
  if (values_) set_registers_at(t1 - 1);
}

void SystolicCore::set_registers_at(int64_t t) {
  if (cfg_.dataflow == Dataflow::kOS) {
    for (int64_t r = 0; r < R_; ++r)
      for (int64_t c = 0; c < C_; ++c) {
        const auto i = static_cast<std::size_t>(r * C_ + c);
        h_[i] = row_tag(r, t - c);
        v_[i] = col_tag(c, t - r);
      }
    return;
  }
  for (int64_t r = 0; r < R_; ++r)
    for (int64_t c = 0; c < C_; ++c) {
      const auto i = static_cast<std::size_t>(r * C_ + c);
      h_[i] = row_tag(r, t - load_ - c);
      const int64_t q = t - load_ - r - c;  // the partial sum PE(r,c) computed in cycle t
      if (c >= f_.cols_used || q < 0 || q >= steps_ * S_) {
        ptag_[i] = -1;
        psum_[i] = 0;
        continue;
      }
      ptag_[i] = static_cast<int32_t>(q);
      int64_t val = 0;
      for (int64_t rr = 0; rr <= std::min(r, f_.rows_used - 1); ++rr)
        val = cfg_.pe.add(val, stat_term(rr, c, static_cast<int32_t>(q)));
      psum_[i] = val;
    }
}

SystolicCore::State SystolicCore::state() const {
  State s;
  s.cycle = t_;
  s.counts = counts_;
  if (values_) {
    s.h = h_;
    s.v = v_;
    s.w = w_;
    s.psum_tag = ptag_;
    s.psum = psum_;
    s.acc = acc_;
    s.col_acc = col_acc_;
  }
  return s;
}

std::vector<GemmOperands> repeat_operands(std::span<const int32_t> a, std::span<const int32_t> b, const GemmView& gv,
                                          std::vector<int64_t>& y, std::string_view layer) {
  if (static_cast<int64_t>(a.size()) != gv.repeats * gv.M * gv.K ||
      static_cast<int64_t>(b.size()) != gv.repeats * gv.K * gv.N)
    fail("layer '{}': operand sizes do not match its GEMM (M {} N {} K {} x {})", layer, gv.M, gv.N, gv.K, gv.repeats);
  y.assign(static_cast<std::size_t>(gv.repeats * gv.M * gv.N), 0);
  std::vector<GemmOperands> ops;
  ops.reserve(static_cast<std::size_t>(gv.repeats));
  for (int64_t r = 0; r < gv.repeats; ++r)
    ops.push_back({a.data() + r * gv.M * gv.K, gv.K, b.data() + r * gv.K * gv.N, gv.N, y.data() + r * gv.M * gv.N, gv.N});
  return ops;
}

}  // namespace qsim
