#include "sim/rtl/rtl_array.h"

#include <random>
#include <stdexcept>
#include <string>

#include <verilated.h>

#include "Vqsim_array_16x16_a32.h"
#include "Vqsim_array_4x4_a16.h"
#include "Vqsim_array_8x8_a32.h"
#include "arith/int_arith.h"

// Verilator's runtime asks the program for the simulation time (no timing here).
double sc_time_stamp() { return 0; }

namespace qsim {

namespace {

using intarith::ceil_div;

// Encodings of rtl/qsim_rtl_pkg.sv.
uint8_t dataflow_code(Dataflow d) { return d == Dataflow::kOS ? 0 : (d == Dataflow::kWS ? 1 : 2); }
uint8_t width_code(int bits) { return bits == 2 ? 0 : (bits == 4 ? 1 : 2); }

// A fold's lanes as the operand buffers see them: the GEMM coordinates a lane's
// step reads, and the word of packed elements there.
struct FoldLanes {
  const RtlFold* f = nullptr;
  int64_t pack = 1, bits_a = 8, bits_w = 8;

  int32_t pack_len(int64_t kk) const { return static_cast<int32_t>(std::clamp<int64_t>(f->work.k.end - kk, 0, pack)); }
  int64_t kk(int64_t index) const { return f->work.k.begin + index * pack; }

  // west lane r, step q (os/ws: activations; is: weights)
  TileEvent west(int64_t cycle, int32_t r, int64_t q) const {
    const FoldWork& w = f->work;
    switch (f->dataflow) {
      case Dataflow::kOS: return {cycle, LaneKind::kIfmap, r, {w.m.begin + r, kk(q), pack_len(kk(q))}, 0};
      case Dataflow::kWS: return {cycle, LaneKind::kIfmap, r, {w.m.begin + q, kk(r), pack_len(kk(r))}, 0};
      case Dataflow::kIS: return {cycle, LaneKind::kFilter, r, {kk(r), w.n.begin + q, pack_len(kk(r))}, 0};
    }
    return {};
  }
  // north lane c, index j (os: step; ws/is: tile row of the stationary operand)
  TileEvent north(int64_t cycle, int32_t c, int64_t j) const {
    const FoldWork& w = f->work;
    if (f->dataflow == Dataflow::kIS) return {cycle, LaneKind::kIfmap, c, {w.m.begin + c, kk(j), pack_len(kk(j))}, 0};
    return {cycle, LaneKind::kFilter, c, {kk(j), w.n.begin + c, pack_len(kk(j))}, 0};
  }
  // the output (or partial sum) of column c, step s
  LaneAccess out(int32_t c, int64_t s) const {
    const FoldWork& w = f->work;
    if (f->dataflow == Dataflow::kIS) return {w.m.begin + c, w.n.begin + s, 1};
    return {w.m.begin + s, w.n.begin + c, 1};
  }
  uint32_t word(const TileEvent& e) const {
    const GemmOperands* g = f->values;
    if (!g) return 0;
    uint32_t v = 0;
    const bool act = e.kind == LaneKind::kIfmap;
    const int64_t bits = act ? bits_a : bits_w;
    const uint32_t mask = (uint32_t{1} << bits) - 1;
    for (int32_t i = 0; i < e.at.count; ++i) {
      const int32_t x = act ? g->a[e.at.row * g->lda + e.at.col + i] : g->b[(e.at.row + i) * g->ldb + e.at.col];
      v |= (static_cast<uint32_t>(x) & mask) << (i * bits);
    }
    return v;
  }
};

template <class V>
class VerilatedArray final : public RtlArray {
 public:
  explicit VerilatedArray(RtlModelInfo info) : info_(std::move(info)), ctx_(new VerilatedContext), top_(new V(ctx_.get())) {}
  ~VerilatedArray() override { top_->final(); }
  const RtlModelInfo& info() const override { return info_; }
  void poison_idle_lanes(bool on) override { poison_ = on; }

  RtlRunStats run(std::span<const RtlFold> folds, RtlObserver* obs) override {
    const int64_t R = info_.rows, C = info_.cols;
    std::vector<FoldLanes> lanes(folds.size());
    for (std::size_t i = 0; i < folds.size(); ++i) {
      const RtlFold& f = folds[i];
      const PeArith& pe = f.pe;
      const bool fixed = pe.model == PeModel::kFixed;
      if (pe.model == PeModel::kBitSerial || (!fixed && ((pe.wbits != 2 && pe.wbits != 4 && pe.wbits != 8) ||
                                                         (pe.abits != 2 && pe.abits != 4 && pe.abits != 8))))
        throw std::invalid_argument("the RTL array runs fixed 8-bit and Bit Fusion 2/4/8-bit folds only");
      if (!fixed && pe.pack != (8 / pe.wbits) * (8 / pe.abits))
        throw std::invalid_argument("a Bit Fusion fold must pack (8/wbits)*(8/abits) products");
      if (pe.acc_bits != info_.acc_bits)
        throw std::invalid_argument("the RTL model " + info_.name + " has " + std::to_string(info_.acc_bits) +
                                    "-bit accumulators, the fold wants " + std::to_string(pe.acc_bits));
      if (f.rows < 1 || f.rows > R || f.cols < 1 || f.cols > C || f.work.rows_used < 1 || f.work.rows_used > f.rows ||
          f.work.cols_used < 1 || f.work.cols_used > f.cols)
        throw std::invalid_argument("a fold's array (" + std::to_string(f.rows) + "x" + std::to_string(f.cols) +
                                    ") must fit the RTL model " + info_.name);
      lanes[i] = {&f, fixed ? 1 : pe.pack, fixed ? 8 : pe.abits, fixed ? 8 : pe.wbits};
    }
    RtlRunStats stats;
    stats.fold_cycles.assign(folds.size(), 0);
    V& t = *top_;
    // Reset.
    t.rst = 1;
    t.cmd_valid = 0;
    tick();
    tick();
    t.rst = 0;
    t.eval();

    std::vector<int64_t> req_origin(folds.size(), -1), start(folds.size(), -1);
    std::size_t queued = 0, done = 0;
    int64_t rq = -1, ex = -1;  // folds in the request and execute stages
    std::mt19937 noise(7);
    for (int64_t cycle = 0; done < folds.size(); ++cycle) {
      if (cycle > (int64_t{1} << 40)) throw std::runtime_error("RTL array: no progress");
      if (t.req_start) {
        ++rq;
        if (rq >= static_cast<int64_t>(folds.size())) throw std::runtime_error("RTL array: a fold nobody queued");
        req_origin[static_cast<std::size_t>(rq)] = cycle;
      }
      if (t.fold_start) {
        ++ex;
        if (ex > rq || req_origin[static_cast<std::size_t>(ex)] != cycle - 1)
          throw std::runtime_error("RTL array: fold " + std::to_string(ex) + " did not start the cycle after its first requests");
        if (ex > 0 && start[static_cast<std::size_t>(ex - 1)] + stats.fold_cycles[static_cast<std::size_t>(ex - 1)] != cycle)
          throw std::runtime_error("RTL array: fold " + std::to_string(ex) + " did not follow its predecessor");
        start[static_cast<std::size_t>(ex)] = cycle;
      }
      // Outputs written in this cycle.
      if (ex >= 0) {
        const auto fe = static_cast<std::size_t>(ex);
        const FoldLanes& L = lanes[fe];
        for (int32_t c = 0; c < C; ++c) {
          if (!t.south_valid[c]) continue;
          const LaneAccess at = L.out(c, static_cast<int64_t>(t.south_step[c]));
          const int64_t v = intarith::wrap(static_cast<int64_t>(t.south_data[c]), info_.acc_bits);
          if (const GemmOperands* g = folds[fe].values) g->y[at.row * g->ldy + at.col] = v;
          if (obs) obs->on_event(fe, {cycle - start[fe], LaneKind::kOfmap, c, at, v});
        }
        if (t.fold_last) {
          stats.fold_cycles[fe] = cycle - start[fe] + 1;
          stats.compute_cycles += stats.fold_cycles[fe];
          ++done;
        }
      }
      // The buffers answer this cycle's requests (data at the array edge next cycle).
      const bool req = rq >= 0 && static_cast<std::size_t>(rq) < folds.size();
      const FoldLanes* L = req ? &lanes[static_cast<std::size_t>(rq)] : nullptr;
      const int64_t rc = req ? cycle - req_origin[static_cast<std::size_t>(rq)] : 0;
      for (int32_t r = 0; r < R; ++r) {
        uint32_t w = poison_ ? static_cast<uint32_t>(noise()) : 0;
        if (t.west_rd[r] && L) {
          const TileEvent e = L->west(rc, r, static_cast<int64_t>(t.west_step[r]));
          w = L->word(e);
          if (obs) obs->on_event(static_cast<std::size_t>(rq), e);
        }
        t.west_data[r] = w;
      }
      for (int32_t c = 0; c < C; ++c) {
        uint32_t w = poison_ ? static_cast<uint32_t>(noise()) : 0;
        if (t.north_rd[c] && L) {
          const TileEvent e = L->north(rc, c, static_cast<int64_t>(t.north_step[c]));
          w = L->word(e);
          if (obs) obs->on_event(static_cast<std::size_t>(rq), e);
        }
        t.north_data[c] = w;
        uint64_t p = poison_ ? noise() : 0;
        if (t.psum_rd[c] && L) {
          const LaneAccess at = L->out(c, static_cast<int64_t>(t.psum_step[c]));
          const GemmOperands* g = L->f->values;
          p = g ? static_cast<uint64_t>(g->y[at.row * g->ldy + at.col]) : 0;
          if (obs) obs->on_event(static_cast<std::size_t>(rq), {rc, LaneKind::kPsum, c, at, 0});
        }
        t.psum_data[c] = static_cast<std::remove_reference_t<decltype(t.psum_data[0])>>(p);
      }
      // Keep the fold queue full.
      if (queued < folds.size() && t.cmd_ready) {
        const RtlFold& f = folds[queued];
        const bool fixed = f.pe.model == PeModel::kFixed;
        t.cmd_valid = 1;
        t.cmd_dataflow = dataflow_code(f.dataflow);
        t.cmd_wmode = width_code(fixed ? 8 : f.pe.wbits);
        t.cmd_amode = width_code(fixed ? 8 : f.pe.abits);
        t.cmd_w_signed = f.pe.w_signed;
        t.cmd_a_signed = f.pe.a_signed;
        t.cmd_accumulate = !f.work.first_k;
        t.cmd_rows = static_cast<uint16_t>(f.rows);
        t.cmd_cols = static_cast<uint16_t>(f.cols);
        t.cmd_rows_used = static_cast<uint16_t>(f.work.rows_used);
        t.cmd_cols_used = static_cast<uint16_t>(f.work.cols_used);
        const int64_t steps = f.dataflow == Dataflow::kOS ? ceil_div(f.work.k.size(), lanes[queued].pack)
                                                          : (f.dataflow == Dataflow::kWS ? f.work.m.size() : f.work.n.size());
        t.cmd_steps = static_cast<uint32_t>(steps);
        ++queued;
      } else {
        t.cmd_valid = 0;
      }
      if (done < folds.size()) tick();
      ++stats.clock_cycles;
    }
    return stats;
  }

 private:
  void tick() {
    top_->clk = 1;
    top_->eval();
    top_->clk = 0;
    top_->eval();
  }

  RtlModelInfo info_;
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> top_;
  bool poison_ = false;
};

}  // namespace

const std::vector<RtlModelInfo>& rtl_models() {
  static const std::vector<RtlModelInfo> models{{"4x4_a16", 4, 4, 16}, {"8x8_a32", 8, 8, 32}, {"16x16_a32", 16, 16, 32}};
  return models;
}

std::unique_ptr<RtlArray> make_rtl_array(std::string_view name) {
  const auto& m = rtl_models();
  if (name == "4x4_a16") return std::make_unique<VerilatedArray<Vqsim_array_4x4_a16>>(m[0]);
  if (name == "8x8_a32") return std::make_unique<VerilatedArray<Vqsim_array_8x8_a32>>(m[1]);
  if (name == "16x16_a32") return std::make_unique<VerilatedArray<Vqsim_array_16x16_a32>>(m[2]);
  throw std::invalid_argument("no RTL model '" + std::string(name) + "' (built: 4x4_a16, 8x8_a32, 16x16_a32)");
}

}  // namespace qsim
