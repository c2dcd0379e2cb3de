#include "sim/mapping.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graph/error.h"
#include "arith/int_arith.h"

namespace qsim {

namespace {

using intarith::ceil_div;

// Where messages about the hardware point: the config file, else its name.
Range tile(int64_t index, int64_t step, int64_t limit) {
  const int64_t b = index * step;
  return {b, std::min(limit, b + step)};
}

}  // namespace

std::string_view loop_order_name(LoopOrder o) {
  return o == LoopOrder::kColsOuter ? "cols-outer" : "rows-outer";
}

std::string_view fetch_rule_name(FetchRule r) {
  switch (r) {
    case FetchRule::kEveryFold: return "every-fold";
    case FetchRule::kFirstOuter: return "reused-across-outer";
    case FetchRule::kFirstInner: return "reused-across-inner";
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

int64_t Storage::elems_in(int64_t capacity_bytes) const {
  if (capacity_bytes <= 0) return 0;
  const __int128 e = static_cast<__int128>(capacity_bytes) * 8 * den / num;
  return e > INT64_MAX ? INT64_MAX : static_cast<int64_t>(e);
}

int64_t Reuse::refetch(int64_t tile) const {
  if (resident_elems >= set_elems) return 0;
  if (resident_elems <= 0) return tile;
  // The resident share of the tile stays; the rest comes again.
  int64_t p = 0;
  if (!__builtin_mul_overflow(tile, resident_elems, &p)) return tile - p / set_elems;
  return tile - static_cast<int64_t>(static_cast<__int128>(tile) * resident_elems / set_elems);
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
  LoopOrder order = LoopOrder::kColsOuter;
  int64_t chunks = 1;
  int64_t chunk_len = 0;
  Reuse ifmap, filter, chunk, psum;
  PsumRule psum_rule = PsumRule::kNone;
  double dram_bytes = 0.0;  // estimates used only to choose among plans
  double cycles = 0.0;
};

// Residency, traffic and an estimate of the time for one loop order and chunking.
// Operand dependence on the fold indices (row fold r, column fold c): A on r
// (and c in IS), B on c (OS), on (r, c) (WS), on r (IS); Y (WS/IS) on c,
// reduced over r. A chunk holds chunk_len rows of M (WS) or columns of N (IS).
Plan plan_for(const Schedule& s, LoopOrder order, int64_t chunks, int64_t chunk_len, const MemorySpec& mem) {
  const int64_t M = s.gemm.M, N = s.gemm.N, K = s.gemm.K;
  const bool cols_outer = order == LoopOrder::kColsOuter;
  const int64_t n_outer = cols_outer ? s.col_folds : s.row_folds;
  const int64_t n_inner = cols_outer ? s.row_folds : s.col_folds;
  const int64_t rk = s.rows * s.pe.pack;  // K elements per row fold (WS/IS)
  const int64_t MK = M * K;
  const int64_t Mc = s.dataflow == Dataflow::kWS ? chunk_len : M;  // one chunk's GEMM
  const int64_t Nc = s.dataflow == Dataflow::kIS ? chunk_len : N;
  const int64_t Uc = s.dataflow == Dataflow::kWS ? ceil_div(s.ifmap_unique * Mc, M) : s.ifmap_unique;

  Reuse p_chunk;
  // `whole`: the operand's elements in one chunk; `outer_tile`: what one outer
  // index needs. Sets `passes`: how often that whole crosses the interface.
  auto reuse_for = [&](bool dep_row, bool dep_col, int64_t whole, int64_t outer_tile, const Storage& st,
                       int64_t buffer, double& passes) {
    const bool dep_outer = cols_outer ? dep_col : dep_row;
    const bool dep_inner = cols_outer ? dep_row : dep_col;
    Reuse r;
    passes = 1.0;
    if (dep_outer && dep_inner) return r;  // every tile used by one fold
    r.rule = dep_inner ? FetchRule::kFirstOuter : FetchRule::kFirstInner;
    r.set_elems = dep_inner ? whole : outer_tile;
    r.resident_elems = std::min(r.set_elems, st.elems_in(buffer));
    const int64_t reuses = (dep_inner ? n_outer : n_inner) - 1;
    passes += static_cast<double>(reuses) * (1.0 - static_cast<double>(r.resident_elems) / r.set_elems);
    return r;
  };
  // The stationary operand (used once per chunk, by one fold per tile) is needed
  // again by every chunk: what stays resident is not fetched again. Returns its passes.
  auto across_chunks = [&](int64_t whole, const Storage& st, int64_t buffer) {
    p_chunk = {FetchRule::kFirstOuter, whole, std::min(whole, st.elems_in(buffer))};
    return 1.0 + static_cast<double>(chunks - 1) * (1.0 - static_cast<double>(p_chunk.resident_elems) / whole);
  };

  Plan p;
  p.order = order;
  p.chunks = chunks;
  p.chunk_len = chunk_len;
  double passes = 0.0;
  // ifmap A (in DRAM-fetch units: unique inputs)
  {
    const int64_t row_tile = s.dataflow == Dataflow::kOS ? std::min(M, s.rows) * K : Mc * std::min(K, rk);
    p.ifmap = reuse_for(true, s.dataflow == Dataflow::kIS, Uc, ifmap_fetch_elems(row_tile, s.ifmap_unique, MK),
                        s.ifmap_store, s.ifmap_buffer_bytes, passes);
    if (s.dataflow == Dataflow::kIS && chunks > 1)  // within a chunk every A tile is fetched once
      passes = across_chunks(s.ifmap_unique, s.ifmap_store, s.ifmap_buffer_bytes);
    p.dram_bytes += passes * static_cast<double>(s.ifmap_store.bytes(s.ifmap_unique));
  }
  // filter B
  {
    const int64_t tile = s.dataflow == Dataflow::kOS ? K * std::min(N, s.cols) : std::min(K, rk) * Nc;
    p.filter = reuse_for(s.dataflow != Dataflow::kOS, s.dataflow != Dataflow::kIS, K * Nc, tile, s.filter_store,
                         s.filter_buffer_bytes, passes);
    if (s.dataflow == Dataflow::kWS && chunks > 1)  // within a chunk every B tile is fetched once
      passes = across_chunks(K * N, s.filter_store, s.filter_buffer_bytes);
    p.dram_bytes += passes * static_cast<double>(s.filter_store.bytes(K * N));
  }
  // ofmap Y: partial sums when K spans several row folds (WS/IS). cols-outer:
  // one column fold's tile accumulates over the inner loop; rows-outer: the
  // whole chunk of Y stays open across the outer loop.
  if (s.dataflow != Dataflow::kOS && s.row_folds > 1) {
    const int64_t width = s.dataflow == Dataflow::kWS ? (cols_outer ? std::min(N, s.cols) : N)
                                                      : (cols_outer ? std::min(M, s.cols) : M);
    p.psum.set_elems = width * chunk_len;
    p.psum.resident_elems = std::min(p.psum.set_elems, s.psum_store.elems_in(s.ofmap_buffer_bytes));
    p.psum_rule = p.psum.fully_resident() ? PsumRule::kOnChip : PsumRule::kSpill;
    const double spilled = 1.0 - static_cast<double>(p.psum.resident_elems) / p.psum.set_elems;
    p.dram_bytes += 2.0 * (s.row_folds - 1) * spilled * static_cast<double>(s.psum_store.bytes(M * N));
  }
  p.dram_bytes += static_cast<double>(s.ofmap_store.bytes(M * N));
  p.dram_bytes *= static_cast<double>(s.gemm.repeats);
  p.chunk = p_chunk;

  // Time estimate: compute, overlapped with (double buffer) or followed by the transfers.
  const int64_t stream_total = s.dataflow == Dataflow::kWS ? M : s.dataflow == Dataflow::kIS ? N : s.stream_steps;
  const double compute = static_cast<double>(s.gemm.repeats * s.row_folds * s.col_folds) *
                         (static_cast<double>(chunks) * s.cycles_for_stream(0) +
                          static_cast<double>(stream_total) * s.pe.cycles_per_mac);
  const double transfer = mem.dram_unlimited ? 0.0 : p.dram_bytes / mem.dram_bytes_per_cycle;
  p.cycles = mem.double_buffer ? std::max(compute, transfer) : compute + transfer;
  return p;
}

// Elements of a tile fetched before fold (outer, inner).
int64_t fetch_elems(const Reuse& r, int64_t tile, int64_t outer, int64_t inner) {
  switch (r.rule) {
    case FetchRule::kEveryFold: return tile;
    case FetchRule::kFirstOuter: return outer == 0 ? tile : r.refetch(tile);
    case FetchRule::kFirstInner: return inner == 0 ? tile : r.refetch(tile);
  }
  return tile;
}

// Plans compared by estimated time, then DRAM bytes, then simplicity.
bool better(const Plan& a, const Plan& b) {
  if (a.cycles != b.cycles) return a.cycles < b.cycles;
  if (a.dram_bytes != b.dram_bytes) return a.dram_bytes < b.dram_bytes;
  if (a.chunks != b.chunks) return a.chunks < b.chunks;
  return a.order == LoopOrder::kColsOuter && b.order != LoopOrder::kColsOuter;
}

// What one fold holds at once must fit each operand's working buffer: the
// stationary operand's tile (WS: filter, IS: ifmap; OS: the outputs the PEs
// accumulate, drained into the ofmap SRAM when the fold ends) and one wavefront of
// each streamed operand (what the array takes in or puts out per cycle). Smaller
// buffers are refused, naming the minimum: the reuse and double-buffering model
// (docs/timing-model.md section 3.2) has nothing to say about an array that
// cannot even be fed, and would otherwise time it as if the buffers were large.
void check_fold_fits(const Schedule& s, const HwSpec& hw, std::string_view layer) {
  const GemmView& g = s.gemm;
  const int64_t R = s.rows, C = s.cols, p = s.pe.pack;
  const int64_t k_rows = std::min(g.K, R * p);  // K elements one full row fold covers
  // What one fold holds: "one wavefront of n <operand> elements" or "its a x b <tile>"; the
  // text is only formatted when a buffer is refused (this check runs for every layer).
  struct Need {
    const char* key = "";
    double kib = 0;
    int64_t have = 0;
    int64_t elems = 0;
    const Storage* store = nullptr;
    int64_t a = 0, b = 0;  // b == 0: a wavefront of a elements
    const char* noun = "";
  };
  const Storage& out = s.dataflow != Dataflow::kOS && s.row_folds > 1 ? s.psum_store : s.ofmap_store;
  Need needs[3];
  switch (s.dataflow) {
    case Dataflow::kOS: {
      const int64_t m = std::min(g.M, R), n = std::min(g.N, C);
      needs[0] = {"ifmap", hw.memory.ifmap_kib, s.ifmap_buffer_bytes, m * std::min(g.K, p), &s.ifmap_store,
                  m * std::min(g.K, p), 0, "ifmap"};
      needs[1] = {"filter", hw.memory.filter_kib, s.filter_buffer_bytes, n * std::min(g.K, p), &s.filter_store,
                  n * std::min(g.K, p), 0, "filter"};
      needs[2] = {"ofmap", hw.memory.ofmap_kib, s.ofmap_buffer_bytes, m * n, &s.ofmap_store, m, n,
                  "outputs its PEs accumulate"};
      break;
    }
    case Dataflow::kWS: {
      const int64_t n = std::min(g.N, C);
      needs[0] = {"ifmap", hw.memory.ifmap_kib, s.ifmap_buffer_bytes, k_rows, &s.ifmap_store, k_rows, 0, "ifmap"};
      needs[1] = {"filter", hw.memory.filter_kib, s.filter_buffer_bytes, k_rows * n, &s.filter_store, k_rows, n,
                  "stationary filter tile"};
      needs[2] = {"ofmap", hw.memory.ofmap_kib, s.ofmap_buffer_bytes, n, &out, n, 0, "output"};
      break;
    }
    case Dataflow::kIS: {
      const int64_t m = std::min(g.M, C);
      needs[0] = {"ifmap", hw.memory.ifmap_kib, s.ifmap_buffer_bytes, k_rows * m, &s.ifmap_store, k_rows, m,
                  "stationary ifmap tile"};
      needs[1] = {"filter", hw.memory.filter_kib, s.filter_buffer_bytes, k_rows, &s.filter_store, k_rows, 0, "filter"};
      needs[2] = {"ofmap", hw.memory.ofmap_kib, s.ofmap_buffer_bytes, m, &out, m, 0, "output"};
      break;
    }
  }
  const double share = hw.memory.double_buffer ? 0.5 : 1.0;
  for (const Need& n : needs) {
    const int64_t bytes = n.store->bytes(n.elems);
    if (bytes <= n.have) continue;
    const double min_kib = std::ceil(static_cast<double>(bytes) / share / 1024.0 * 1000.0) / 1000.0;
    const std::string what = n.b == 0 ? fmt::format("one wavefront of {} {} elements", n.a, n.noun)
                                      : fmt::format("its {} x {} {}", n.a, n.b, n.noun);
    // The buffer, or the array or buffering that decided its need, named where it was stated.
    const std::string key = fmt::format("memory.{}_kib", n.key);
    const std::string where = hw.places.culprit({key, "array.rows", "array.cols", "memory.double_buffer"}, hw_where(hw));
    fail("{}: memory.{}_kib {} leaves {} working bytes{}, less than one fold of layer '{}' holds: {} at {} bits "
         "({} bytes); memory.{}_kib must be at least {}",
         where, n.key, n.kib, n.have, hw.memory.double_buffer ? " (half the buffer: double-buffered)" : "",
         layer, what, n.store->bits, bytes, n.key, min_kib);
  }
}

}  // namespace

Schedule map_layer(const MapRequest& req, const HwSpec& hw, std::string_view layer) {
  const GemmView& g = req.gemm;
  if (hw.array.rows < 1 || hw.array.cols < 1)
    fail("{}: array.rows and array.cols must be positive (got {} x {})", hw_where(hw), hw.array.rows, hw.array.cols);
  if (hw.memory.word_bits < 1) fail("{}: memory.word_bits {} must be positive", hw_where(hw), hw.memory.word_bits);
  if (hw.pe.acc_bits < 1) fail("{}: pe.acc_bits {} must be positive", hw_where(hw), hw.pe.acc_bits);
  if (!hw.memory.dram_unlimited && !(hw.memory.dram_bytes_per_cycle > 0.0))
    fail("{}: memory.dram_bytes_per_cycle must be positive (or 'unlimited'), got {}", hw_where(hw),
         hw.memory.dram_bytes_per_cycle);
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

  const int64_t R = s.rows, C = s.cols;
  const int64_t Kp = ceil_div(g.K, s.pe.pack);  // reduction length in PE packs
  switch (s.dataflow) {
    case Dataflow::kOS: s.row_span = g.M, s.col_span = g.N, s.stream_steps = Kp; break;
    case Dataflow::kWS: s.row_span = Kp, s.col_span = g.N, s.stream_steps = g.M; break;
    case Dataflow::kIS: s.row_span = Kp, s.col_span = g.M, s.stream_steps = g.N; break;
  }
  s.row_folds = ceil_div(s.row_span, R);
  s.col_folds = ceil_div(s.col_span, C);

  const int64_t MK = g.M * g.K;
  s.ifmap_unique = req.ifmap_elems > 0 ? std::min(MK, ceil_div(req.ifmap_elems, g.repeats)) : MK;
  const double share = hw.memory.double_buffer ? 0.5 : 1.0;  // the other half is being refilled
  auto working = [&](double kib) { return static_cast<int64_t>(std::floor(std::max(0.0, kib) * 1024.0 * share)); };
  s.ifmap_buffer_bytes = working(hw.memory.ifmap_kib);
  s.filter_buffer_bytes = working(hw.memory.filter_kib);
  s.ofmap_buffer_bytes = working(hw.memory.ofmap_kib);
  check_fold_fits(s, hw, layer);

  // Candidates: SCALE-Sim's loops and the swapped ones, unchunked; and, where
  // partial sums would spill and DRAM time counts, the chunking that keeps them
  // on chip. The best estimated time wins.
  Plan best = plan_for(s, LoopOrder::kColsOuter, 1, s.stream_steps, hw.memory);
  auto consider = [&](const Plan& p) {
    if (better(p, best)) best = p;
  };
  consider(plan_for(s, LoopOrder::kRowsOuter, 1, s.stream_steps, hw.memory));
  if (hw.mapping.chunking && s.dataflow != Dataflow::kOS && s.row_folds > 1 && !hw.memory.dram_unlimited) {
    const int64_t cap = s.psum_store.elems_in(s.ofmap_buffer_bytes);
    for (LoopOrder o : {LoopOrder::kColsOuter, LoopOrder::kRowsOuter}) {
      const bool co = o == LoopOrder::kColsOuter;
      const int64_t width = s.dataflow == Dataflow::kWS ? (co ? std::min(g.N, C) : g.N) : (co ? std::min(g.M, C) : g.M);
      const int64_t fit = std::max<int64_t>(1, cap / width);
      if (fit >= s.stream_steps) continue;  // already fits unchunked
      const int64_t len = ceil_div(s.stream_steps, ceil_div(s.stream_steps, fit));  // balanced chunks
      consider(plan_for(s, o, ceil_div(s.stream_steps, len), len, hw.memory));
    }
  }
  s.order = best.order;
  s.chunks = best.chunks;
  s.chunk_len = best.chunk_len;
  s.ifmap_reuse = best.ifmap;
  s.filter_reuse = best.filter;
  s.chunk_reuse = best.chunk;
  s.psum_reuse = best.psum;
  s.psum_rule = best.psum_rule;
  s.fold_cycles = s.cycles_for_stream(s.dataflow == Dataflow::kOS ? s.stream_steps : s.chunk_len);
  if (s.dataflow != Dataflow::kOS) s.stream_steps = s.chunk_len;
  return s;
}

int64_t Schedule::cycles_for_stream(int64_t steps) const {
  const int64_t skew = dataflow == Dataflow::kOS ? rows + cols - 2 : 2 * rows + cols - 2;  // fill + drain
  return skew + steps * pe.cycles_per_mac;
}

int64_t Schedule::compute_cycles() const {
  const int64_t per_chunk = gemm.repeats * row_folds * col_folds;
  if (chunks == 1) return per_chunk * fold_cycles;
  const int64_t total = dataflow == Dataflow::kWS ? gemm.M : gemm.N;
  const int64_t last = total - (chunks - 1) * chunk_len;
  return per_chunk * ((chunks - 1) * fold_cycles + cycles_for_stream(last));
}

FoldStep Schedule::fold(int64_t index) const {
  FoldStep f;
  f.index = index;
  // Loop nest, outermost first: repeat -> chunk -> outer fold -> inner fold.
  const int64_t per_chunk = row_folds * col_folds, n_inner = inner_folds();
  f.repeat = index / (chunks * per_chunk);
  const int64_t in_repeat = index % (chunks * per_chunk);
  f.chunk = in_repeat / per_chunk;
  const int64_t outer = in_repeat % per_chunk / n_inner, inner = in_repeat % per_chunk % n_inner;
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
      f.cycles = fold_cycles;
      break;
    case Dataflow::kWS:
      f.k = tile(f.row_fold, rk, K);
      f.n = tile(f.col_fold, cols, N);
      f.m = tile(f.chunk, chunk_len, M);
      f.rows_used = ceil_div(f.k.size(), pe.pack);
      f.cols_used = f.n.size();
      f.cycles = cycles_for_stream(f.m.size());
      break;
    case Dataflow::kIS:
      f.k = tile(f.row_fold, rk, K);
      f.m = tile(f.col_fold, cols, M);
      f.n = tile(f.chunk, chunk_len, N);
      f.rows_used = ceil_div(f.k.size(), pe.pack);
      f.cols_used = f.m.size();
      f.cycles = cycles_for_stream(f.n.size());
      break;
  }
  if (dataflow != Dataflow::kOS) {
    f.first_k = f.row_fold == 0;
    f.last_k = f.row_fold == row_folds - 1;
  }

  const int64_t a = f.m.size() * f.k.size();
  const int64_t b = f.k.size() * f.n.size();
  const int64_t y = f.m.size() * f.n.size();
  int64_t a_fetch = fetch_elems(ifmap_reuse, ifmap_fetch_elems(a, ifmap_unique, M * K), outer, inner);
  int64_t b_fetch = fetch_elems(filter_reuse, b, outer, inner);
  if (f.chunk > 0) {  // the stationary operand comes again for every chunk, less what stayed
    if (dataflow == Dataflow::kWS) b_fetch = chunk_reuse.refetch(b_fetch);
    if (dataflow == Dataflow::kIS) a_fetch = chunk_reuse.refetch(a_fetch);
  }
  f.ifmap_dram_in = ifmap_store.bytes(a_fetch);
  f.filter_dram_in = filter_store.bytes(b_fetch);
  f.ifmap_sram_read = ifmap_store.bytes(a);
  f.filter_sram_read = filter_store.bytes(b);
  // Partial sums pass through the ofmap SRAM; their non-resident part also goes
  // out to DRAM and comes back for the next row fold.
  const int64_t spilled = psum_rule == PsumRule::kSpill ? psum_reuse.refetch(y) : 0;
  if (f.last_k) {
    f.ofmap_sram_write = ofmap_store.bytes(y);
    f.ofmap_dram_out = f.ofmap_sram_write;
  } else {
    f.ofmap_sram_write = psum_store.bytes(y);
    f.psum_dram_out = psum_store.bytes(spilled);
  }
  if (!f.first_k) {
    f.psum_sram_read = psum_store.bytes(y);
    f.psum_dram_in = psum_store.bytes(spilled);
  }
  return f;
}

double Schedule::mapping_efficiency() const {
  // Mean over folds of used PEs / PEs; the used rows (columns) over all row
  // (column) folds add up to row_span (col_span), so the mean is a product of two sums.
  return static_cast<double>(row_span) * static_cast<double>(col_span) /
         (static_cast<double>(row_folds * col_folds) * static_cast<double>(rows * cols));
}

double Schedule::compute_util() const {
  // SCALE-Sim divides each fold's useful work by its own per-fold cycle count:
  // the fold's demand rows + columns - 1, which for WS/IS is one column skew
  // longer than the cycles it adds to the total (2R+2C+S-3 against 2R+C+S-2, S the stream).
  // Chunks only change the stream length, so the mean factors into the mean
  // mapping efficiency times the mean stream share over the chunks.
  auto share = [&](int64_t steps) {
    const int64_t stream = steps * pe.cycles_per_mac;
    const int64_t util_cycles =
        dataflow == Dataflow::kOS ? rows + cols - 2 + stream : 2 * rows + 2 * cols - 3 + stream;
    return static_cast<double>(stream) / static_cast<double>(util_cycles);
  };
  if (chunks == 1) return mapping_efficiency() * share(stream_steps);
  const int64_t total = dataflow == Dataflow::kWS ? gemm.M : gemm.N;
  const int64_t last = total - (chunks - 1) * chunk_len;
  return mapping_efficiency() * ((chunks - 1) * share(chunk_len) + share(last)) / static_cast<double>(chunks);
}

}  // namespace qsim
