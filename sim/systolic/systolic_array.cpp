#include "sim/systolic/systolic_array.h"

#include <algorithm>
#include <string>

namespace qsim {

SystolicArray::SystolicArray(sc_core::sc_module_name name) : sc_module(name) { SC_THREAD(run); }

void SystolicArray::configure(const ArraySetup& s) {
  setup_ = s;
  counts_ = {};
  fold_ends_.clear();
  core_.configure(s.config);
  pending_ = false;
}

void SystolicArray::record_waveform(sc_core::sc_trace_file* tf, int64_t rows, int64_t cols) {
  const int64_t lanes = std::max(rows, cols);
  vcd_ifmap_.assign(static_cast<std::size_t>(lanes), -1);
  vcd_filter_.assign(static_cast<std::size_t>(lanes), -1);
  vcd_ofmap_.assign(static_cast<std::size_t>(cols), -1);
  sc_core::sc_trace(tf, vcd_fold_, std::string(name()) + ".fold");
  sc_core::sc_trace(tf, vcd_cycle_, std::string(name()) + ".fold_cycle");
  for (std::size_t i = 0; i < vcd_ifmap_.size(); ++i) {
    sc_core::sc_trace(tf, vcd_ifmap_[i], std::string(name()) + ".ifmap_lane" + std::to_string(i));
    sc_core::sc_trace(tf, vcd_filter_[i], std::string(name()) + ".filter_lane" + std::to_string(i));
  }
  for (std::size_t i = 0; i < vcd_ofmap_.size(); ++i)
    sc_core::sc_trace(tf, vcd_ofmap_[i], std::string(name()) + ".ofmap_lane" + std::to_string(i));
}

void SystolicArray::start_fold(int64_t index, const FoldWork& work, const GemmOperands* values) {
  if (pending_ || counts_.folds != index) throw std::logic_error("SystolicArray: a fold started out of turn");
  fold_index_ = index;
  work_ = work;
  values_ = values;
  pending_ = true;
  start_.notify();
}

int64_t SystolicArray::now_cycles() const {
  return static_cast<int64_t>((sc_core::sc_time_stamp() - setup_.origin).value() / setup_.period.value());
}

void SystolicArray::on_cycle(const EdgeCycle& c) {
  if (setup_.observe) {
    const int64_t extra = std::max({ifmap_sram->access(cycle_, c.ifmap, Access::kRead),
                                    filter_sram->access(cycle_, c.filter, Access::kRead),
                                    ofmap_sram->access(cycle_, c.ofmap, Access::kWrite),
                                    work_.first_k ? int64_t{0} : ofmap_sram->access(cycle_, c.psum, Access::kPsumRead)});
    cycle_extra_ = extra;
  }
  if (setup_.cycle_sync && setup_.layout) {
    const OperandLayout& l = *setup_.layout;
    const int64_t rep = work_.repeat;
    auto put = [](std::vector<int64_t>& v, std::span<const LaneAccess> lanes, auto addr) {
      for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = i < lanes.size() && lanes[i].count > 0 ? addr(lanes[i]) : -1;
    };
    put(vcd_ifmap_, c.ifmap, [&](const LaneAccess& a) { return l.ifmap(rep, a.row, a.col); });
    put(vcd_filter_, c.filter, [&](const LaneAccess& a) { return l.filter(rep, a.row, a.col); });
    put(vcd_ofmap_, c.ofmap, [&](const LaneAccess& a) { return l.ofmap(rep, a.row, a.col); });
    vcd_cycle_ = c.cycle;
  }
}

void SystolicArray::run() {
  for (;;) {
    while (!pending_) sc_core::wait(start_);
    ifmap_sram->begin_fold(work_.repeat);
    filter_sram->begin_fold(work_.repeat);
    ofmap_sram->begin_fold(work_.repeat);
    core_.begin_fold(work_, values_);
    vcd_fold_ = fold_index_;
    const int64_t base = now_cycles();
    const bool watch = setup_.observe || setup_.cycle_sync;
    int64_t local = 0;  // cycles stepped but not yet waited for
    while (!core_.done()) {
      if (setup_.fast_forward && !watch) {
        if (const int64_t n = core_.steady_run(); n > 0) {
          core_.fast_forward(n);
          local += n;
          counts_.forwarded_cycles += n;
          continue;
        }
      }
      cycle_ = base + local;
      cycle_extra_ = 0;
      core_.step(watch ? this : nullptr);
      ++counts_.stepped_cycles;
      local += 1 + cycle_extra_;
      counts_.conflict_cycles += cycle_extra_;
      if (setup_.cycle_sync) {
        sc_core::wait(setup_.period * static_cast<double>(local));
        local = 0;
      }
    }
    if (!setup_.observe) {
      const EdgeCounts& n = core_.counts();
      ifmap_sram->count(n.ifmap_read, Access::kRead);
      filter_sram->count(n.filter_read, Access::kRead);
      ofmap_sram->count(n.ofmap_write, Access::kWrite);
      ofmap_sram->count(n.psum_read, Access::kPsumRead);
    }
    ifmap_sram->end_fold(work_.last_k);
    filter_sram->end_fold(work_.last_k);
    ofmap_sram->end_fold(work_.last_k);
    if (local > 0) sc_core::wait(setup_.period * static_cast<double>(local));
    counts_.compute_cycles += core_.fold_cycles();
    fold_ends_.push_back(sc_core::sc_time_stamp());
    ++counts_.folds;
    pending_ = false;
    vcd_fold_ = -1;
    done_.notify();
  }
}

}  // namespace qsim
