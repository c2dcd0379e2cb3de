#include "sim/mapping.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "graph/error.h"

namespace qsim {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Where messages about the hardware point: the config file, else its name.
std::string_view hw_where(const HwSpec& hw) {
  if (!hw.source.empty()) return hw.source;
  if (!hw.name.empty()) return hw.name;
  return "hardware";
}

Range tile(int64_t index, int64_t step, int64_t limit) {
  const int64_t b = index * step;
  return {b, std::min(limit, b + step)};
}

// Representative positions of one loop axis of length n. Positions whose own
// state and whose neighbours' state differ (the ends and their neighbours) are
// kept alone; the middle positions 2..n-3 share one representative. With
// `ends_only` (the repeat axis, where nothing but the very first and very last
// fold is special) only 0 and n-1 are kept alone.
struct AxisRep {
  int64_t pos;
  int64_t count;
};
int axis_reps(int64_t n, bool ends_only, AxisRep out[5]) {
  const int64_t edge = ends_only ? 1 : 2;  // positions kept alone at each end
  if (n <= 2 * edge + 1) {
    for (int64_t p = 0; p < n; ++p) out[p] = {p, 1};
    return static_cast<int>(n);
  }
  int k = 0;
  for (int64_t p = 0; p < edge; ++p) out[k++] = {p, 1};
  out[k++] = {edge, n - 2 * edge};
  for (int64_t p = n - edge; p < n; ++p) out[k++] = {p, 1};
  return k;
}

}  // namespace

std::string_view loop_order_name(LoopOrder o) {
  return o == LoopOrder::kColsOuter ? "cols-outer" : "rows-outer";
}

std::string_view fetch_rule_name(FetchRule r) {
  switch (r) {
    case FetchRule::kEveryFold: return "every-fold";
    case FetchRule::kFirstOuter: return "resident";
    case FetchRule::kFirstInner: return "per-outer";
  }
  return "?";
}

std::string_view psum_rule_name(PsumRule r) {
  switch (r) {
    case PsumRule::kNone: return "none";
    case PsumRule::kOnChip: return "on-chip";
    case PsumRule::kSpill: return "spill";
  }
  return "?";
}

PeRate resolve_pe_rate(const HwSpec& hw, int wbits, int abits, std::string_view layer) {
  const PeSpec& pe = hw.pe;
  const int B = pe.base_bits;
  if (B < 1) fail("{}: pe.base_bits {} must be positive", hw_where(hw), B);
  if (wbits < 1 || abits < 1)
    fail("{}: layer '{}': widths must be positive (wbits {}, abits {})", hw_where(hw), layer, wbits, abits);
  // A fixed PE runs everything at base_bits; an empty pe.widths (hand-built
  // specs) means just that. The other models need their supported widths.
  if (pe.widths.empty() && pe.precision != PeModel::kFixed)
    fail("{}: pe.widths is empty; a {} PE needs the widths it runs", hw_where(hw), pe_model_name(pe.precision));
  // effective_width (sim/hw_spec.h): the smallest supported width >= bits.
  auto run_width = [&](int bits, std::string_view what) {
    const int w = pe.widths.empty() ? (bits <= B ? B : 0) : effective_width(pe, bits);
    if (w == 0 || w > B)
      fail("{}: layer '{}': {} {} is wider than the {} PE supports (pe.base_bits {}, pe.widths up to {})",
           hw_where(hw), layer, what, bits, pe_model_name(pe.precision), B,
           pe.widths.empty() ? B : pe.widths.back());
    return w;
  };

  PeRate r;
  r.wbits = run_width(wbits, "wbits");
  r.abits = run_width(abits, "abits");
  switch (pe.precision) {
    case PeModel::kFixed:
      r.wbits = B;  // narrow operands run at full width and gain nothing
      r.abits = B;
      return r;
    case PeModel::kBitFusion:
      for (int w : {r.wbits, r.abits})
        if (B % w != 0)
          fail("{}: layer '{}': width {} does not divide pe.base_bits {}; bitfusion bricks cannot fuse to it",
               hw_where(hw), layer, w, B);
      r.pack = static_cast<int64_t>(B / r.wbits) * (B / r.abits);
      return r;
    case PeModel::kBitSerial:
      r.cycles_per_mac =
          pe.serial == SerialOperand::kActivation ? r.abits : static_cast<int64_t>(r.wbits) * r.abits;
      return r;
  }
  throw std::logic_error("resolve_pe_rate: unknown PE model");
}

Storage Storage::of(int bits, const MemorySpec& mem) {
  if (bits < 1 || mem.word_bits < 1) throw std::invalid_argument("Storage::of: widths must be positive");
  Storage s;
  s.bits = bits;
  const int W = mem.word_bits;
  if (mem.pack_narrow && bits <= W) {
    s.num = W;
    s.den = W / bits;  // elements per word
  } else {
    s.num = static_cast<int64_t>(ceil_div(bits, W)) * W;  // whole words per element
    s.den = 1;
  }
  return s;
}

int64_t Storage::bytes(int64_t elems) const {
  // Whole bytes per element (8, 16, 32-bit words) is the common case: no division.
  if (den == 1 && num % 8 == 0) return elems * (num / 8);
  int64_t bits_total = 0;
  if (!__builtin_mul_overflow(elems, num, &bits_total)) return (bits_total + 8 * den - 1) / (8 * den);
  const __int128 wide = static_cast<__int128>(elems) * num;
  return static_cast<int64_t>((wide + 8 * den - 1) / (8 * den));
}

namespace {

// The DRAM footprint of an ifmap tile: A is the im2col matrix (M x K) but a sweep
// over all of it fetches only the unique input elements (sliding-window reuse is
// captured by the ifmap buffer), so a tile is charged its share of them. Exact
// for GEMMs (unique == M*K).
int64_t ifmap_fetch_elems(int64_t tile_elems, int64_t unique, int64_t MK) {
  if (unique == MK) return tile_elems;
  int64_t p = 0;
  if (!__builtin_mul_overflow(tile_elems, unique, &p)) return (p + MK - 1) / MK;
  const __int128 wide = static_cast<__int128>(tile_elems) * unique;
  return static_cast<int64_t>((wide + MK - 1) / MK);
}

struct Plan {
  FetchRule ifmap = FetchRule::kEveryFold;
  FetchRule filter = FetchRule::kEveryFold;
  PsumRule psum = PsumRule::kNone;
  int64_t dram_bytes = 0;  // estimate used only to choose the loop order
};

// Residency and traffic for one loop order. Operand dependence on the fold
// indices (row fold r, column fold c): A on r (and c in IS), B on c (OS), on
// (r, c) (WS), on r (IS); Y (WS/IS) on c, reduced over r.
Plan plan_for(const Schedule& s, LoopOrder order, int64_t M, int64_t N, int64_t K) {
  const bool cols_outer = order == LoopOrder::kColsOuter;
  const int64_t n_outer = cols_outer ? s.col_folds : s.row_folds;
  const int64_t n_inner = cols_outer ? s.row_folds : s.col_folds;
  const int64_t rk = s.rows * s.pe.pack;  // K elements per row fold (WS/IS)
  const int64_t MK = M * K;

  struct Rule {
    FetchRule rule;
    int64_t passes;  // how many times the whole operand crosses the DRAM interface
  };
  auto rule_for = [&](bool dep_row, bool dep_col, bool whole_fits, bool tile_fits) -> Rule {
    const bool dep_outer = cols_outer ? dep_col : dep_row;
    const bool dep_inner = cols_outer ? dep_row : dep_col;
    if (dep_outer && dep_inner) return {FetchRule::kEveryFold, 1};  // every tile used by one fold
    if (dep_inner) return whole_fits ? Rule{FetchRule::kFirstOuter, 1} : Rule{FetchRule::kEveryFold, n_outer};
    return tile_fits ? Rule{FetchRule::kFirstInner, 1} : Rule{FetchRule::kEveryFold, n_inner};
  };

  Plan p;
  // ifmap A
  {
    const bool dep_col = s.dataflow == Dataflow::kIS;
    const int64_t row_tile = s.dataflow == Dataflow::kOS ? std::min(M, s.rows) * K : M * std::min(K, rk);
    const bool whole = s.ifmap_store.fits(s.ifmap_unique, s.ifmap_buffer_bytes);
    const bool tile = s.ifmap_store.fits(ifmap_fetch_elems(row_tile, s.ifmap_unique, MK), s.ifmap_buffer_bytes);
    const Rule r = rule_for(true, dep_col, whole, tile);
    p.ifmap = r.rule;
    p.dram_bytes += r.passes * s.ifmap_store.bytes(s.ifmap_unique);
  }
  // filter B
  {
    const bool dep_row = s.dataflow != Dataflow::kOS;
    const bool dep_col = s.dataflow != Dataflow::kIS;
    const int64_t tile_elems = s.dataflow == Dataflow::kOS ? K * std::min(N, s.cols) : std::min(K, rk) * N;
    const bool whole = s.filter_store.fits(K * N, s.filter_buffer_bytes);
    const bool tile = s.filter_store.fits(tile_elems, s.filter_buffer_bytes);
    const Rule r = rule_for(dep_row, dep_col, whole, tile);
    p.filter = r.rule;
    p.dram_bytes += r.passes * s.filter_store.bytes(K * N);
  }
  // ofmap Y: partial sums when K spans several row folds (WS/IS)
  if (s.dataflow != Dataflow::kOS && s.row_folds > 1) {
    // cols-outer: one column fold's tile accumulates over the inner loop;
    // rows-outer: every tile stays open across the outer loop.
    const int64_t acc_elems = !cols_outer ? M * N
                              : s.dataflow == Dataflow::kWS ? M * std::min(N, s.cols)
                                                            : std::min(M, s.cols) * N;
    p.psum = s.psum_store.fits(acc_elems, s.ofmap_buffer_bytes) ? PsumRule::kOnChip : PsumRule::kSpill;
    if (p.psum == PsumRule::kSpill) p.dram_bytes += 2 * (s.row_folds - 1) * s.psum_store.bytes(M * N);
  }
  p.dram_bytes += s.ofmap_store.bytes(M * N);
  return p;
}

bool fetched(FetchRule r, int64_t outer, int64_t inner) {
  switch (r) {
    case FetchRule::kEveryFold: return true;
    case FetchRule::kFirstOuter: return outer == 0;
    case FetchRule::kFirstInner: return inner == 0;
  }
  return true;
}

}  // namespace

Schedule map_layer(const MapRequest& req, const HwSpec& hw, std::string_view layer) {
  const GemmView& g = req.gemm;
  if (hw.array.rows < 1 || hw.array.cols < 1)
    fail("{}: array.rows and array.cols must be positive (got {} x {})", hw_where(hw), hw.array.rows, hw.array.cols);
  if (hw.memory.word_bits < 1) fail("{}: memory.word_bits {} must be positive", hw_where(hw), hw.memory.word_bits);
  if (hw.pe.acc_bits < 1) fail("{}: pe.acc_bits {} must be positive", hw_where(hw), hw.pe.acc_bits);
  if (g.M < 1 || g.N < 1 || g.K < 1 || g.repeats < 1)
    fail("layer '{}': empty GEMM (M={} N={} K={} repeats={})", layer, g.M, g.N, g.K, g.repeats);
  if (req.obits < 1) fail("layer '{}': output width {} must be positive", layer, req.obits);

  Schedule s;
  s.dataflow = hw.array.dataflow;
  s.rows = hw.array.rows;
  s.cols = hw.array.cols;
  s.gemm = g;
  s.pe = resolve_pe_rate(hw, req.wbits, req.abits, layer);
  // Tensors are stored at the layer's own widths: the PE model changes how they
  // are multiplied, not how many bits they occupy.
  s.ifmap_store = Storage::of(req.abits, hw.memory);
  s.filter_store = Storage::of(req.wbits, hw.memory);
  s.ofmap_store = Storage::of(req.obits, hw.memory);
  s.psum_store = Storage::of(hw.pe.acc_bits, hw.memory);

  const int64_t R = s.rows, C = s.cols, steps = s.pe.cycles_per_mac;
  const int64_t Kp = ceil_div(g.K, s.pe.pack);  // reduction length in PE packs
  switch (s.dataflow) {
    case Dataflow::kOS:
      s.Sr = g.M, s.Sc = g.N, s.T = Kp;
      s.fold_cycles = R + C - 2 + s.T * steps;
      break;
    case Dataflow::kWS:
      s.Sr = Kp, s.Sc = g.N, s.T = g.M;
      s.fold_cycles = 2 * R + C - 2 + s.T * steps;
      break;
    case Dataflow::kIS:
      s.Sr = Kp, s.Sc = g.M, s.T = g.N;
      s.fold_cycles = 2 * R + C - 2 + s.T * steps;
      break;
  }
  s.row_folds = ceil_div(s.Sr, R);
  s.col_folds = ceil_div(s.Sc, C);

  const int64_t MK = g.M * g.K;
  s.ifmap_unique = req.ifmap_elems > 0 ? std::min(MK, ceil_div(req.ifmap_elems, g.repeats)) : MK;
  const double share = hw.memory.double_buffer ? 0.5 : 1.0;  // the other half is being refilled
  auto working = [&](double kib) { return static_cast<int64_t>(std::floor(std::max(0.0, kib) * 1024.0 * share)); };
  s.ifmap_buffer_bytes = working(hw.memory.ifmap_kib);
  s.filter_buffer_bytes = working(hw.memory.filter_kib);
  s.ofmap_buffer_bytes = working(hw.memory.ofmap_kib);

  // SCALE-Sim's order unless swapping the fold loops moves fewer DRAM bytes.
  const Plan cols_outer = plan_for(s, LoopOrder::kColsOuter, g.M, g.N, g.K);
  const Plan rows_outer = plan_for(s, LoopOrder::kRowsOuter, g.M, g.N, g.K);
  const bool swap = rows_outer.dram_bytes < cols_outer.dram_bytes;
  const Plan& p = swap ? rows_outer : cols_outer;
  s.order = swap ? LoopOrder::kRowsOuter : LoopOrder::kColsOuter;
  s.ifmap_rule = p.ifmap;
  s.filter_rule = p.filter;
  s.psum_rule = p.psum;
  return s;
}

FoldStep Schedule::fold(int64_t index) const {
  FoldStep f;
  f.index = index;
  const int64_t per = row_folds * col_folds;
  f.repeat = index / per;
  const int64_t rem = index % per;
  const int64_t n_inner = inner_folds();
  const int64_t outer = rem / n_inner, inner = rem % n_inner;
  const bool cols_outer = order == LoopOrder::kColsOuter;
  f.row_fold = cols_outer ? inner : outer;
  f.col_fold = cols_outer ? outer : inner;

  const int64_t M = gemm.M, N = gemm.N, K = gemm.K;
  const int64_t rk = rows * pe.pack;
  switch (dataflow) {
    case Dataflow::kOS:
      f.m = tile(f.row_fold, rows, M);
      f.n = tile(f.col_fold, cols, N);
      f.k = {0, K};
      f.rows_used = f.m.size();
      f.cols_used = f.n.size();
      break;
    case Dataflow::kWS:
      f.k = tile(f.row_fold, rk, K);
      f.n = tile(f.col_fold, cols, N);
      f.m = {0, M};
      f.rows_used = ceil_div(f.k.size(), pe.pack);
      f.cols_used = f.n.size();
      f.first_k = f.row_fold == 0;
      f.last_k = f.row_fold == row_folds - 1;
      break;
    case Dataflow::kIS:
      f.k = tile(f.row_fold, rk, K);
      f.m = tile(f.col_fold, cols, M);
      f.n = {0, N};
      f.rows_used = ceil_div(f.k.size(), pe.pack);
      f.cols_used = f.m.size();
      f.first_k = f.row_fold == 0;
      f.last_k = f.row_fold == row_folds - 1;
      break;
  }

  const int64_t a = f.m.size() * f.k.size();
  const int64_t b = f.k.size() * f.n.size();
  const int64_t y = f.m.size() * f.n.size();
  if (fetched(ifmap_rule, outer, inner)) f.ifmap_dram_in = ifmap_store.bytes(ifmap_fetch_elems(a, ifmap_unique, M * K));
  if (fetched(filter_rule, outer, inner)) f.filter_dram_in = filter_store.bytes(b);
  f.ifmap_sram_read = ifmap_store.bytes(a);
  f.filter_sram_read = filter_store.bytes(b);
  const bool spill = psum_rule == PsumRule::kSpill;
  if (f.last_k) {
    f.ofmap_sram_write = ofmap_store.bytes(y);
    f.ofmap_dram_out = f.ofmap_sram_write;
  } else {
    f.ofmap_sram_write = psum_store.bytes(y);
    if (spill) f.psum_dram_out = f.ofmap_sram_write;
  }
  if (!f.first_k) {
    f.psum_sram_read = psum_store.bytes(y);
    if (spill) f.psum_dram_in = f.psum_sram_read;
  }
  return f;
}

FoldClasses Schedule::fold_classes() const {
  FoldClasses out;
  AxisRep reps[5], outs[5], ins[5];
  const int nr = axis_reps(gemm.repeats, true, reps);
  const int no = axis_reps(outer_folds(), false, outs);
  const int ni = axis_reps(inner_folds(), false, ins);
  const int64_t per = row_folds * col_folds, n_inner = inner_folds();
  for (int r = 0; r < nr; ++r)
    for (int o = 0; o < no; ++o)
      for (int i = 0; i < ni; ++i)
        out.items[out.size++] = {reps[r].pos * per + outs[o].pos * n_inner + ins[i].pos,
                                 reps[r].count * outs[o].count * ins[i].count};
  return out;
}

double Schedule::mapping_efficiency() const {
  // Mean over folds of used PEs / PEs; the used rows (columns) over all row
  // (column) folds add up to Sr (Sc), so the mean is a product of two sums.
  return static_cast<double>(Sr) * static_cast<double>(Sc) /
         (static_cast<double>(row_folds * col_folds) * static_cast<double>(rows * cols));
}

double Schedule::compute_util() const {
  // SCALE-Sim divides each fold's useful work by its own per-fold cycle count:
  // the fold's demand rows + columns - 1, which for WS/IS is one column skew
  // longer than the cycles it adds to the total (2R+2C+T-3 against 2R+C+T-2).
  const int64_t stream = T * pe.cycles_per_mac;
  const int64_t util_cycles =
      dataflow == Dataflow::kOS ? rows + cols - 2 + stream : 2 * rows + 2 * cols - 3 + stream;
  return mapping_efficiency() * static_cast<double>(stream) / static_cast<double>(util_cycles);
}

}  // namespace qsim
