// --verify (docs/systemc.md): the integer executor runs the model once on one
// input; every simulated compute layer runs on that run's quantized operands, and
// its outputs (accumulators through the layer's output stage) are compared with
// the executor's, bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "app/commands.h"
#include "graph/layer_graph.h"
#include "sim/hw_spec.h"
#include "sim/systemc/systemc_backend.h"

namespace qsim::app {

class Verifier : public LayerValueSource {
 public:
  // `g` must hold the model's weights and outlive the verifier. Throws qsim::Error
  // when there is no way to quantize the model (--data or a calibrated --precision).
  Verifier(const SimulateOptions& o, const LayerGraph& g, const HwSpec& hw);
  ~Verifier() override;

  const GemmValues* operands(std::size_t index) override;
  void accumulators(std::size_t index, std::span<const int64_t> y) override;

  const std::string& failure() const { return failure_; }  // "layer 'X': output ...", empty when all equal
  int64_t layers() const { return layers_; }
  int64_t outputs() const { return outputs_; }
  const std::string& input() const { return input_; }  // where the checked input came from

 private:
  struct Run;
  const LayerGraph& g_;
  std::unique_ptr<Run> run_;
  GemmValues current_;
  std::string failure_, input_;
  int64_t layers_ = 0, outputs_ = 0;
};

}  // namespace qsim::app
