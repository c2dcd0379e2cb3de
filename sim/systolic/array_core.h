// SystolicCore — the rows x cols systolic array as one state machine over plain
// arrays (no SystemC): what the SystemC module sim/systolic/systolic_array.h clocks.
//
// One fold at a time, cycle by cycle, as a real array moves data (docs/systemc.md
// has the timing diagrams):
//   os  operand A enters row lane r skewed by r cycles and moves right, B enters
//       column lane c skewed by c and moves down; PE(r,c) does step i in cycle
//       i*s + r + c and writes its output in the cycle of its last MAC.
//   ws  B is loaded down the columns in R cycles (the tile's last row first), then
//       A streams in row lane r from cycle R + r and moves right while partial sums
//       move down; the sum of step i leaves column c in cycle 2R - 1 + i*s + c.
//   is  as ws with A stationary (loaded down the columns) and B streamed.
// A fold lasts R + C + T*s - 2 (os) or 2R + C + T*s - 2 (ws/is) cycles whatever part
// of the array it uses (the sequencer is fixed-latency, as SCALE-Sim's folds and the
// analytical model): T streamed steps of s cycles each (bit-serial), K in packs of p
// (Bit Fusion).
//
// Two representations of the same machine:
// - value mode (operands given): registers hold the tags of the elements in flight
//   (which step and bit slice of which lane), PEs add PeArith terms of the real
//   operands, partial sums and accumulators hold wrapped integers;
// - timing mode (no operands): only the edge activity, computed per lane in O(R + C)
//   per cycle (a 256 x 256 array cannot afford R * C work per cycle).
// Tests check that both produce the same edge accesses in the same cycles.
//
// Fast-forward: in the middle of a fold every lane injects, every busy PE adds and
// (ws/is) every column emits, and cycle t+1 repeats cycle t shifted by one step.
// steady_run() says how many such cycles follow; fast_forward(n) applies them at
// once (the MACs as dot products, the registers set to the values the stepping would
// leave), with exactly the state and counts that stepping n cycles gives (tested).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sim/hw_spec.h"
#include "sim/mapping.h"
#include "sim/systolic/pe_arith.h"

namespace qsim {

// What one edge lane reads or writes in one cycle: the GEMM coordinates (of one
// repeat) of the first of `count` consecutive elements along k (a Bit Fusion pack),
// or count 0 when the lane is idle. ifmap A[m][k]: (m, k); filter B[k][n]: (k, n);
// ofmap and partial sums Y[m][n]: (m, n).
struct LaneAccess {
  int64_t row = 0;
  int64_t col = 0;
  int32_t count = 0;
  bool operator==(const LaneAccess&) const = default;
};

// One cycle of edge activity: one lane per array row or column, as the rows of
// SCALE-Sim's SRAM traces. ifmap: R lanes (is: C), filter: C lanes (is: R),
// ofmap writes and partial-sum reads: C lanes.
struct EdgeCycle {
  int64_t cycle = 0;  // within the fold
  std::span<const LaneAccess> ifmap, filter, ofmap, psum;
};

class EdgeObserver {
 public:
  virtual ~EdgeObserver() = default;
  virtual void on_cycle(const EdgeCycle& c) = 0;
};

// Elements that crossed the array edge in the current fold.
struct EdgeCounts {
  int64_t ifmap_read = 0;
  int64_t filter_read = 0;
  int64_t ofmap_write = 0;
  int64_t psum_read = 0;
  bool operator==(const EdgeCounts&) const = default;
};

struct ArrayConfig {
  Dataflow dataflow = Dataflow::kOS;
  int64_t rows = 1;
  int64_t cols = 1;
  PeArith pe;
};

// One fold as the array runs it (the compute side of a FoldStep).
struct FoldWork {
  int64_t rows_used = 0;  // PE rows / columns holding real work (rows in packs of k)
  int64_t cols_used = 0;
  Range m, n, k;          // the tiles, GEMM coordinates of one repeat
  bool first_k = true;    // no partial sum to read back
  bool last_k = true;     // outputs are final (the array writes them either way)
  int64_t repeat = 0;     // the GEMM repeat (group) the tiles belong to
  static FoldWork of(const FoldStep& f) {
    return {f.rows_used, f.cols_used, f.m, f.n, f.k, f.first_k, f.last_k, f.repeat};
  }
};

// The operand values of one repeat: row-major A (M x K) and B (K x N), and the
// accumulators Y (M x N) the array writes, wrapped to pe.acc_bits (and reads back
// as partial sums in ws/is when a fold is not the first of its reduction).
struct GemmOperands {
  const int32_t* a = nullptr;
  int64_t lda = 0;
  const int32_t* b = nullptr;
  int64_t ldb = 0;
  int64_t* y = nullptr;
  int64_t ldy = 0;
};

// A layer's operands split into its GEMM's repeats (A: repeats x M x K, B: repeats x
// K x N, row-major), with `y` sized to repeats x M x N for the accumulators. Fails naming
// `layer` when the sizes do not match the GEMM. Both cycle-level backends feed their
// arrays this way.
std::vector<GemmOperands> repeat_operands(std::span<const int32_t> a, std::span<const int32_t> b, const GemmView& gv,
                                          std::vector<int64_t>& y, std::string_view layer);

class SystolicCore {
 public:
  // Sizes the registers for an array and a layer's arithmetic (plain arrays,
  // reused across folds and layers).
  void configure(const ArrayConfig& c);
  const ArrayConfig& config() const { return cfg_; }

  // Starts a fold. `values` null: timing mode. The operands must outlive the fold.
  void begin_fold(const FoldWork& f, const GemmOperands* values);
  int64_t fold_cycles() const { return fold_cycles_; }
  int64_t steps() const { return steps_; }  // T
  int64_t cycle() const { return t_; }      // cycles done in this fold
  bool done() const { return t_ >= fold_cycles_; }
  bool has_values() const { return values_ != nullptr; }

  // One cycle. The edge accesses go to `obs` (when given) and into counts().
  void step(EdgeObserver* obs = nullptr);
  // Cycles from cycle() on in which only a steady stream advances (0: none).
  int64_t steady_run() const;
  // Advances n <= steady_run() cycles at once (no observer sees them).
  void fast_forward(int64_t n);
  const EdgeCounts& counts() const { return counts_; }
  // The last stepped cycle's edge accesses (for waveforms).
  const EdgeCycle& last_edge() const { return edge_; }

  // Everything a cycle changes, for comparing stepping with fast-forwarding.
  struct State {
    int64_t cycle = 0;
    EdgeCounts counts;
    std::vector<int32_t> h, v, w, psum_tag;  // element tags in the registers (-1: empty)
    std::vector<int64_t> psum, acc, col_acc;
    bool operator==(const State&) const = default;
  };
  State state() const;

 private:
  // Tag (step * s + slice) a row lane injects in stream cycle u (cycles since the
  // stream began), -1 when idle.
  int32_t row_tag(int64_t r, int64_t u) const;
  int32_t col_tag(int64_t c, int64_t u) const;  // os only
  int64_t pack_len(int64_t first_k_index) const;  // elements of the pack starting at k index
  void step_os(EdgeObserver* obs);
  void step_stationary(EdgeObserver* obs);  // ws and is
  void lanes_os(int64_t t, bool fill);      // timing-mode edge accesses (and counts)
  void lanes_stationary(int64_t t, bool fill);
  void emit(EdgeObserver* obs);
  // Value-mode helpers.
  int64_t os_term(int64_t r, int64_t c, int32_t tag) const;
  int64_t stat_term(int64_t r, int64_t c, int32_t tag) const;
  void emit_output(int64_t c, int64_t m, int64_t n, int64_t value);
  void set_registers_at(int64_t t);  // tags (and partial sums) as stepping leaves them after cycle t
  // Fast-forward of whole steps (one cycle per step): the sum of the products over a
  // k range, from the fold's B tile gathered column by column (products equal the
  // PE's brick and bit-serial sums, arith/int_arith.h).
  int64_t dot(int64_t m, int64_t n, int64_t k_begin, int64_t k_end) const;

  ArrayConfig cfg_;
  int64_t R_ = 1, C_ = 1, S_ = 1, P_ = 1;
  FoldWork f_;
  const GemmOperands* values_ = nullptr;
  int64_t steps_ = 0, fold_cycles_ = 0, load_ = 0;  // load_: R for ws/is, 0 for os
  int64_t t_ = 0;
  EdgeCounts counts_;
  // Registers (value mode), R x C row-major.
  std::vector<int32_t> h_, v_, w_, ptag_;
  std::vector<int64_t> psum_, acc_, col_acc_;
  std::vector<int32_t> bt_;  // value mode: the fold's B tile, transposed (n, k)
  std::vector<int64_t> sums_;  // fast-forward scratch
  // Edge lanes of the current cycle.
  std::vector<LaneAccess> ifmap_lanes_, filter_lanes_, ofmap_lanes_, psum_lanes_;
  EdgeCycle edge_;
};

}  // namespace qsim
