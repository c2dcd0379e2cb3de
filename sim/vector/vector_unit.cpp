#include "sim/vector/vector_unit.h"

#include <algorithm>
#include <stdexcept>

namespace qsim {

VectorUnit::VectorUnit(sc_core::sc_module_name name) : sc_module(name) { SC_THREAD(run); }

void VectorUnit::configure(const VectorSetup& s) {
  if (s.lanes < 1) throw std::logic_error("VectorUnit: lanes must be positive");
  setup_ = s;
  counts_ = {};
  chunk_ends_.clear();
  pending_ = false;
}

void VectorUnit::start_chunk(int64_t index, int64_t ops) {
  if (pending_ || counts_.chunks != index) throw std::logic_error("VectorUnit: a chunk started out of turn");
  index_ = index;
  ops_ = ops;
  pending_ = true;
  start_.notify();
}

void VectorUnit::run() {
  for (;;) {
    while (!pending_) sc_core::wait(start_);
    vcd_chunk = index_;
    const int64_t lanes = setup_.lanes;
    if (setup_.fast_forward && !setup_.cycle_sync) {
      // The whole chunk is one steady stream: ceil(ops / lanes) cycles at once.
      const int64_t cycles = (ops_ + lanes - 1) / lanes;
      counts_.ops += ops_;
      counts_.busy_cycles += cycles;
      counts_.forwarded_cycles += cycles;
      if (cycles > 0) sc_core::wait(setup_.period * static_cast<double>(cycles));
    } else {
      // Cycle by cycle: `lanes` operations per cycle until none are left.
      for (int64_t left = ops_; left > 0;) {
        const int64_t n = std::min(lanes, left);
        left -= n;
        counts_.ops += n;
        ++counts_.busy_cycles;
        ++counts_.stepped_cycles;
        sc_core::wait(setup_.period);
      }
    }
    chunk_ends_.push_back(sc_core::sc_time_stamp());
    ++counts_.chunks;
    pending_ = false;
    vcd_chunk = -1;
    done_.notify();
  }
}

}  // namespace qsim
