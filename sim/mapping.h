// Mapper — how one compute layer is cut into folds on the systolic array.
//
// A Schedule is computed once per layer (map_layer) and walked by every timing
// backend: the analytical model sums it in closed form (sim/analytical/fold_classes.h);
// a cycle-level controller executes it fold by fold (fold(i) / for_each_fold, and the
// dependencies between folds in sim/program.h's FoldWalk). Both read the same fold
// geometry, the same tiles and the same DRAM/SRAM transfers, so a disagreement
// between backends is a timing effect, never two plans. Formulas and their
// SCALE-Sim correspondence: docs/timing-model.md.
//
// Geometry follows SCALE-Sim v2 (scalesim/compute/systolic_compute_*.py). Of the
// GEMM Y(MxN) = A(MxK) * B(KxN) (A = ifmap as im2col, B = filter, Y = ofmap):
//   dataflow  spread over array rows  spread over array cols  streamed per fold
//             (row_span)              (col_span)              (stream_steps)
//   os        M                       N                       K
//   ws        K                       N                       M
//   is        K                       M                       N
// Each fold occupies up to rows x cols PEs and takes fill + stream + drain
// cycles. A Bit Fusion PE packs `pack` products of the reduction dimension K into
// one PE-cycle, so K is measured in packs of `pack` elements wherever it is
// mapped; a bit-serial PE spends `cycles_per_mac` cycles on each streamed step.
//
// Loop nest, outermost first: repeat (group) -> chunk -> outer fold -> inner fold.
// WS/IS may cut the streamed dimension (M for WS, N for IS) into chunks so that
// the partial sums of a chunk fit the ofmap buffer; each chunk then re-runs the
// folds with a shorter stream (one more fill/drain per fold). The mapper chunks
// only when that lowers the estimated time, so with unlimited DRAM bandwidth
// (SCALE-Sim's CALC mode) there is one chunk and the folds are SCALE-Sim's.
#pragma once

#include <cstdint>
#include <string_view>

#include "graph/layer_graph.h"
#include "sim/hw_spec.h"

namespace qsim {

// How the PE runs one layer's operand widths (from HwSpec.pe).
struct PeRate {
  int wbits = 8;               // widths the multiplier runs at (energy look-up): rounded up to a
  int abits = 8;               // supported width; `fixed` runs everything at base_bits
  int64_t pack = 1;            // bitfusion: products of the reduction dimension per PE per cycle
  int64_t cycles_per_mac = 1;  // bitserial: cycles per streamed step
  // MAC slots of one PE per cycle at this precision.
  double macs_per_pe_cycle() const { return static_cast<double>(pack) / static_cast<double>(cycles_per_mac); }
};

// Resolves the PE rate for a layer's (wbits, abits). Throws qsim::Error naming
// `layer` (and `hw.source`) for widths the PE cannot run.
PeRate resolve_pe_rate(const HwSpec& hw, int wbits, int abits, std::string_view layer);

// How many bytes n elements of a given width take in SRAM/DRAM. With
// memory.pack_narrow, floor(word_bits / bits) narrow elements share a word;
// otherwise (or when bits > word_bits) each element takes ceil(bits / word_bits)
// whole words. Exact rational arithmetic: bits per element = num / den.
struct Storage {
  int bits = 8;
  int64_t num = 8;  // bits per element = num / den
  int64_t den = 1;
  static Storage of(int bits, const MemorySpec& mem);
  int64_t bytes(int64_t elems) const;          // ceil(elems * num / (8 * den))
  bool fits(int64_t elems, int64_t capacity_bytes) const { return bytes(elems) <= capacity_bytes; }
  int64_t elems_in(int64_t capacity_bytes) const;  // whole elements that fit in capacity_bytes
};

// Half-open index range [begin, end).
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// Which fold loop is outer. kColsOuter is SCALE-Sim's order (for each column
// fold, all row folds); kRowsOuter swaps them. Compute cycles do not depend on
// the order; DRAM traffic does, and the mapper picks the cheaper one.
enum class LoopOrder : uint8_t { kColsOuter, kRowsOuter };
std::string_view loop_order_name(LoopOrder o);  // "cols-outer" | "rows-outer"

// How an operand's tiles come from DRAM. When a set of elements is reused
// across a loop and only part of it fits the working buffer, that part stays
// pinned and the rest is fetched again on every reuse: traffic falls smoothly
// as buffers grow (the best fixed policy for a cyclic sweep; LRU would thrash).
enum class FetchRule : uint8_t {
  kEveryFold,   // each tile is used by one fold only: fetched once, by that fold
  kFirstOuter,  // the operand is reused across the outer loop: fetched in full during
                // the first outer iteration, later ones re-fetch its non-resident part
  kFirstInner,  // the tile depends on the outer index only: fetched in full by the first
                // inner fold, later inner folds re-fetch its non-resident part
};
std::string_view fetch_rule_name(FetchRule r);

struct Reuse {
  FetchRule rule = FetchRule::kEveryFold;
  int64_t set_elems = 0;       // elements reused across the loop (the operand, or one outer tile)
  int64_t resident_elems = 0;  // how many of them stay in the working buffer (<= set_elems)
  bool fully_resident() const { return resident_elems >= set_elems; }
  // Elements of a `tile` fetched again on a reuse.
  int64_t refetch(int64_t tile) const;
};

// Partial sums of WS/IS when K spans several row folds.
enum class PsumRule : uint8_t {
  kNone,    // every fold produces final outputs (OS, or K fits one row fold)
  kOnChip,  // accumulated in the ofmap SRAM at pe.acc_bits
  kSpill,   // the accumulating set does not fit: its non-resident part goes to DRAM and comes back
};
std::string_view psum_rule_name(PsumRule r);

// One fold in execution order, with everything a backend needs to run it.
// Element ranges are in the GEMM of one repeat: m in [0,M), n in [0,N), k in [0,K).
// Tiles: ifmap = A[m, k], filter = B[k, n], ofmap = Y[m, n].
// Byte counts are for this fold only:
//   *_dram_in  — fetched from DRAM before the fold (into the operand's SRAM);
//   psum_dram_in / psum_dram_out — partial sums re-read from / spilled to DRAM;
//   ofmap_dram_out — final outputs written back after the fold;
//   *_sram_read / ofmap_sram_write / psum_sram_read — the array's own SRAM accesses.
struct FoldStep {
  int64_t index = 0;  // 0 .. folds()-1
  int64_t repeat = 0;
  int64_t chunk = 0;
  int64_t cycles = 0;  // fill + stream + drain of this fold
  int64_t row_fold = 0;
  int64_t col_fold = 0;
  int64_t rows_used = 0;  // PE rows / columns holding real work (packed units for K)
  int64_t cols_used = 0;
  Range m, n, k;
  bool first_k = true;  // first fold of this output tile's reduction
  bool last_k = true;   // outputs are final after this fold
  int64_t ifmap_dram_in = 0;
  int64_t filter_dram_in = 0;
  int64_t psum_dram_in = 0;
  int64_t ofmap_dram_out = 0;
  int64_t psum_dram_out = 0;
  int64_t ifmap_sram_read = 0;
  int64_t filter_sram_read = 0;
  int64_t ofmap_sram_write = 0;  // partial sums at acc_bits, or final outputs
  int64_t psum_sram_read = 0;    // read-modify-write of on-chip (or re-fetched) partial sums
  int64_t dram_in() const { return ifmap_dram_in + filter_dram_in + psum_dram_in; }
  int64_t dram_out() const { return ofmap_dram_out + psum_dram_out; }
};

// What the mapper needs to know about a layer besides the hardware.
struct MapRequest {
  GemmView gemm;
  int64_t ifmap_elems = 0;  // unique input elements over all repeats (0: M*K*repeats, as for a GEMM)
  int wbits = 8;
  int abits = 8;  // input activation width
  int obits = 8;  // output activation width (what the layer writes)
};

struct Schedule {
  Dataflow dataflow = Dataflow::kOS;
  int64_t rows = 0;  // array
  int64_t cols = 0;
  GemmView gemm;
  PeRate pe;
  Storage ifmap_store, filter_store, ofmap_store, psum_store;

  // Spatial mapping (SCALE-Sim's Sr, Sc, T; K-dimensions in packs of pe.pack).
  int64_t row_span = 0;      // extent of the GEMM dimension spread over the array rows
  int64_t col_span = 0;      // extent of the GEMM dimension spread over the array columns
  int64_t stream_steps = 0;  // steps streamed through the array per fold of a full chunk
  int64_t row_folds = 0;
  int64_t col_folds = 0;
  int64_t fold_cycles = 0;  // fill + stream + drain of a fold of a full chunk

  // Tiling decided by SRAM capacity.
  int64_t chunks = 1;     // pieces of the streamed dimension (WS: M, IS: N; OS: always 1)
  int64_t chunk_len = 0;  // elements of the streamed dimension per full chunk (the last may be shorter)
  LoopOrder order = LoopOrder::kColsOuter;
  Reuse ifmap_reuse;  // ifmap elements in DRAM-fetch units (unique inputs, see ifmap_unique)
  Reuse filter_reuse;
  Reuse chunk_reuse;  // the stationary operand (WS: filter, IS: ifmap) across chunks
  PsumRule psum_rule = PsumRule::kNone;
  Reuse psum_reuse;  // the accumulating output set (rule unused)
  int64_t ifmap_unique = 0;  // unique ifmap elements of one repeat that a sweep over A fetches
  int64_t ifmap_buffer_bytes = 0;  // working capacity per operand (half the buffer when double-buffered)
  int64_t filter_buffer_bytes = 0;
  int64_t ofmap_buffer_bytes = 0;

  int64_t folds_per_chunk() const { return row_folds * col_folds; }
  int64_t folds() const { return gemm.repeats * chunks * row_folds * col_folds; }
  int64_t compute_cycles() const;  // sum of every fold's cycles
  int64_t outer_folds() const { return order == LoopOrder::kColsOuter ? col_folds : row_folds; }
  int64_t inner_folds() const { return order == LoopOrder::kColsOuter ? row_folds : col_folds; }
  int64_t cycles_for_stream(int64_t steps) const;  // fold cycles when `steps` elements stream

  // The fold at position `index` of the execution order (0 <= index < folds()).
  FoldStep fold(int64_t index) const;

  template <typename F>
  void for_each_fold(F&& f) const {
    const int64_t n = folds();
    for (int64_t i = 0; i < n; ++i) f(fold(i));
  }

  // SCALE-Sim's "Mapping Efficiency" and "Compute Util" (averages over folds), 0..1.
  double mapping_efficiency() const;
  double compute_util() const;
};

// Maps one layer. Throws qsim::Error naming `layer` for widths the PE cannot run,
// for hardware values that make mapping impossible (array or word size < 1), and
// for a working buffer smaller than what one fold holds at once (the stationary
// tile, or the outputs an OS fold accumulates, and one wavefront of each streamed
// operand; the message names the minimum size).
Schedule map_layer(const MapRequest& req, const HwSpec& hw, std::string_view layer);

}  // namespace qsim
