// LayerTrace — the per-cycle SRAM and DRAM traces of one layer in SCALE-Sim v2's
// CSV format (one file per operand and memory, as SCALE-Sim's layerN/ folders):
//   *_SRAM_TRACE.csv  one row per array cycle: the cycle, then one address per edge
//                     lane (-1 idle); reads at the cycle they are serviced (the cycle
//                     after the request, SCALE-Sim's convention), writes at their cycle
//   *_DRAM_TRACE.csv  one row per cycle with DRAM traffic of that operand: the cycle,
//                     then the element addresses moved, padded with -1 (floats, as
//                     SCALE-Sim writes them)
// Addresses follow sim/memory/operand_layout.h plus SCALE-Sim's offsets (filter
// 10000000, ofmap 20000000). qsim adds PSUM_SRAM_READ_TRACE.csv (partial sums read
// back from the ofmap SRAM) when a layer has any.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/memory/operand.h"

namespace qsim {

// One cycle of a traced DRAM transfer: the element addresses moved in `cycle`.
struct DramTraceRow {
  Operand operand = Operand::kIfmap;
  bool write = false;
  int64_t cycle = 0;
  std::vector<int64_t> addresses;
};

struct LayerTrace {
  std::string ifmap_sram, filter_sram, ofmap_sram, psum_sram;
  std::vector<DramTraceRow> dram;
  // (file name, CSV text) of every file.
  std::vector<std::pair<std::string, std::string>> files() const;
};

}  // namespace qsim
