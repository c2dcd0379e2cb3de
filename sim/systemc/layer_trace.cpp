#include "sim/systemc/layer_trace.h"

#include <algorithm>

#include <fmt/format.h>

namespace qsim {

std::vector<std::pair<std::string, std::string>> LayerTrace::files() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("IFMAP_SRAM_TRACE.csv", ifmap_sram);
  out.emplace_back("FILTER_SRAM_TRACE.csv", filter_sram);
  out.emplace_back("OFMAP_SRAM_TRACE.csv", ofmap_sram);
  if (!psum_sram.empty()) out.emplace_back("PSUM_SRAM_READ_TRACE.csv", psum_sram);
  for (const Operand o : {Operand::kIfmap, Operand::kFilter, Operand::kOfmap}) {
    // Rows of this operand, one per cycle (reads and writes of the ofmap's partial
    // sums share its file, as SCALE-Sim's OFMAP DRAM trace holds its writes).
    std::vector<const DramTraceRow*> mine;
    for (const DramTraceRow& r : dram)
      if (r.operand == o) mine.push_back(&r);
    std::stable_sort(mine.begin(), mine.end(), [](const auto* a, const auto* b) { return a->cycle < b->cycle; });
    std::vector<std::pair<int64_t, std::vector<int64_t>>> rows;
    for (const DramTraceRow* p : mine) {
      const DramTraceRow& r = *p;
      if (!rows.empty() && rows.back().first == r.cycle) {
        rows.back().second.insert(rows.back().second.end(), r.addresses.begin(), r.addresses.end());
      } else {
        rows.emplace_back(r.cycle, r.addresses);
      }
    }
    std::size_t width = 0;
    for (const auto& r : rows) width = std::max(width, r.second.size());
    std::string text;
    for (const auto& [cycle, addrs] : rows) {
      fmt::format_to(std::back_inserter(text), "{}.0", cycle);
      for (std::size_t i = 0; i < width; ++i)
        fmt::format_to(std::back_inserter(text), ",{}.0", i < addrs.size() ? addrs[i] : int64_t{-1});
      text += '\n';
    }
    out.emplace_back(fmt::format("{}_DRAM_TRACE.csv", operand_name(o)), std::move(text));
  }
  return out;
}

}  // namespace qsim
