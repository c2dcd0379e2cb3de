#include "sim/systemc/systemc_backend.h"

#include <cstdlib>
#include <mutex>

#include <systemc>

#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/memory/operand_layout.h"
#include "sim/program.h"
#include "sim/systemc/accelerator.h"

namespace qsim {

namespace {

// The process's one SystemC kernel and model, and the lock that serialises its use.
struct Kernel {
  std::mutex mutex;
  Accelerator* model = nullptr;  // elaborated on first use, never destroyed (SystemC cannot re-elaborate)
  sc_core::sc_trace_file* waveform = nullptr;
};

Kernel& kernel() {
  static Kernel k;
  return k;
}

Accelerator& elaborate(Kernel& k, const SystemcOptions& o, const HwSpec& hw) {
  if (k.model) {
    if (!o.vcd.empty()) fail("--vcd: a waveform can only be recorded by the first simulation of a process");
    return *k.model;
  }
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  k.model = new Accelerator("accelerator");
  if (!o.vcd.empty()) {
    k.waveform = sc_core::sc_create_vcd_trace_file(o.vcd.c_str());
    k.waveform->set_time_unit(1, sc_core::SC_NS);
    k.model->record_waveform(k.waveform, hw.array.rows, hw.array.cols);
  }
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // every process runs to its first wait
  return *k.model;
}

// A Requantize or Vector row from what the simulation measured: the unit's busy
// cycles, the stalls around them, the bytes the channel moved, and the energy of
// those counts (vector_energy, the rule every backend uses).
LayerTiming vector_row(const LayerTiming& labels, const VectorTotals& t, const HwSpec& hw) {
  LayerTiming out;
  out.name = labels.name;
  out.op = labels.op;
  out.is_compute = false;
  out.requant = labels.requant;
  out.wbits = labels.wbits;
  out.abits = labels.abits;
  out.vector_ops = t.ops;
  out.vector_cycles = t.vector_cycles;
  out.total_cycles = t.total_cycles;
  out.stall_cycles = t.total_cycles - t.vector_cycles;
  out.dram_read.ifmap = t.dram_read;
  out.dram_write.ofmap = t.dram_write;
  out.energy = vector_energy(t.ops, t.dram_read + t.dram_write, hw);
  out.bound = !hw.memory.dram_unlimited && t.dram_busy_cycles > t.vector_cycles ? Bound::kMemory : Bound::kCompute;
  return out;
}

}  // namespace

SystemcBackend::SystemcBackend(SystemcOptions o) : opts_(std::move(o)) {}

SystemcStats SystemcBackend::last_stats() const {
  std::lock_guard<std::mutex> lock(kernel().mutex);
  return stats_;
}

TimingReport SystemcBackend::run(const LayerGraph& g, std::span<const LayerPrecision> precision,
                                 const HwSpec& hw) const {
  const auto compute = g.compute_layers();
  if (precision.size() != compute.size())
    fail("precision: {} entries for the {} compute layers of model '{}'", precision.size(), compute.size(), g.name);
  // The Program: what the accelerator executes, step by step (the plan the analytical
  // model sums). The analytical rows of the same Program give each row its name,
  // widths and the compute rows' energy; everything timed comes from the simulation.
  const Lowering low(g, hw);
  const Program program = low.lower(precision);
  const TimingReport base = AnalyticalBackend().run(low, program);

  Kernel& k = kernel();
  std::lock_guard<std::mutex> lock(k.mutex);
  Accelerator& model = elaborate(k, opts_, hw);
  stats_ = {};

  TimingReport rep;
  rep.backend = std::string(name());
  rep.model = base.model;
  rep.hw = base.hw;
  rep.clock_mhz = base.clock_mhz;
  // The steps in order, each starting when the previous one has finished.
  for (std::size_t si = 0; si < program.steps.size(); ++si) {
    const Step& any = program.steps[si];
    const LayerTiming& row = base.layers[si];
    if (opts_.select && !opts_.select(row.name)) continue;
    if (!row.is_compute) {
      VectorRun run;
      if (const auto* r = std::get_if<RequantizeStep>(&any))
        run.work = {r->elems, r->read_bytes, r->write_bytes};
      else
        run.work = {std::get<VectorStep>(any).ops, std::get<VectorStep>(any).read_bytes,
                    std::get<VectorStep>(any).write_bytes};
      run.hw = &hw;
      run.fast_forward = opts_.fast_forward;
      const VectorTotals t = model.run(run);
      rep.layers.push_back(vector_row(row, t, hw));
      ++stats_.vector_steps;
      stats_.vector_cycles += t.total_cycles;
      continue;
    }
    const ComputeStep& step = std::get<ComputeStep>(any);
    const std::size_t i = step.layer;
    const NodeId id = step.node;
    const Schedule& s = step.schedule;
    const FoldWalk walk = step.walk(hw.memory);
    const OperandLayout layout = OperandLayout::of(g, id);
    const GemmValues* v = opts_.values ? opts_.values->operands(i) : nullptr;
    const GemmView& gv = s.gemm;
    std::vector<int64_t> y;
    std::vector<GemmOperands> ops;
    if (v) ops = repeat_operands(v->a, v->b, gv, y, row.name);
    LayerTrace trace;
    LayerRun run;
    run.walk = &walk;
    run.hw = &hw;
    run.pe = PeArith::of(hw, s.pe, v ? v->a_signed : false);
    run.layout = &layout;
    if (v) run.values = [&ops](int64_t repeat) { return &ops[static_cast<std::size_t>(repeat)]; };
    run.trace = opts_.trace ? &trace : nullptr;
    run.fast_forward = opts_.fast_forward;
    const LayerTotals t = model.run(run);
    if (v) opts_.values->accumulators(i, y);
    if (opts_.trace) opts_.trace(i, trace.files());

    LayerTiming out = row;
    out.compute_cycles = t.compute_cycles;
    out.total_cycles = t.total_cycles;
    out.stall_cycles = t.total_cycles - t.compute_cycles;
    out.sram_read = {t.sram_read[0], t.sram_read[1], t.sram_read[2]};
    out.sram_write = {t.sram_write[0], t.sram_write[1], t.sram_write[2]};
    out.dram_read = {t.dram_read[0], t.dram_read[1], t.dram_read[2]};
    out.dram_write = {t.dram_write[0], t.dram_write[1], t.dram_write[2]};
    const double slots = static_cast<double>(s.rows * s.cols) * s.pe.macs_per_pe_cycle();
    out.utilization = out.total_cycles > 0
                          ? static_cast<double>(gv.macs()) / (slots * static_cast<double>(out.total_cycles))
                          : 0.0;
    rep.layers.push_back(std::move(out));

    ++stats_.layers;
    stats_.cycles += t.total_cycles;
    stats_.stepped_cycles += t.stepped_cycles;
    stats_.forwarded_cycles += t.forwarded_cycles;
    stats_.conflict_cycles += t.conflict_cycles;
    stats_.overfull_folds += t.overfull_folds;
  }
  if (k.waveform) {  // the waveform covers the first run only
    sc_core::sc_close_vcd_trace_file(k.waveform);
    k.waveform = nullptr;
    model.end_trace();
  }
  return rep;
}

}  // namespace qsim
