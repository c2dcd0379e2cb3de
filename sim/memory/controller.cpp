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
    if (job_->stream)
      stream(*job_->stream);
    else
      execute(*job_);
    end_ = sc_core::sc_time_stamp();
    job_ = nullptr;
  }
}

template <typename Ready>
void Controller::wait_until(Ready ready) {
  while (!ready()) sc_core::wait(array->fold_done_event() | vector->chunk_done_event() | dram->progress_event());
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
  const FoldWalk& w = *job.walk;
  const Schedule& s = w.schedule();
  const int64_t S = w.stages();
  auto at = [](auto& v, int64_t i) -> auto& { return v[static_cast<std::size_t>(i)]; };
  std::vector<FoldStage> stage(static_cast<std::size_t>(S));
  // Per stage: the fold of the nearest earlier stage that computes (a transfer of the
  // stage moves only after it: the half it fills is free, the outputs it carries
  // exist), and of the nearest later one (the first fold that cannot start before
  // the stage's transfers are done: their urgency); -1 / folds() when there is none.
  std::vector<int64_t> prev_fold(static_cast<std::size_t>(S), -1), next_fold(static_cast<std::size_t>(S), s.folds());
  for (int64_t i = 0, prev = -1; i < S; ++i) {
    at(stage, i) = w.stage(i);
    at(prev_fold, i) = prev;
    if (at(stage, i).fold >= 0) prev = at(stage, i).fold;
  }
  for (int64_t i = S - 1, next = s.folds(); i >= 0; --i) {
    at(next_fold, i) = next;
    if (at(stage, i).fold >= 0) next = at(stage, i).fold;
  }
  // The DRAM ticket of each stage's inputs and outputs (-1: nothing to move).
  std::vector<int64_t> in_ticket(static_cast<std::size_t>(S), -1), out_ticket(static_cast<std::size_t>(S), -1);
  auto moved = [&](int64_t ticket) { return ticket < 0 || dram->done(ticket); };
  auto request_inputs = [&](int64_t j) {
    if (j < S && at(stage, j).in_fold >= 0)
      at(in_ticket, j) = submit_inputs(job, s.fold(at(stage, j).in_fold), at(prev_fold, j));
  };

  const int64_t ahead = w.overlap() == Overlap::kSerial ? 0 : kRequestAhead;
  for (int64_t j = 0; j <= ahead; ++j) request_inputs(j);
  for (int64_t i = 0; i < S; ++i) {
    const FoldStage& st = at(stage, i);
    if (st.fold >= 0) {
      // Its inputs arrived in an earlier stage, or (no overlap) arrive in this one.
      if (st.in_fold == st.fold) wait_until([&] { return moved(at(in_ticket, i)); });
      start_fold(job, s.fold(st.fold));
    }
    if (st.out_fold >= 0) at(out_ticket, i) = submit_outputs(job, s.fold(st.out_fold), at(next_fold, i));
    if (i > 0) request_inputs(i + ahead);
    // The stage ends when its fold and both its transfers are done.
    wait_until([&] {
      return (st.fold < 0 || array->folds_done() > st.fold) && moved(at(in_ticket, i)) && moved(at(out_ticket, i));
    });
  }
  vcd_fold = -1;
}

}  // namespace qsim

namespace qsim {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Part i of n of `total`, spread evenly (the first part is never empty when total > 0,
// so a step that reads anything pays the read latency before its first chunk):
// the parts sum to `total`.
int64_t share(int64_t total, int64_t i, int64_t n) { return ceil_div(total * (i + 1), n) - ceil_div(total * i, n); }
}  // namespace

VectorStream::VectorStream(const VectorWork& w, int64_t lanes, const MemorySpec& m)
    : w_(w), lanes_(std::max<int64_t>(1, lanes)), cycles_(ceil_div(w.ops, lanes_)), overlap_(overlap_of(m)) {
  const int64_t halves = m.double_buffer ? 2 : 1;
  const int64_t in_buffer = std::max<int64_t>(halves, static_cast<int64_t>(m.ifmap_kib * 1024.0));
  const int64_t out_buffer = std::max<int64_t>(halves, static_cast<int64_t>(m.ofmap_kib * 1024.0));
  n_ = std::max({int64_t{1}, ceil_div(w.read_bytes, in_buffer / halves), ceil_div(w.write_bytes, out_buffer / halves)});
  if (overlap_ == Overlap::kDoubleBuffer) n_ = std::max(n_, std::min(kMinChunks, cycles_));
  // Chunks a buffer holds at once: single-buffered one; else as many of the largest
  // chunk (the first: ceil(bytes / n)) as fit, at least the two halves.
  auto slots = [&](int64_t bytes, int64_t buffer) {
    if (halves == 1) return int64_t{1};
    if (bytes <= 0) return n_;
    return std::min(n_, std::max<int64_t>(2, buffer / ceil_div(bytes, n_)));
  };
  in_slots_ = slots(w.read_bytes, in_buffer);
  out_slots_ = slots(w.write_bytes, out_buffer);
}

VectorChunk VectorStream::chunk(int64_t i) const {
  VectorChunk c;
  const int64_t first = ceil_div(cycles_ * i, n_);  // the chunk's first lane cycle
  c.cycles = share(cycles_, i, n_);
  c.ops = std::min(w_.ops, (first + c.cycles) * lanes_) - std::min(w_.ops, first * lanes_);
  c.in = share(w_.read_bytes, i, n_);
  c.out = share(w_.write_bytes, i, n_);
  return c;
}

// Chunk i computes once its inputs are in, the chunk before it is done and its
// output slot is free (the outputs of chunk i - out_slots have left); its inputs move
// once their slot is free (chunk i - in_slots is done), its outputs once it is done;
// the channel serves them by urgency (the first chunk that cannot start without them).
void Controller::stream(const VectorStream& v) {
  const int64_t n = v.chunks();
  const int64_t ki = v.in_slots(), ko = v.out_slots();
  std::vector<int64_t> in(static_cast<std::size_t>(n), -1), out(static_cast<std::size_t>(n), -1);
  auto at = [](std::vector<int64_t>& t, int64_t i) -> int64_t& { return t[static_cast<std::size_t>(i)]; };
  auto moved = [&](int64_t ticket) { return ticket < 0 || dram->done(ticket); };
  auto request = [&](int64_t i) {
    if (i >= n) return;
    const VectorChunk c = v.chunk(i);
    if (c.in > 0) {
      DramRequest r{Operand::kIfmap, false, false, i, c.in, i - ki, i, {}, true};
      at(in, i) = dram->submit(std::move(r));
    }
    if (c.out > 0) {
      DramRequest r{Operand::kOfmap, true, false, i, c.out, i, i + ko, {}, true};
      at(out, i) = dram->submit(std::move(r));
    }
  };
  for (int64_t i = 0; i < std::min(n, kChunksAhead); ++i) request(i);
  for (int64_t i = 0; i < n; ++i) {
    wait_until([&] {
      return vector->chunks_done() >= i && moved(at(in, i)) && (i < ko || moved(at(out, i - ko)));
    });
    vector->start_chunk(i, v.chunk(i).ops);
    request(i + kChunksAhead);
  }
  wait_until([&] {
    if (vector->chunks_done() < n) return false;
    for (int64_t i = std::max<int64_t>(0, n - ko); i < n; ++i)
      if (!moved(at(out, i))) return false;
    return true;
  });
}

}  // namespace qsim
