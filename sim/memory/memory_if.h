// The interfaces of the memory hierarchy (docs/systemc.md, "Memory"):
//   sram_array_if  the array side of an operand SRAM (edge lanes, banks, counts)
//   sram_dram_if   the DRAM side of an operand SRAM (fills and drains of buffer halves)
//   dram_if        the one DRAM channel (requests served in order), for the
//                  array's folds and the vector unit's chunks alike
// implemented by Sram (sim/memory/sram.h) and DramChannel (sim/memory/dram_channel.h).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <systemc>

#include "sim/memory/operand.h"
#include "sim/systolic/array_core.h"

namespace qsim {

// What the array does to an operand SRAM in one access.
enum class Access : uint8_t {
  kRead,      // ifmap / filter operands
  kWrite,     // outputs or partial sums into the ofmap SRAM
  kPsumRead,  // a partial sum read back from the ofmap SRAM (ws/is, not the first k fold)
};

class sram_array_if : public virtual sc_core::sc_interface {
 public:
  // A fold of GEMM repeat `repeat` (a group) begins: lane coordinates are in its GEMM.
  virtual void begin_fold(int64_t repeat) = 0;
  // The edge lanes' accesses of layer cycle `cycle` (one per lane: a row of
  // SCALE-Sim's SRAM trace). Returns the cycles the array must wait because more
  // words fell into one bank than the bank serves per cycle (0 with one bank).
  virtual int64_t access(int64_t cycle, std::span<const LaneAccess> lanes, Access kind) = 0;
  // Elements moved in cycles nobody observed one by one (unobserved or fast-forwarded).
  virtual void count(int64_t elements, Access kind) = 0;
  // The fold is over: its elements become bytes at the operand's stored width
  // (ofmap writes: outputs when `final_outputs`, else partial sums at pe.acc_bits).
  virtual void end_fold(bool final_outputs) = 0;
};

class sram_dram_if : public virtual sc_core::sc_interface {
 public:
  // DRAM -> SRAM into the buffer half of fold `fold` (psum: partial sums coming back).
  virtual void fill(int64_t fold, int64_t bytes, bool psum) = 0;
  // SRAM -> DRAM (psum: partial sums spilled).
  virtual void drain(int64_t fold, int64_t bytes, bool psum) = 0;
};

struct DramRequest {
  Operand operand = Operand::kIfmap;
  bool write = false;  // drain (SRAM -> DRAM)
  bool psum = false;   // partial sums (ofmap SRAM)
  int64_t fold = 0;
  int64_t bytes = 0;
  int64_t after_fold = -1;  // the data may move only once the array finished this fold (-1: at once)
  int64_t needed_by = 0;    // the first fold that cannot start before it is done (its urgency)
  std::vector<int64_t> addresses;  // element addresses, for traces only
  // A Requantize or Vector step's transfer: `fold`, `after_fold` and `needed_by`
  // count the vector unit's chunks (sim/vector/vector_if.h), not the array's folds.
  bool vector = false;
};

class dram_if : public virtual sc_core::sc_interface {
 public:
  // Queues a request now; returns its ticket (0, 1, 2, ... per layer).
  virtual int64_t submit(DramRequest r) = 0;
  virtual bool done(int64_t ticket) const = 0;
  virtual const sc_core::sc_event& progress_event() const = 0;  // a request completed
};

}  // namespace qsim
