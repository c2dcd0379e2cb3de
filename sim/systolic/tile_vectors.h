// Tile vectors — single folds of the systolic array with their operands, made by
// ONE generator and run on both the SystemC model's array (SystolicCore in value
// mode: reference_trace below) and the RTL (sim/rtl/rtl_array.h), whose traces
// must be equal event for event: every edge read and every output, its value and
// the fold cycle it happens in (docs/rtl.md, "Cross-check").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/systolic/array_core.h"

namespace qsim {

// One fold and the operands it reads. The tile (fold.m, fold.n, fold.k) sits at an
// offset inside the operand matrices, so the lanes' addresses are checked too.
struct TileVector {
  Dataflow dataflow = Dataflow::kOS;
  int64_t rows = 1, cols = 1;  // the array
  PeArith pe;                  // widths, operand signedness, pack, acc_bits
  FoldWork fold;
  int64_t M = 0, N = 0, K = 0;
  std::vector<int32_t> a;  // M x K activations (pe.abits, signed when pe.a_signed)
  std::vector<int32_t> b;  // K x N weights (pe.wbits, signed when pe.w_signed)
  std::vector<int64_t> y;  // M x N stored partial sums (read when !fold.first_k), wrapped to acc_bits
  std::string describe() const;
};

struct TileGenSpec {
  int64_t max_rows = 4, max_cols = 4;  // arrays up to this size (the active part of the RTL)
  int acc_bits = 32;
  std::vector<Dataflow> dataflows{Dataflow::kOS, Dataflow::kWS, Dataflow::kIS};
  int64_t count = 100;
  int64_t max_steps = 24;  // streamed steps (os: packs of K)
  uint64_t seed = 1;
};

// Random tiles over every Bit Fusion mode (2/4/8-bit weights x activations) and
// the fixed 8-bit PE, signed and unsigned weights and activations (the four
// combinations equally likely), partial and full arrays;
// about one in five with extreme operands (all at the most negative or largest
// value of their range) and stored partial sums near +-2^(acc_bits-1), so sums and
// the read-modify-write of partial sums wrap.
std::vector<TileVector> generate_tiles(const TileGenSpec& spec);

// What crossed the array edge in one fold cycle: a lane's read (ifmap, filter,
// partial sum) or write (ofmap, with the value written).
enum class LaneKind : uint8_t { kIfmap, kFilter, kPsum, kOfmap };
struct TileEvent {
  int64_t cycle = 0;  // within the fold
  LaneKind kind = LaneKind::kIfmap;
  int32_t lane = 0;
  LaneAccess at;
  int64_t value = 0;  // ofmap only
  bool operator==(const TileEvent&) const = default;
};
struct TileTrace {
  int64_t cycles = 0;  // the fold's length
  std::vector<TileEvent> events;  // ordered by (cycle, kind, lane)
};
void sort_events(std::vector<TileEvent>& events);

// The fold on the SystemC model's array, cycle by cycle in value mode.
TileTrace reference_trace(const TileVector& t);

// "" when equal, else the first difference ("cycle 7: ofmap lane 2 (m 3, n 5) value
// 17, want 18" / "fold length 20, want 21").
std::string first_difference(const TileTrace& want, const TileTrace& got);

}  // namespace qsim
