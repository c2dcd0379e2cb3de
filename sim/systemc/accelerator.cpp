#include "sim/systemc/accelerator.h"

#include <stdexcept>
#include <string>

namespace qsim {

using sc_core::SC_NS;
using sc_core::sc_time;

Accelerator::Accelerator(sc_core::sc_module_name name)
    : sc_module(name),
      controller("controller"),
      array("array"),
      vector("vector"),
      ifmap_sram("ifmap_sram", Operand::kIfmap),
      filter_sram("filter_sram", Operand::kFilter),
      ofmap_sram("ofmap_sram", Operand::kOfmap),
      dram("dram") {
  controller.array(array);
  controller.dram(dram);
  controller.vector(vector);
  array.ifmap_sram(ifmap_sram);
  array.filter_sram(filter_sram);
  array.ofmap_sram(ofmap_sram);
  dram.ifmap_sram(ifmap_sram);
  dram.filter_sram(filter_sram);
  dram.ofmap_sram(ofmap_sram);
  dram.array(array);
  dram.vector(vector);
}

void Accelerator::record_waveform(sc_core::sc_trace_file* tf, int64_t rows, int64_t cols) {
  waveform_ = true;
  array.record_waveform(tf, rows, cols);
  sc_core::sc_trace(tf, controller.vcd_fold, "controller.fold");
  sc_core::sc_trace(tf, vector.vcd_chunk, "vector.chunk");
  sc_core::sc_trace(tf, dram.vcd_bytes, "dram.transfer_bytes");
  sc_core::sc_trace(tf, dram.vcd_operand, "dram.transfer_operand");
}

namespace {

DramSetup dram_setup(const MemorySpec& m, const sc_time& period, const sc_time& origin) {
  DramSetup ds;
  ds.unlimited = m.dram_unlimited;
  ds.bytes_per_cycle = m.dram_bytes_per_cycle;
  ds.latency_cycles = m.dram_latency_cycles;
  ds.period = period;
  ds.origin = origin;
  return ds;
}

}  // namespace

void Accelerator::simulate(const ControllerJob& job, const char* what) {
  controller.post(&job);
  sc_core::sc_start();  // runs until every process waits: the job is done
  if (!controller.finished() || !dram.idle())
    throw std::logic_error(std::string("Accelerator: the simulation stopped before the ") + what + " was done");
}

LayerTotals Accelerator::run(const LayerRun& r) {
  const Schedule& s = r.walk->schedule();
  const HwSpec& hw = *r.hw;
  const sc_time period(kPeriodNs, SC_NS);
  const sc_time origin = sc_core::sc_time_stamp();
  const bool banks = hw.memory.banks > 1;
  const bool observe = r.trace != nullptr || banks;

  ArraySetup as;
  as.config = {s.dataflow, s.rows, s.cols, r.pe};
  as.fast_forward = r.fast_forward;
  as.observe = observe;
  as.cycle_sync = waveform_;
  as.period = period;
  as.origin = origin;
  as.layout = r.layout;
  array.configure(as);

  const bool is = s.dataflow == Dataflow::kIS;
  auto sram_setup = [&](Sram& m, int64_t working, int64_t lanes, const Storage& st, std::string* trace) {
    SramSetup x;
    x.working_bytes = working;
    x.banks = hw.memory.banks;
    x.word_bits = hw.memory.word_bits;
    x.lanes = lanes;
    x.pack = m.operand() == Operand::kOfmap ? 1 : s.pe.pack;
    x.store = st;
    x.psum_store = s.psum_store;
    x.layout = r.layout;
    x.trace = trace;
    x.psum_trace = m.operand() == Operand::kOfmap && r.trace ? &r.trace->psum_sram : nullptr;
    m.configure(x);
  };
  sram_setup(ifmap_sram, s.ifmap_buffer_bytes, is ? s.cols : s.rows, s.ifmap_store, r.trace ? &r.trace->ifmap_sram : nullptr);
  sram_setup(filter_sram, s.filter_buffer_bytes, is ? s.rows : s.cols, s.filter_store,
             r.trace ? &r.trace->filter_sram : nullptr);
  sram_setup(ofmap_sram, s.ofmap_buffer_bytes, s.cols, s.ofmap_store, r.trace ? &r.trace->ofmap_sram : nullptr);

  DramSetup ds = dram_setup(hw.memory, period, origin);
  ds.trace = r.trace != nullptr;
  dram.configure(ds);

  ControllerJob job;
  job.walk = r.walk;
  job.values = r.values;
  job.layout = r.layout;
  job.trace = r.trace != nullptr;
  simulate(job, "layer");

  LayerTotals t;
  const ArrayCounts& a = array.counts();
  t.compute_cycles = a.compute_cycles;
  t.total_cycles = static_cast<int64_t>((controller.layer_end() - origin).value() / period.value());
  t.conflict_cycles = a.conflict_cycles;
  t.stepped_cycles = a.stepped_cycles;
  t.forwarded_cycles = a.forwarded_cycles;
  const Sram* srams[3] = {&ifmap_sram, &filter_sram, &ofmap_sram};
  for (int o = 0; o < 3; ++o) {
    const SramCounts& c = srams[o]->counts();
    t.sram_read[o] = c.array_read_bytes + c.dram_drain_bytes;
    t.sram_write[o] = c.array_write_bytes + c.dram_fill_bytes;
    t.dram_read[o] = dram.counts().read_bytes[o];
    t.dram_write[o] = dram.counts().write_bytes[o];
    t.peak_fill[o] = c.peak_fill_bytes;
    t.overfull_folds += c.overfull_folds;
  }
  if (r.trace) r.trace->dram = dram.trace_rows();
  return t;
}

VectorTotals Accelerator::run(const VectorRun& r) {
  const HwSpec& hw = *r.hw;
  const sc_time period(kPeriodNs, SC_NS);
  const sc_time origin = sc_core::sc_time_stamp();
  VectorSetup vs;
  vs.lanes = hw.vector.lanes;
  vs.fast_forward = r.fast_forward;
  vs.cycle_sync = waveform_;
  vs.period = period;
  vector.configure(vs);
  dram.configure(dram_setup(hw.memory, period, origin));

  const VectorStream stream(r.work, hw.vector.lanes, hw.memory);
  ControllerJob job;
  job.stream = &stream;
  simulate(job, "step");

  VectorTotals t;
  const VectorCounts& v = vector.counts();
  t.ops = v.ops;
  t.vector_cycles = v.busy_cycles;
  t.total_cycles = static_cast<int64_t>((controller.layer_end() - origin).value() / period.value());
  t.chunks = v.chunks;
  t.stepped_cycles = v.stepped_cycles;
  t.forwarded_cycles = v.forwarded_cycles;
  const DramCounts& d = dram.counts();
  for (int o = 0; o < 3; ++o) {
    t.dram_read += d.read_bytes[o];
    t.dram_write += d.write_bytes[o];
  }
  t.dram_busy_cycles = d.busy_cycles;
  return t;
}

}  // namespace qsim
