#include "quant/layer_operands.h"

#include <cstring>

#include "graph/error.h"

namespace qsim {

namespace {

// The geometry of a layer's GEMM in the executor's tensors.
struct Geometry {
  bool conv = false;
  int64_t batch = 1, C = 1, H = 1, W = 1;  // input NCHW
  int64_t Cout = 1, OH = 1, OW = 1;        // output NCHW
  int64_t groups = 1, cg = 1, ng = 1, kh = 1, kw = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int64_t M = 0, N = 0, K = 0;
};

Geometry geometry(const QuantizedModel& m, NodeId id) {
  const LayerGraph& g = m.graph();
  const Node& n = g.node(id);
  if (m.role(id) != QRole::kCompute)
    fail("layer '{}': not an integer compute layer (its weights are not constant)", n.name);
  const Shape& xs = g.value(n.inputs.at(0)).shape;
  const Shape& ys = g.value(n.outputs.at(0)).shape;
  const ComputeQ& q = m.compute(id);
  Geometry s;
  if (n.op == OpKind::kConv) {
    const auto& a = std::get<ConvAttrs>(n.attrs);
    if (a.kernel.size() != 2 || xs.size() != 4 || ys.size() != 4)
      fail("layer '{}': only 2-D convolutions can be checked against the accelerator", n.name);
    s.conv = true;
    s.batch = xs[0], s.C = xs[1], s.H = xs[2], s.W = xs[3];
    s.Cout = ys[1], s.OH = ys[2], s.OW = ys[3];
    s.groups = a.group;
    s.cg = s.C / s.groups;
    s.ng = s.Cout / s.groups;
    s.kh = a.kernel[0], s.kw = a.kernel[1];
    if (a.strides.size() == 2) s.sh = a.strides[0], s.sw = a.strides[1];
    if (a.dilations.size() == 2) s.dh = a.dilations[0], s.dw = a.dilations[1];
    if (a.pads.size() == 4) s.pt = a.pads[0], s.pl = a.pads[1];
    s.M = s.batch * s.OH * s.OW;
    s.N = s.ng;
    s.K = s.cg * s.kh * s.kw;
    return s;
  }
  s.K = xs.back();
  s.M = shape_numel(xs) / s.K;
  s.N = q.channels;
  s.Cout = s.N;
  if (shape_numel(ys) != s.M * s.N) fail("layer '{}': a batched matrix product cannot be checked", n.name);
  return s;
}

}  // namespace

LayerGemm layer_gemm(const QuantizedModel& m, const IntExecutor& ex, NodeId id) {
  const Geometry s = geometry(m, id);
  const Node& n = m.graph().node(id);
  const ComputeQ& q = m.compute(id);
  const std::span<const int32_t> x = ex.integers(n.inputs[0]);
  LayerGemm l;
  l.gemm = {s.M, s.N, s.K, s.groups};
  l.a_signed = q.in.is_signed;
  l.a.resize(static_cast<std::size_t>(s.groups * s.M * s.K));
  l.b.resize(static_cast<std::size_t>(s.groups * s.K * s.N));
  if (!s.conv) {
    std::memcpy(l.a.data(), x.data(), l.a.size() * sizeof(int32_t));
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t c = 0; c < s.N; ++c)
        l.b[static_cast<std::size_t>(k * s.N + c)] =
            q.qweight[static_cast<std::size_t>(q.weight_axis == 0 ? c * s.K + k : k * s.N + c)];
    return l;
  }
  const int32_t z = q.in.zero_point;
  for (int64_t r = 0; r < s.groups; ++r) {
    int32_t* a = l.a.data() + r * s.M * s.K;
    for (int64_t mm = 0; mm < s.M; ++mm) {
      const int64_t b = mm / (s.OH * s.OW), p = mm % (s.OH * s.OW), oh = p / s.OW, ow = p % s.OW;
      for (int64_t fh = 0; fh < s.kh; ++fh)
        for (int64_t fw = 0; fw < s.kw; ++fw) {
          const int64_t ih = oh * s.sh - s.pt + fh * s.dh, iw = ow * s.sw - s.pl + fw * s.dw;
          const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
          for (int64_t c = 0; c < s.cg; ++c) {
            const int64_t k = (fh * s.kw + fw) * s.cg + c;
            a[mm * s.K + k] =
                inside ? x[static_cast<std::size_t>(((b * s.C + r * s.cg + c) * s.H + ih) * s.W + iw)] : z;
          }
        }
    }
    int32_t* bb = l.b.data() + r * s.K * s.N;
    for (int64_t c = 0; c < s.ng; ++c)
      for (int64_t fh = 0; fh < s.kh; ++fh)
        for (int64_t fw = 0; fw < s.kw; ++fw)
          for (int64_t ci = 0; ci < s.cg; ++ci)
            bb[((fh * s.kw + fw) * s.cg + ci) * s.N + c] =
                q.qweight[static_cast<std::size_t>((((r * s.ng + c) * s.cg + ci) * s.kh + fh) * s.kw + fw)];
  }
  return l;
}

std::string first_output_mismatch(const QuantizedModel& m, const IntExecutor& ex, NodeId id,
                                  std::span<const int64_t> acc, int64_t& checked) {
  const Geometry s = geometry(m, id);
  const Node& n = m.graph().node(id);
  const ComputeQ& q = m.compute(id);
  const LayerGemm l = layer_gemm(m, ex, id);
  checked = 0;
  if (static_cast<int64_t>(acc.size()) != s.groups * s.M * s.N)
    return fmt::format("{} accumulators for {} outputs", acc.size(), s.groups * s.M * s.N);
  const ValueId y = n.outputs[0];
  const bool float_out = m.params(y) == nullptr;
  const std::span<const int32_t> want_q = float_out ? std::span<const int32_t>{} : ex.integers(y);
  const std::span<const float> want_f = float_out ? ex.floats(y) : std::span<const float>{};
  const int64_t z = q.in.zero_point;
  for (int64_t r = 0; r < s.groups; ++r)
    for (int64_t c = 0; c < s.N; ++c) {
      int64_t colsum = 0;  // the zero point's share: z * sum_k w[k][c]
      for (int64_t k = 0; k < s.K; ++k) colsum += l.b[static_cast<std::size_t>((r * s.K + k) * s.N + c)];
      const int64_t ch = r * s.N + c;
      for (int64_t mm = 0; mm < s.M; ++mm) {
        const int64_t sum =
            acc[static_cast<std::size_t>((r * s.M + mm) * s.N + c)] - z * colsum + q.bias[static_cast<std::size_t>(ch)];
        int64_t idx = mm * s.N + c;  // Gemm / MatMul: [M, N]
        if (s.conv) {
          const int64_t b = mm / (s.OH * s.OW), p = mm % (s.OH * s.OW);
          idx = (b * s.Cout + ch) * s.OH * s.OW + p;
        }
        ++checked;
        auto where = [&] {
          return s.conv ? fmt::format("output {} (batch {}, channel {}, position {})", idx, mm / (s.OH * s.OW), ch,
                                      mm % (s.OH * s.OW))
                        : fmt::format("output {} (row {}, column {})", idx, mm, c);
        };
        if (float_out) {
          const float got = q.real(intarith::acc_to_int32(sum, q.acc_bits), ch);
          const float want = want_f[static_cast<std::size_t>(idx)];
          if (std::memcmp(&got, &want, sizeof(float)) != 0)
            return fmt::format("{}: simulated {}, integer executor {}", where(), got, want);
        } else {
          const int32_t got = q.finish(sum, ch);
          const int32_t want = want_q[static_cast<std::size_t>(idx)];
          if (got != want) return fmt::format("{}: simulated {}, integer executor {}", where(), got, want);
        }
      }
    }
  return {};
}

}  // namespace qsim
