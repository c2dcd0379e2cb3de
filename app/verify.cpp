#include "app/verify.h"

#include <algorithm>

#include "app/quant_cli.h"
#include "graph/error.h"
#include "quant/int_exec.h"
#include "quant/layer_operands.h"

namespace qsim::app {

struct Verifier::Run {
  QuantSpec spec;
  std::unique_ptr<QuantizedModel> model;
  std::unique_ptr<IntExecutor> exec;
};

Verifier::Verifier(const SimulateOptions& o, const LayerGraph& g, const HwSpec& hw) : g_(g), run_(new Run) {
  const PrecisionInput& p = o.precision;
  PrecisionAlloc alloc;
  std::string source = "precision";
  if (!p.precision.empty()) {
    alloc = PrecisionAlloc::load(p.precision);
    source = p.precision;
  } else {
    const int w = p.wbits ? p.wbits : (p.bits ? p.bits : 8);
    const int a = p.abits ? p.abits : (p.bits ? p.bits : 8);
    alloc = PrecisionAlloc::uniform(g, w, a);
  }
  const bool stored = !p.precision.empty() && QuantSpec::from_alloc(alloc, source).has_value();
  if (o.data.empty() && !stored)
    fail("--verify needs --data SOURCE (to calibrate) or a calibrated --precision alloc.json (qsim quantize --out)");
  if (hw.pe.acc_bits < 16 || hw.pe.acc_bits > 32)
    fail("{}: --verify: pe.acc_bits {} is outside the 16..32 bits the integer executor accumulates in", hw.source,
         hw.pe.acc_bits);
  QuantCliOptions q;
  q.acc_bits = hw.pe.acc_bits;
  // Calibration reads the train split of Fashion-MNIST (or the npy samples themselves).
  const SpecSource src = quant_spec(g, alloc, source, q, stored ? std::string() : o.data, 0);
  run_->spec = src.spec;
  if (run_->spec.acc_bits != hw.pe.acc_bits)
    fail("--verify: {} accumulates in {} bits, the PE in {} (pe.acc_bits of {})", source, run_->spec.acc_bits,
         hw.pe.acc_bits, hw.source);
  run_->model = std::make_unique<QuantizedModel>(g, run_->spec, source);
  run_->exec = std::make_unique<IntExecutor>(*run_->model);

  // One input: the first test sample of --data, else a fixed pseudo-random input
  // spread over the calibrated range of each graph input.
  std::vector<Tensor> inputs;
  const auto gin = g.inputs();
  if (!o.data.empty()) {
    const auto data = open_quant_data(o.data, "", Split::kTest, 1, false, "--data");
    if (gin.size() != 1) fail("--verify --data: the model has {} inputs; a data set feeds one", gin.size());
    const Shape& shape = g.value(gin[0]).shape;
    if (shape_numel(shape) != data->sample_numel())
      fail("--data {}: samples of {} values, the model's input has {}", o.data, data->sample_numel(),
           shape_numel(shape));
    Tensor t(DType::kFloat32, shape);
    data->load(0, t.data<float>().data());
    inputs.push_back(std::move(t));
    input_ = "the first sample of " + data->description();
  } else {
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (ValueId v : gin) {
      const Value& val = g.value(v);
      float lo = 0.0f, hi = 1.0f;
      for (const auto& a : run_->spec.activations)
        if (a.tensor == val.name) {
          lo = a.q.dequantize(a.q.range().lo);
          hi = a.q.dequantize(a.q.range().hi);
        }
      Tensor t(DType::kFloat32, val.shape);
      for (float& x : t.data<float>()) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x = lo + (hi - lo) * static_cast<float>(state >> 40) / static_cast<float>(1u << 24);
      }
      inputs.push_back(std::move(t));
    }
    input_ = "a fixed pseudo-random input over the calibrated input range";
  }
  run_->exec->run(inputs);
}

Verifier::~Verifier() = default;

const GemmValues* Verifier::operands(std::size_t index) {
  LayerGemm l = layer_gemm(*run_->model, *run_->exec, g_.compute_layers()[index]);
  current_.a = std::move(l.a);
  current_.b = std::move(l.b);
  current_.a_signed = l.a_signed;
  return &current_;
}

void Verifier::accumulators(std::size_t index, std::span<const int64_t> y) {
  const NodeId id = g_.compute_layers()[index];
  int64_t checked = 0;
  const std::string m = first_output_mismatch(*run_->model, *run_->exec, id, y, checked);
  ++layers_;
  outputs_ += checked;
  if (!m.empty() && failure_.empty()) failure_ = fmt::format("layer '{}': {}", g_.node(id).name, m);
}

}  // namespace qsim::app
