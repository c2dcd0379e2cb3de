#include "sim/systolic/tile_vectors.h"
#include "arith/int_arith.h"

#include <algorithm>
#include <random>
#include <sstream>
#include <tuple>

namespace qsim {

namespace {

using intarith::ceil_div;

const char* kind_name(LaneKind k) {
  switch (k) {
    case LaneKind::kIfmap: return "ifmap";
    case LaneKind::kFilter: return "filter";
    case LaneKind::kPsum: return "psum";
    case LaneKind::kOfmap: return "ofmap";
  }
  return "?";
}

std::string event_text(const TileEvent& e) {
  std::ostringstream s;
  s << "cycle " << e.cycle << ": " << kind_name(e.kind) << " lane " << e.lane << " (" << e.at.row << ", " << e.at.col
    << ") x" << e.at.count;
  if (e.kind == LaneKind::kOfmap) s << " value " << e.value;
  return s.str();
}

struct Recorder : EdgeObserver {
  std::vector<TileEvent> events;
  void on_cycle(const EdgeCycle& c) override {
    auto add = [&](LaneKind k, std::span<const LaneAccess> lanes) {
      for (std::size_t i = 0; i < lanes.size(); ++i)
        if (lanes[i].count > 0) events.push_back({c.cycle, k, static_cast<int32_t>(i), lanes[i], 0});
    };
    add(LaneKind::kIfmap, c.ifmap);
    add(LaneKind::kFilter, c.filter);
    add(LaneKind::kPsum, c.psum);
    add(LaneKind::kOfmap, c.ofmap);
  }
};

}  // namespace

std::string TileVector::describe() const {
  std::ostringstream s;
  s << dataflow_name(dataflow) << " " << rows << "x" << cols << " array, " << pe_model_name(pe.model) << " w"
    << pe.wbits << (pe.w_signed ? " signed" : " unsigned") << " a" << pe.abits
    << (pe.a_signed ? " signed" : " unsigned") << " pack " << pe.pack << " acc "
    << pe.acc_bits << ", used " << fold.rows_used << "x" << fold.cols_used << ", m [" << fold.m.begin << ","
    << fold.m.end << ") n [" << fold.n.begin << "," << fold.n.end << ") k [" << fold.k.begin << "," << fold.k.end
    << ")" << (fold.first_k ? "" : " accumulate");
  return s.str();
}

std::vector<TileVector> generate_tiles(const TileGenSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<TileVector> tiles;
  tiles.reserve(static_cast<std::size_t>(spec.count));
  const int widths[] = {2, 4, 8};
  for (int64_t i = 0; i < spec.count; ++i) {
    TileVector t;
    t.dataflow = spec.dataflows[static_cast<std::size_t>(i) % spec.dataflows.size()];
    // Mostly the whole array, sometimes an active part of it.
    t.rows = pick(0, 2) == 0 ? pick(1, spec.max_rows) : spec.max_rows;
    t.cols = pick(0, 2) == 0 ? pick(1, spec.max_cols) : spec.max_cols;
    PeArith& pe = t.pe;
    pe.acc_bits = spec.acc_bits;
    pe.a_signed = pick(0, 1) == 1;
    pe.w_signed = pick(0, 1) == 1;
    if (pick(0, 4) == 0) {
      pe.model = PeModel::kFixed;
      pe.wbits = pe.abits = 8;
      pe.pack = 1;
    } else {
      pe.model = PeModel::kBitFusion;
      pe.wbits = widths[pick(0, 2)];
      pe.abits = widths[pick(0, 2)];
      pe.pack = (8 / pe.wbits) * (8 / pe.abits);
    }
    const int64_t P = pe.pack;
    const bool full = pick(0, 1) == 0;  // every PE row / column used
    int64_t mt = 0, nt = 0, kt = 0;
    FoldWork& f = t.fold;
    switch (t.dataflow) {
      case Dataflow::kOS:
        mt = full ? t.rows : pick(1, t.rows);
        nt = full ? t.cols : pick(1, t.cols);
        kt = pick(1, spec.max_steps * P);
        f.rows_used = mt;
        f.cols_used = nt;
        break;
      case Dataflow::kWS:
      case Dataflow::kIS: {
        const int64_t used = full ? t.rows : pick(1, t.rows);
        kt = pick((used - 1) * P + 1, used * P);
        const int64_t lanes = full ? t.cols : pick(1, t.cols);
        const int64_t stream = pick(1, spec.max_steps);
        mt = t.dataflow == Dataflow::kWS ? stream : lanes;
        nt = t.dataflow == Dataflow::kWS ? lanes : stream;
        f.rows_used = ceil_div(kt, P);
        f.cols_used = lanes;
        f.first_k = pick(0, 1) == 0;
        break;
      }
    }
    const int64_t m0 = pick(0, 3), n0 = pick(0, 3), k0 = pick(0, 3);
    f.m = {m0, m0 + mt};
    f.n = {n0, n0 + nt};
    f.k = {k0, k0 + kt};
    t.M = f.m.end + pick(0, 2);
    t.N = f.n.end + pick(0, 2);
    t.K = f.k.end + pick(0, 2);

    const bool extreme = pick(0, 4) == 0;
    const intarith::QRange ar = intarith::qrange(pe.abits, pe.a_signed), wr = intarith::qrange(pe.wbits, pe.w_signed);
    const bool a_hi = pick(0, 1) == 1, w_hi = pick(0, 1) == 1;
    auto value = [&](intarith::QRange r, bool hi) {
      return extreme ? (hi ? r.hi : r.lo) : static_cast<int32_t>(pick(r.lo, r.hi));
    };
    t.a.resize(static_cast<std::size_t>(t.M * t.K));
    for (auto& v : t.a) v = value(ar, a_hi);
    t.b.resize(static_cast<std::size_t>(t.K * t.N));
    for (auto& v : t.b) v = value(wr, w_hi);
    t.y.resize(static_cast<std::size_t>(t.M * t.N));
    const int64_t half = int64_t{1} << (pe.acc_bits - 1);
    for (auto& v : t.y) {
      const int64_t raw = extreme ? (pick(0, 1) ? half - 1 - pick(0, 3) : -half + pick(0, 3))
                                  : pick(-half / 4, half / 4);
      v = intarith::wrap(raw, pe.acc_bits);
    }
    tiles.push_back(std::move(t));
  }
  return tiles;
}

void sort_events(std::vector<TileEvent>& events) {
  std::sort(events.begin(), events.end(), [](const TileEvent& x, const TileEvent& y) {
    return std::tie(x.cycle, x.kind, x.lane) < std::tie(y.cycle, y.kind, y.lane);
  });
}

TileTrace reference_trace(const TileVector& t) {
  SystolicCore core;
  core.configure({t.dataflow, t.rows, t.cols, t.pe});
  std::vector<int64_t> y = t.y;
  const GemmOperands ops{t.a.data(), t.K, t.b.data(), t.N, y.data(), t.N};
  core.begin_fold(t.fold, &ops);
  Recorder rec;
  while (!core.done()) core.step(&rec);
  for (TileEvent& e : rec.events)
    if (e.kind == LaneKind::kOfmap) e.value = y[static_cast<std::size_t>(e.at.row * t.N + e.at.col)];
  sort_events(rec.events);
  return {core.fold_cycles(), std::move(rec.events)};
}

std::string first_difference(const TileTrace& want, const TileTrace& got) {
  const std::size_t n = std::min(want.events.size(), got.events.size());
  for (std::size_t i = 0; i < n; ++i)
    if (!(want.events[i] == got.events[i]))
      return event_text(got.events[i]) + ", want " + event_text(want.events[i]);
  if (want.events.size() != got.events.size()) {
    const bool extra = got.events.size() > n;
    return (extra ? "extra " : "missing ") + event_text(extra ? got.events[n] : want.events[n]);
  }
  if (want.cycles != got.cycles)
    return "fold length " + std::to_string(got.cycles) + ", want " + std::to_string(want.cycles);
  return {};
}

}  // namespace qsim
