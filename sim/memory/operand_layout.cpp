#include "sim/memory/operand_layout.h"

namespace qsim {

OperandLayout OperandLayout::of_gemm(const GemmView& gemm) {
  OperandLayout l;
  l.gemm = gemm;
  return l;
}

OperandLayout OperandLayout::of(const LayerGraph& g, NodeId id) {
  OperandLayout l = of_gemm(g.stats(id).gemm);
  const Node& n = g.node(id);
  const auto* a = std::get_if<ConvAttrs>(&n.attrs);
  if (n.op != OpKind::kConv || !a || a->kernel.size() != 2) return l;
  const Shape& x = g.value(n.inputs.at(0)).shape;   // N C H W
  const Shape& y = g.value(n.outputs.at(0)).shape;  // N K OH OW
  if (x.size() != 4 || y.size() != 4) return l;
  l.conv = true;
  l.batch = x[0];
  l.in_c = x[1];
  l.in_h = x[2];
  l.in_w = x[3];
  l.k_h = a->kernel[0];
  l.k_w = a->kernel[1];
  l.c_per_group = x[1] / a->group;
  l.out_h = y[2];
  l.out_w = y[3];
  if (a->strides.size() == 2) l.stride_h = a->strides[0], l.stride_w = a->strides[1];
  if (a->dilations.size() == 2) l.dil_h = a->dilations[0], l.dil_w = a->dilations[1];
  if (a->pads.size() == 4) l.pad_top = a->pads[0], l.pad_left = a->pads[1];
  return l;
}

int64_t OperandLayout::ifmap(int64_t repeat, int64_t m, int64_t k) const {
  if (!conv) return (repeat * gemm.M + m) * gemm.K + k;
  const int64_t plane = out_h * out_w;
  const int64_t b = m / plane, p = m % plane;
  const int64_t oh = p / out_w, ow = p % out_w;
  const int64_t fh = k / (k_w * c_per_group), rest = k % (k_w * c_per_group);
  const int64_t fw = rest / c_per_group, c = rest % c_per_group;
  const int64_t ih = oh * stride_h - pad_top + fh * dil_h;
  const int64_t iw = ow * stride_w - pad_left + fw * dil_w;
  if (ih < 0 || ih >= in_h || iw < 0 || iw >= in_w) return -1;
  return ((b * in_h + ih) * in_w + iw) * in_c + repeat * c_per_group + c;
}

}  // namespace qsim
