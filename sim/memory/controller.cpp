#include "sim/memory/controller.h"

#include <algorithm>
#include <vector>

namespace qsim {

Controller::Controller(sc_core::sc_module_name name) : sc_module(name) { SC_THREAD(run); }

void Controller::post(const ControllerJob* job) {
  job_ = job;
  posted_.notify(sc_core::SC_ZERO_TIME);
}

void Controller::run() {
  for (;;) {
    while (!job_) sc_core::wait(posted_);
    execute(*job_);
    end_ = sc_core::sc_time_stamp();
    job_ = nullptr;
  }
}

template <typename Ready>
void Controller::wait_until(Ready ready) {
  while (!ready()) sc_core::wait(array->fold_done_event() | dram->progress_event());
}

namespace {

// The element addresses of a transfer of `bytes` at storage `st` from a tile: the
// tile's distinct addresses in order; a partial fetch (the rest stayed resident)
// moves the last ones.
std::vector<int64_t> transfer_addresses(std::vector<int64_t> tile, const Storage& st, int64_t bytes) {
  std::vector<int64_t> seen;
  seen.reserve(tile.size());
  std::vector<int64_t> sorted = tile;
  std::sort(sorted.begin(), sorted.end());
  std::vector<char> taken(sorted.size(), 0);
  for (int64_t a : tile) {
    if (a < 0) continue;
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), a);
    char& t = taken[static_cast<std::size_t>(it - sorted.begin())];
    if (t) continue;
    t = 1;
    seen.push_back(a);
  }
  const auto n = static_cast<std::size_t>(std::min<int64_t>(static_cast<int64_t>(seen.size()), st.elems_in(bytes)));
  return {seen.end() - static_cast<std::ptrdiff_t>(n), seen.end()};
}

}  // namespace

int64_t Controller::submit_inputs(const ControllerJob& job, const FoldStep& f, int64_t after_fold) {
  const Schedule& s = job.walk->schedule();
  const OperandLayout* l = job.trace ? job.layout : nullptr;
  int64_t ticket = -1;
  if (f.ifmap_dram_in > 0) {
    DramRequest r{Operand::kIfmap, false, false, f.index, f.ifmap_dram_in, after_fold, f.index, {}};
    if (l) {
      std::vector<int64_t> tile;
      for (int64_t m = f.m.begin; m < f.m.end; ++m)
        for (int64_t k = f.k.begin; k < f.k.end; ++k) tile.push_back(l->ifmap(f.repeat, m, k));
      r.addresses = transfer_addresses(std::move(tile), s.ifmap_store, r.bytes);
    }
    ticket = dram->submit(std::move(r));
  }
  if (f.filter_dram_in > 0) {
    DramRequest r{Operand::kFilter, false, false, f.index, f.filter_dram_in, after_fold, f.index, {}};
    if (l) {
      std::vector<int64_t> tile;
      for (int64_t k = f.k.begin; k < f.k.end; ++k)
        for (int64_t n = f.n.begin; n < f.n.end; ++n) tile.push_back(l->filter(f.repeat, k, n) + 10000000);
      r.addresses = transfer_addresses(std::move(tile), s.filter_store, r.bytes);
    }
    ticket = dram->submit(std::move(r));
  }
  if (f.psum_dram_in > 0) {
    DramRequest r{Operand::kOfmap, false, true, f.index, f.psum_dram_in, after_fold, f.index, {}};
    if (l) {
      std::vector<int64_t> tile;
      for (int64_t m = f.m.begin; m < f.m.end; ++m)
        for (int64_t n = f.n.begin; n < f.n.end; ++n) tile.push_back(l->ofmap(f.repeat, m, n) + 20000000);
      r.addresses = transfer_addresses(std::move(tile), s.psum_store, r.bytes);
    }
    ticket = dram->submit(std::move(r));
  }
  return ticket;
}

int64_t Controller::submit_outputs(const ControllerJob& job, const FoldStep& f, int64_t needed_by) {
  const Schedule& s = job.walk->schedule();
  const OperandLayout* l = job.trace ? job.layout : nullptr;
  int64_t ticket = -1;
  for (const bool psum : {false, true}) {
    const int64_t bytes = psum ? f.psum_dram_out : f.ofmap_dram_out;
    if (bytes <= 0) continue;
    DramRequest r{Operand::kOfmap, true, psum, f.index, bytes, f.index, needed_by, {}};
    if (l) {
      std::vector<int64_t> tile;
      for (int64_t m = f.m.begin; m < f.m.end; ++m)
        for (int64_t n = f.n.begin; n < f.n.end; ++n) tile.push_back(l->ofmap(f.repeat, m, n) + 20000000);
      r.addresses = transfer_addresses(std::move(tile), psum ? s.psum_store : s.ofmap_store, bytes);
    }
    ticket = dram->submit(std::move(r));
  }
  return ticket;
}

void Controller::start_fold(const ControllerJob& job, const FoldStep& f) {
  vcd_fold = f.index;
  array->start_fold(f.index, FoldWork::of(f), job.values ? job.values(f.repeat) : nullptr);
}

void Controller::execute(const ControllerJob& job) {
  const LayerFoldPlan& w = *job.walk;
  const int64_t F = w.folds();
  // The last DRAM ticket each fold's inputs and outputs wait for (-1: nothing to move).
  std::vector<int64_t> in_ticket(static_cast<std::size_t>(F), -1), out_ticket(static_cast<std::size_t>(F), -1);
  auto moved = [&](int64_t ticket) { return ticket < 0 || dram->done(ticket); };
  auto at = [](std::vector<int64_t>& v, int64_t i) -> int64_t& { return v[static_cast<std::size_t>(i)]; };

  if (w.double_buffered()) {
    const int64_t ahead = LayerFoldPlan::kRequestAhead;
    for (int64_t f = 0; f < std::min(ahead, F); ++f) at(in_ticket, f) = submit_inputs(job, w.fold(f), w.frees_half_of(f));
    for (int64_t f = 0; f < F; ++f) {
      const FoldStep fs = w.fold(f);
      wait_until([&] {
        return array->folds_done() >= f && moved(at(in_ticket, f)) && (f < 2 || moved(at(out_ticket, f - 2)));
      });
      start_fold(job, fs);
      if (f >= 1) at(out_ticket, f - 1) = submit_outputs(job, w.fold(f - 1), f + 1);
      if (f + ahead < F) at(in_ticket, f + ahead) = submit_inputs(job, w.fold(f + ahead), w.frees_half_of(f + ahead));
    }
    wait_until([&] { return array->folds_done() >= F; });
    at(out_ticket, F - 1) = submit_outputs(job, w.fold(F - 1), F + 1);
  } else {
    for (int64_t f = 0; f < F; ++f) {
      const FoldStep fs = w.fold(f);
      at(in_ticket, f) = submit_inputs(job, fs, -1);
      wait_until([&] { return moved(at(in_ticket, f)); });
      start_fold(job, fs);
      wait_until([&] { return array->folds_done() > f; });
      at(out_ticket, f) = submit_outputs(job, fs, f + 1);
      wait_until([&] { return moved(at(out_ticket, f)); });
    }
  }
  // Every fold's outputs are out.
  for (int64_t f = 0; f < F; ++f) wait_until([&] { return moved(at(out_ticket, f)); });
  vcd_fold = -1;
}

}  // namespace qsim
