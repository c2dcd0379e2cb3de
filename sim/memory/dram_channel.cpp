#include "sim/memory/dram_channel.h"

#include <algorithm>
#include <cmath>

namespace qsim {

using sc_core::sc_time;

DramChannel::DramChannel(sc_core::sc_module_name name) : sc_module(name) { SC_THREAD(serve); }

void DramChannel::configure(const DramSetup& s) {
  setup_ = s;
  queue_.clear();
  done_.clear();
  bus_free_ = 0;
  busy_ = false;
  counts_ = {};
  trace_.clear();
}

long double DramChannel::cycles_at(const sc_core::sc_time& t) const {
  return static_cast<long double>((t - setup_.origin).value()) / static_cast<long double>(setup_.period.value());
}

int64_t DramChannel::units_done(const DramRequest& r) const {
  return r.vector ? vector->chunks_done() : array->folds_done();
}

sc_time DramChannel::unit_end(const DramRequest& r, int64_t index) const {
  return r.vector ? vector->chunk_end(index) : array->fold_end(index);
}

long double DramChannel::now_cycles() const { return cycles_at(sc_core::sc_time_stamp()); }

int64_t DramChannel::submit(DramRequest r) {
  const auto ticket = static_cast<int64_t>(done_.size());
  done_.push_back(0);
  queue_.push_back({std::move(r), now_cycles(), ticket});
  submitted_.notify(sc_core::SC_ZERO_TIME);
  return ticket;
}

// The cycle in which a transfer ending at fractional cycle `end` moves its last
// byte, robust to the rounding of bytes / rate (3 / 0.1 = 30.000000000000004).
static int64_t last_cycle_end(long double end) {
  const long double r = std::round(end);
  if (std::fabs(end - r) <= 1e-9L * std::max<long double>(1.0L, end)) return static_cast<int64_t>(r);
  return static_cast<int64_t>(std::ceil(end));
}

void DramChannel::serve() {
  for (;;) {
    // Of the requests that can move when the bus is next free (fold dependency met,
    // read latency passed), the most urgent (the earliest fold waiting for it; then
    // the oldest). When none can, wait for the first that will, or for a fold to end.
    const long double now = now_cycles();
    const long double free_at = std::max(bus_free_, now);
    std::size_t pick = queue_.size();
    long double pick_start = 0, first_ready = -1;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      const Pending& p = queue_[i];
      if (p.r.after_fold >= 0 && units_done(p.r) <= p.r.after_fold) continue;
      long double ready = p.issued;
      if (!p.r.write && !setup_.unlimited) ready += static_cast<long double>(setup_.latency_cycles);
      if (ready > free_at) {
        if (first_ready < 0 || ready < first_ready) first_ready = ready;
        continue;
      }
      if (pick == queue_.size() || p.r.needed_by < queue_[pick].r.needed_by) pick = i;
    }
    if (pick == queue_.size()) {
      if (first_ready < 0) {
        sc_core::wait(submitted_ | array->fold_done_event() | vector->chunk_done_event());
      } else {
        const long double until = std::ceil(first_ready);
        sc_core::wait(setup_.period * static_cast<double>(std::max<long double>(1, until - now)),
                      submitted_ | array->fold_done_event() | vector->chunk_done_event());
      }
      continue;
    }
    {
      const Pending& p = queue_[pick];
      pick_start = std::max(bus_free_, p.issued);
      if (!p.r.write && !setup_.unlimited)
        pick_start = std::max(pick_start, p.issued + static_cast<long double>(setup_.latency_cycles));
      if (p.r.after_fold >= 0)  // not before the fold (chunk) it waits for ended
        pick_start = std::max(pick_start, cycles_at(unit_end(p.r, p.r.after_fold)));
    }
    Pending p = std::move(queue_[pick]);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(pick));
    busy_ = true;
    const DramRequest& r = p.r;
    const long double start = std::max(pick_start, bus_free_);
    const long double duration =
        setup_.unlimited || r.bytes <= 0 ? 0.0L : static_cast<long double>(r.bytes) / setup_.bytes_per_cycle;
    const long double end = start + duration;
    bus_free_ = end;
    const int64_t done = last_cycle_end(end);
    if (duration > 0) counts_.busy_cycles += done - static_cast<int64_t>(std::floor(start));
    vcd_bytes = r.bytes;
    vcd_operand = static_cast<int64_t>(r.operand);
    if (setup_.trace) record(p, start, end);
    if (const long double t = now_cycles(); done > t)
      sc_core::wait(setup_.period * static_cast<double>(static_cast<long double>(done) - t));
    const int o = static_cast<int>(r.operand);
    sram_dram_if* sram = r.operand == Operand::kIfmap    ? ifmap_sram.operator->()
                         : r.operand == Operand::kFilter ? filter_sram.operator->()
                                                         : ofmap_sram.operator->();
    if (r.write) {
      counts_.write_bytes[o] += r.bytes;
      sram->drain(r.fold, r.bytes, r.psum);
    } else {
      counts_.read_bytes[o] += r.bytes;
      sram->fill(r.fold, r.bytes, r.psum);
    }
    vcd_bytes = 0;
    vcd_operand = -1;
    busy_ = false;
    done_[static_cast<std::size_t>(p.ticket)] = 1;
    progress_.notify();
  }
}

// The words moved in each cycle of [start, end): the transfer's addresses in order,
// rate x cycle-overlap bytes per cycle (an unlimited transfer: all in its cycle).
void DramChannel::record(const Pending& p, long double start, long double end) {
  const DramRequest& r = p.r;
  if (r.addresses.empty()) return;
  const auto n = static_cast<int64_t>(r.addresses.size());
  const int64_t first = static_cast<int64_t>(std::floor(start));
  const int64_t last = std::max(first, last_cycle_end(end) - 1);
  std::size_t next = 0;
  for (int64_t c = first; c <= last && next < r.addresses.size(); ++c) {
    // Elements whose bytes have all moved by the end of cycle c.
    const long double moved = end > start ? std::min(1.0L, (static_cast<long double>(c + 1) - start) / (end - start)) : 1.0L;
    auto upto = static_cast<std::size_t>(std::min<int64_t>(n, static_cast<int64_t>(std::ceil(moved * n - 1e-9L))));
    if (c == last) upto = r.addresses.size();
    if (upto <= next) continue;
    trace_.push_back({r.operand, r.write, c, {r.addresses.begin() + static_cast<std::ptrdiff_t>(next),
                                               r.addresses.begin() + static_cast<std::ptrdiff_t>(upto)}});
    next = upto;
  }
}

}  // namespace qsim
