#include "sim/memory/sram.h"

#include <algorithm>

#include <fmt/format.h>

namespace qsim {

std::string_view operand_name(Operand o) {
  switch (o) {
    case Operand::kIfmap: return "IFMAP";
    case Operand::kFilter: return "FILTER";
    case Operand::kOfmap: return "OFMAP";
  }
  return "?";
}

namespace {

// SCALE-Sim's default address offsets, as its trace files print them.
int64_t trace_offset(Operand o) {
  switch (o) {
    case Operand::kIfmap: return 0;
    case Operand::kFilter: return 10000000;
    case Operand::kOfmap: return 20000000;
  }
  return 0;
}

}  // namespace

Sram::Sram(sc_core::sc_module_name name, Operand operand) : sc_module(name), operand_(operand) {}

void Sram::configure(const SramSetup& s) {
  setup_ = s;
  counts_ = {};
  repeat_ = 0;
  std::fill(std::begin(fold_elems_), std::end(fold_elems_), 0);
}

void Sram::begin_fold(int64_t repeat) { repeat_ = repeat; }

int64_t Sram::address(const LaneAccess& a, int64_t e) const {
  const OperandLayout& l = *setup_.layout;
  switch (operand_) {
    case Operand::kIfmap: return l.ifmap(repeat_, a.row, a.col + e);
    case Operand::kFilter: return l.filter(repeat_, a.row + e, a.col);
    case Operand::kOfmap: return l.ofmap(repeat_, a.row, a.col);
  }
  return -1;
}

// Words per bank and cycle: the port carries `lanes` accesses of up to `pack`
// elements (the width the analytical model assumes), split evenly over the banks.
int64_t Sram::bank_conflicts(std::span<const LaneAccess> lanes) {
  const int64_t B = setup_.banks;
  if (B <= 1 || !setup_.layout) return 0;
  const Storage& st = setup_.store;
  const int64_t W = setup_.word_bits;
  const int64_t words_per_lane = std::max<int64_t>(1, (setup_.pack * st.num + st.den * W - 1) / (st.den * W));
  const int64_t per_bank = std::max<int64_t>(1, (setup_.lanes * words_per_lane + B - 1) / B);
  words_.clear();
  for (const LaneAccess& a : lanes)
    for (int64_t e = 0; e < a.count; ++e) {
      const int64_t addr = address(a, e);
      if (addr >= 0) words_.push_back(addr * st.num / (st.den * W));
    }
  std::sort(words_.begin(), words_.end());
  words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
  std::vector<int64_t> in_bank(static_cast<std::size_t>(B), 0);
  int64_t worst = 0;
  for (int64_t w : words_) worst = std::max(worst, ++in_bank[static_cast<std::size_t>(w % B)]);
  return (worst + per_bank - 1) / per_bank - 1;
}

void Sram::trace_row(std::string& out, int64_t cycle, std::span<const LaneAccess> lanes) const {
  fmt::format_to(std::back_inserter(out), "{}", cycle);
  for (const LaneAccess& a : lanes) {
    const int64_t addr = a.count > 0 && setup_.layout ? address(a, 0) : -1;
    if (addr < 0) {
      out += ",-1";
    } else {
      fmt::format_to(std::back_inserter(out), ",{}", addr + trace_offset(operand_));
    }
  }
  out += '\n';
}

int64_t Sram::access(int64_t cycle, std::span<const LaneAccess> lanes, Access kind) {
  int64_t n = 0;
  for (const LaneAccess& a : lanes) n += a.count;
  fold_elems_[static_cast<int>(kind)] += n;
  // SCALE-Sim prints a read in the cycle it is serviced (its read buffers' hit
  // latency: the cycle after the request) and a write in its own cycle.
  if (kind == Access::kPsumRead) {
    if (setup_.psum_trace && n > 0) trace_row(*setup_.psum_trace, cycle + 1, lanes);
  } else if (setup_.trace) {
    trace_row(*setup_.trace, kind == Access::kRead ? cycle + 1 : cycle, lanes);
  }
  if (n == 0) return 0;
  const int64_t extra = bank_conflicts(lanes);
  counts_.conflict_cycles += extra;
  return extra;
}

void Sram::count(int64_t elements, Access kind) { fold_elems_[static_cast<int>(kind)] += elements; }

void Sram::end_fold(bool final_outputs) {
  const int64_t rd = fold_elems_[static_cast<int>(Access::kRead)];
  const int64_t wr = fold_elems_[static_cast<int>(Access::kWrite)];
  const int64_t ps = fold_elems_[static_cast<int>(Access::kPsumRead)];
  counts_.array_read_bytes += setup_.store.bytes(rd) + setup_.psum_store.bytes(ps);
  counts_.array_write_bytes += (final_outputs ? setup_.store : setup_.psum_store).bytes(wr);
  std::fill(std::begin(fold_elems_), std::end(fold_elems_), 0);
}

void Sram::fill(int64_t, int64_t bytes, bool) {
  counts_.dram_fill_bytes += bytes;
  counts_.peak_fill_bytes = std::max(counts_.peak_fill_bytes, bytes);
  if (bytes > setup_.working_bytes) ++counts_.overfull_folds;
}

void Sram::drain(int64_t, int64_t bytes, bool) { counts_.dram_drain_bytes += bytes; }

}  // namespace qsim
