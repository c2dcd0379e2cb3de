#include "sim/rtl/rtl_backend.h"

#include <chrono>

#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/mapping.h"
#include "sim/program.h"
#include "sim/rtl/rtl_array.h"

namespace qsim {

namespace {

struct Layer {
  std::size_t row, index;  // report row, compute layer
  Schedule s;
};

// The schedules of the selected compute layers: the Program's Compute steps
// (sim/program.h), the plan the analytical backend sums.
std::vector<Layer> plan(const LayerGraph& g, std::span<const LayerPrecision> precision, const HwSpec& hw,
                        const TimingReport& base, const std::function<bool(std::string_view)>& select) {
  const Program program = lower(g, precision, hw);
  std::vector<const Schedule*> schedule(g.compute_layers().size(), nullptr);
  for (const Step& step : program.steps)
    if (const auto* c = std::get_if<ComputeStep>(&step)) schedule[c->layer] = &c->schedule;
  std::vector<Layer> todo;
  std::size_t index = 0;
  for (std::size_t r = 0; r < base.layers.size(); ++r) {
    const LayerTiming& row = base.layers[r];
    const std::size_t i = row.is_compute ? index++ : 0;
    if (!row.is_compute || (select && !select(row.name))) continue;
    if (!schedule[i]) fail("layer '{}': no Compute step in the lowered program", row.name);
    todo.push_back({r, i, *schedule[i]});
  }
  return todo;
}

}  // namespace

RtlBackend::RtlBackend(RtlOptions o) : opts_(std::move(o)) {}

double RtlBackend::estimate_seconds(const LayerGraph& g, std::span<const LayerPrecision> precision,
                                    const HwSpec& hw) const {
  const std::string model = check_hw(hw);
  const TimingReport base = AnalyticalBackend().run(g, precision, hw);
  int64_t cycles = 0;
  for (const Layer& L : plan(g, precision, hw, base, opts_.select)) cycles += L.s.compute_cycles();
  return static_cast<double>(cycles) / cycles_per_second(model);
}

std::string RtlBackend::check_hw(const HwSpec& hw) {
  const PeSpec& pe = hw.pe;
  if (pe.precision == PeModel::kBitSerial)
    fail("{}: --backend rtl: the RTL array has fixed and Bit Fusion PEs, not {}", hw.source, pe_model_name(pe.precision));
  if (pe.base_bits != 8)
    fail("{}: --backend rtl: the RTL PEs are 8 bits wide (pe.base_bits {})", hw.source, pe.base_bits);
  for (const RtlModelInfo& m : rtl_models())
    if (hw.array.rows <= m.rows && hw.array.cols <= m.cols && pe.acc_bits == m.acc_bits) return m.name;
  const RtlModelInfo& big = rtl_models().back();
  fail("{}: --backend rtl: no RTL model holds a {}x{} array with {}-bit accumulators (the largest is {}x{} with "
       "{}-bit accumulators)",
       hw.source, hw.array.rows, hw.array.cols, pe.acc_bits, big.rows, big.cols, big.acc_bits);
}

double RtlBackend::cycles_per_second(std::string_view model) {
  // bench/rtl_bench (docs/rtl.md, "Speed"): cycles per CPU second over 256 random
  // full-array tiles of every mode, measured at load 15.5 (indicative; re-measure
  // on a quiet machine after an RTL change).
  if (model == "4x4_a16") return 5.8e5;
  if (model == "8x8_a32") return 1.5e5;
  return 2.1e4;
}

TimingReport RtlBackend::run(const LayerGraph& g, std::span<const LayerPrecision> precision, const HwSpec& hw) const {
  const std::string model = check_hw(hw);
  const TimingReport base = AnalyticalBackend().run(g, precision, hw);

  std::vector<Layer> todo = plan(g, precision, hw, base, opts_.select);
  int64_t cycles = 0;
  for (const Layer& L : todo) cycles += L.s.compute_cycles();
  const double estimate = static_cast<double>(cycles) / cycles_per_second(model);
  if (estimate > 60.0 && opts_.notice)
    opts_.notice(fmt::format("--backend rtl: about {:.0f} s of RTL simulation ({} clock cycles on the {} model)",
                             estimate, cycles, model));

  const auto t0 = std::chrono::steady_clock::now();
  auto rtl = make_rtl_array(model);
  stats_ = {};
  stats_.model = model;
  TimingReport rep;
  rep.backend = std::string(name());
  rep.model = base.model;
  rep.hw = base.hw;
  rep.clock_mhz = base.clock_mhz;
  std::size_t next = 0;
  for (std::size_t r = 0; r < base.layers.size(); ++r) {
    const LayerTiming& row = base.layers[r];
    if (next >= todo.size() || todo[next].row != r) {
      if (!row.is_compute && (!opts_.select || opts_.select(row.name))) rep.layers.push_back(row);
      continue;
    }
    const Layer& L = todo[next++];
    const Schedule& s = L.s;
    const GemmView& gv = s.gemm;
    const GemmValues* v = opts_.values ? opts_.values->operands(L.index) : nullptr;
    std::vector<int64_t> y;
    std::vector<GemmOperands> ops;
    if (v) ops = repeat_operands(v->a, v->b, gv, y, row.name);
    const PeArith pe = PeArith::of(hw, s.pe, v ? v->a_signed : false);
    std::vector<RtlFold> folds(static_cast<std::size_t>(s.folds()));
    for (int64_t f = 0; f < s.folds(); ++f) {
      const FoldStep step = s.fold(f);
      folds[static_cast<std::size_t>(f)] = {s.dataflow, s.rows, s.cols, pe, FoldWork::of(step),
                                            v ? &ops[static_cast<std::size_t>(step.repeat)] : nullptr};
    }
    const RtlRunStats st = rtl->run(folds);
    if (v) opts_.values->accumulators(L.index, y);

    LayerTiming out = row;
    out.compute_cycles = st.compute_cycles;
    out.total_cycles = row.total_cycles - row.compute_cycles + st.compute_cycles;
    const double slots = static_cast<double>(s.rows * s.cols) * s.pe.macs_per_pe_cycle();
    out.utilization = out.total_cycles > 0
                          ? static_cast<double>(gv.macs()) / (slots * static_cast<double>(out.total_cycles))
                          : 0.0;
    rep.layers.push_back(std::move(out));
    ++stats_.layers;
    stats_.folds += s.folds();
    stats_.compute_cycles += st.compute_cycles;
    stats_.clock_cycles += st.clock_cycles;
  }
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace qsim
