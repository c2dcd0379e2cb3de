#include "quant/quant_fake.h"

#include <cstring>

#include "graph/error.h"
#include "quant/quant_ops.h"

namespace qsim {

using qops::FakeCodec;

FakeQuantExecutor::FakeQuantExecutor(const QuantizedModel& m, const ExecOptions& opts) : m_(m) {
  if (opts.pool) {
    pool_ = opts.pool;
  } else {
    own_pool_ = std::make_unique<ThreadPool>(opts.threads);
    pool_ = own_pool_.get();
  }
  ExecOptions eo = opts;
  eo.pool = pool_;
  ex_ = std::make_unique<Executor>(m.graph(), eo);
  const LayerGraph& g = m.graph();
  for (ValueId v : g.inputs()) qin_.emplace_back(g.value(v).dtype, g.value(v).shape);
  install();
}

FakeQuantExecutor::~FakeQuantExecutor() = default;

void FakeQuantExecutor::install() {
  const LayerGraph& g = m_.graph();
  ThreadPool& pool = *pool_;
  auto fl = [](const TensorRef& t) { return static_cast<float*>(t.data); };
  ptrs_.reserve(g.nodes().size());  // the overrides keep references to its elements
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    switch (m_.role(id)) {
      case QRole::kCompute: {
        const ComputeQ& q = m_.compute(id);
        // MatMul has no bias operand in the float graph: the hook adds it.
        const bool add_bias = n.op == OpKind::kMatMul;
        ex_->add_hook(id, [&q, &pool, add_bias, fl](NodeId, std::span<const TensorRef> outs) {
          float* y = fl(outs[0]);
          const int64_t planes = q.outer * q.channels;
          auto plane = [&](int64_t p) {
            const int64_t c = p % q.channels;
            float* yp = y + p * q.inner;
            const int32_t bias = add_bias ? q.bias[static_cast<std::size_t>(c)] : 0;
            if (q.float_output) {  // a graph output: the accumulator dequantized
              for (int64_t i = 0; i < q.inner; ++i)
                yp[i] = q.real(intarith::acc_to_int32(static_cast<int32_t>(static_cast<uint32_t>(qops::to_int32(yp[i])) +
                                                                       static_cast<uint32_t>(bias)),
                                                  q.acc_bits),
                               c);
              return;
            }
            if (!q.float_epilogue) {
              qops::requantize_run<FakeCodec, float>(yp, yp, q.inner, bias, q.mult[static_cast<std::size_t>(c)],
                                                     q.out.zero_point, q.out_range, q.acc_bits);
              return;
            }
            for (int64_t i = 0; i < q.inner; ++i) {
              const auto a = static_cast<int32_t>(static_cast<uint32_t>(qops::to_int32(yp[i])) + static_cast<uint32_t>(bias));
              yp[i] = FakeCodec::put(q.finish(a, c), q.out.zero_point);
            }
          };
          if (planes * q.inner < (1 << 15) || pool.size() == 1) {
            for (int64_t p = 0; p < planes; ++p) plane(p);
          } else {
            qops::parallel_elements(planes, pool, [&](int64_t b, int64_t e) {
              for (int64_t p = b; p < e; ++p) plane(p);
            });
          }
        });
        break;
      }
      case QRole::kAdd: {
        const AddQ& q = m_.add(id);
        const int64_t count = shape_numel(g.value(n.outputs[0]).shape);
        auto& ptrs = ptrs_.emplace_back(n.inputs.size());
        ex_->set_override(id, [&q, &pool, &ptrs, count, fl](NodeId, std::span<const TensorRef> ins,
                                                             std::span<const TensorRef> outs) {
          for (std::size_t k = 0; k < ins.size(); ++k) ptrs[k] = fl(ins[k]);
          qops::add<FakeCodec>(q, ptrs, fl(outs[0]), count, pool);
        });
        break;
      }
      case QRole::kConcat: {
        const ConcatQ& q = m_.concat(id);
        auto& ptrs = ptrs_.emplace_back(n.inputs.size());
        ex_->set_override(id, [&q, &ptrs, fl](NodeId, std::span<const TensorRef> ins, std::span<const TensorRef> outs) {
          for (std::size_t k = 0; k < ins.size(); ++k) ptrs[k] = fl(ins[k]);
          qops::concat<FakeCodec>(q, ptrs, fl(outs[0]));
        });
        break;
      }
      case QRole::kAvgPool: {
        const PoolQ& q = m_.pool(id);
        ex_->set_override(id, [&q, &pool, fl](NodeId, std::span<const TensorRef> ins, std::span<const TensorRef> outs) {
          qops::avg_pool<FakeCodec>(q, fl(ins[0]), fl(outs[0]), pool);
        });
        break;
      }
      case QRole::kClamp: {
        const ClampQ& q = m_.clamp(id);
        const int64_t count = shape_numel(g.value(n.outputs[0]).shape);
        ex_->set_override(id, [&q, count, fl](NodeId, std::span<const TensorRef> ins, std::span<const TensorRef> outs) {
          qops::clamp<FakeCodec>(q, fl(ins[0]), fl(outs[0]), count);
        });
        break;
      }
      case QRole::kRequant: {
        const RescaleQ& q = m_.rescale(id);
        const int64_t count = shape_numel(g.value(n.outputs[0]).shape);
        ex_->set_override(id, [&q, count, fl](NodeId, std::span<const TensorRef> ins, std::span<const TensorRef> outs) {
          qops::rescale<FakeCodec>(q, fl(ins[0]), fl(outs[0]), count);
        });
        break;
      }
      case QRole::kDequant:
      case QRole::kQuant: {
        const QParams& q = m_.convert(id).q;
        const bool to_float = m_.role(id) == QRole::kDequant;
        const int64_t count = shape_numel(g.value(n.outputs[0]).shape);
        ex_->set_override(id, [&q, to_float, count, fl](NodeId, std::span<const TensorRef> ins,
                                                         std::span<const TensorRef> outs) {
          if (to_float) {
            qops::dequantize<FakeCodec>(q, fl(ins[0]), fl(outs[0]), count);
          } else {
            qops::quantize<FakeCodec>(q, fl(ins[0]), fl(outs[0]), count);
          }
        });
        break;
      }
      case QRole::kMaxPool:
      case QRole::kView:
      case QRole::kMove:
      case QRole::kFloat: break;  // the float32 kernel is exact on these values
    }
  }
}

void FakeQuantExecutor::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  const LayerGraph& g = m_.graph();
  const auto gin = g.inputs();
  check_run_inputs(g, inputs);
  for (std::size_t i = 0; i < gin.size(); ++i) {
    if (const QParams* q = m_.params(gin[i])) {
      qops::quantize<FakeCodec>(*q, inputs[i].data<float>().data(), qin_[i].data<float>().data(), inputs[i].numel());
    } else if (inputs[i].nbytes() > 0) {
      std::memcpy(qin_[i].bytes().data(), inputs[i].bytes().data(), inputs[i].nbytes());
    }
  }
  ex_->run(qin_, outputs);
  dequantize_outputs(outputs);
}

void FakeQuantExecutor::run_prequantized(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  check_run_inputs(m_.graph(), inputs);
  ex_->run(inputs, outputs);
  dequantize_outputs(outputs);
}

void FakeQuantExecutor::dequantize_outputs(std::vector<Tensor>& outputs) const {
  const LayerGraph& g = m_.graph();
  const auto gout = g.outputs();
  for (std::size_t i = 0; i < gout.size(); ++i)
    if (const QParams* q = m_.params(gout[i])) {
      float* y = outputs[i].data<float>().data();
      qops::dequantize<FakeCodec>(*q, y, y, outputs[i].numel());
    }
}

std::vector<Tensor> FakeQuantExecutor::run(std::span<const Tensor> inputs) {
  std::vector<Tensor> out;
  run(inputs, out);
  return out;
}

}  // namespace qsim
