// Mapper — how one compute layer is cut into folds on the systolic array.
//
// A Schedule is computed once per layer (map_layer) and walked by every timing
// backend: the analytical model sums it in closed form over a handful of fold
// classes; a cycle-level controller executes it fold by fold (fold(i) /
// for_each_fold). Both read the same fold geometry, the same tiles and the same
// DRAM/SRAM transfers, so a disagreement between backends is a timing effect,
// never two plans. Formulas and their SCALE-Sim correspondence: docs/timing-model.md.
//
// Geometry follows SCALE-Sim v2 (scalesim/compute/systolic_compute_*.py). Of the
// GEMM Y(MxN) = A(MxK) * B(KxN) (A = ifmap as im2col, B = filter, Y = ofmap):
//   dataflow  array rows span (Sr)  array cols span (Sc)  streamed per fold (T)
//   os        M                     N                     K
//   ws        K                     N                     M
//   is        K                     M                     N
// Each fold occupies up to rows x cols PEs and takes a fixed number of cycles
// (fill and drain skew included). A Bit Fusion PE packs `pack` products of the
// reduction dimension K into one PE-cycle, so K is measured in packs of `pack`
// elements wherever it is mapped; a bit-serial PE spends `cycles_per_mac` cycles
// on each streamed step.
#pragma once

#include <array>
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

// When an operand's tile is fetched from DRAM (into its SRAM) before a fold.
enum class FetchRule : uint8_t {
  kEveryFold,   // streamed: each fold fetches its tile
  kFirstOuter,  // the whole operand stays resident: fetched during the first outer iteration only
  kFirstInner,  // the tile depends on the outer index only and stays resident over the inner loop
};
std::string_view fetch_rule_name(FetchRule r);

// Partial sums of WS/IS when K spans several row folds.
enum class PsumRule : uint8_t {
  kNone,    // every fold produces final outputs (OS, or K fits one row fold)
  kOnChip,  // accumulated in the ofmap SRAM at pe.acc_bits
  kSpill,   // the accumulating tile does not fit: partial sums go to DRAM and come back
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

// Folds whose own transfers and whose neighbours' transfers are identical,
// represented by one fold index and a count. A per-fold cost that depends on
// the fold and its two neighbours (double buffering) summed over the classes
// equals the sum over every fold.
struct FoldClass {
  int64_t index = 0;
  int64_t count = 0;
};
struct FoldClasses {
  std::array<FoldClass, 75> items{};  // <= 3 (repeats) x 5 (outer) x 5 (inner)
  int size = 0;
  const FoldClass* begin() const { return items.data(); }
  const FoldClass* end() const { return items.data() + size; }
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

  // Spatial mapping, SCALE-Sim's names (K-dimensions in packs of pe.pack).
  int64_t Sr = 0;
  int64_t Sc = 0;
  int64_t T = 0;  // streamed steps per fold
  int64_t row_folds = 0;
  int64_t col_folds = 0;
  int64_t fold_cycles = 0;  // fill + stream + drain of one fold

  // Tiling decided by SRAM capacity.
  LoopOrder order = LoopOrder::kColsOuter;
  FetchRule ifmap_rule = FetchRule::kEveryFold;
  FetchRule filter_rule = FetchRule::kEveryFold;
  PsumRule psum_rule = PsumRule::kNone;
  int64_t ifmap_unique = 0;  // unique ifmap elements of one repeat that a sweep over A fetches
  int64_t ifmap_buffer_bytes = 0;  // working capacity per operand (half the buffer when double-buffered)
  int64_t filter_buffer_bytes = 0;
  int64_t ofmap_buffer_bytes = 0;

  int64_t folds_per_repeat() const { return row_folds * col_folds; }
  int64_t folds() const { return gemm.repeats * row_folds * col_folds; }
  int64_t compute_cycles() const { return folds() * fold_cycles; }
  int64_t outer_folds() const { return order == LoopOrder::kColsOuter ? col_folds : row_folds; }
  int64_t inner_folds() const { return order == LoopOrder::kColsOuter ? row_folds : col_folds; }

  // The fold at position `index` of the execution order (0 <= index < folds()).
  FoldStep fold(int64_t index) const;
  template <typename F>
  void for_each_fold(F&& f) const {
    const int64_t n = folds();
    for (int64_t i = 0; i < n; ++i) f(fold(i));
  }
  FoldClasses fold_classes() const;

  // SCALE-Sim's "Mapping Efficiency" and "Compute Util" (averages over folds), 0..1.
  double mapping_efficiency() const;
  double compute_util() const;
};

// Maps one layer. Throws qsim::Error naming `layer` for widths the PE cannot run
// and for hardware values that make mapping impossible (array or word size < 1).
Schedule map_layer(const MapRequest& req, const HwSpec& hw, std::string_view layer);

}  // namespace qsim
