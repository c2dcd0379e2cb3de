// OperandLayout — where each element of a layer's GEMM operands lives in its
// SRAM and DRAM address space: what SRAM banks are chosen by and what the
// SCALE-Sim-format traces print.
//
// The layouts are SCALE-Sim v2's (scalesim/compute/operand_matrix.py), in element
// addresses:
//   ifmap   a convolution reads its input in NHWC order, (n*H + h)*W + w)*C + c, and
//           the reduction index k runs over the window as (fh, fw, c), channel
//           fastest; a GEMM's A[m][k] is at m*K + k
//   filter  B[k][n] at n*K + k (one filter after the other)
//   ofmap   Y[m][n] at m*N + n
// Groups (repeats) own consecutive channels and filters. An input position in the
// padding has no address (-1): the array edge injects the zero point without an
// SRAM access. SCALE-Sim's trace files add 10000000 to filter and 20000000 to ofmap
// addresses (its default offsets); trace writers do that, the layout does not.
#pragma once

#include <cstdint>

#include "graph/layer_graph.h"

namespace qsim {

struct OperandLayout {
  GemmView gemm;
  bool conv = false;
  // Convolution geometry (2-D; 1-D and 3-D convolutions are laid out as GEMMs).
  int64_t batch = 1, in_h = 1, in_w = 1, in_c = 1;  // input NHWC, all channels
  int64_t k_h = 1, k_w = 1, c_per_group = 1;
  int64_t out_h = 1, out_w = 1;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_top = 0, pad_left = 0;

  // A GEMM layout for `gemm` (no convolution geometry).
  static OperandLayout of_gemm(const GemmView& gemm);
  // The layout of compute layer `id` of `g`.
  static OperandLayout of(const LayerGraph& g, NodeId id);

  int64_t ifmap(int64_t repeat, int64_t m, int64_t k) const;  // -1: padding
  int64_t filter(int64_t repeat, int64_t k, int64_t n) const { return (repeat * gemm.N + n) * gemm.K + k; }
  int64_t ofmap(int64_t repeat, int64_t m, int64_t n) const {  // convolutions: NHWC, groups' channels side by side
    return conv ? m * gemm.N * gemm.repeats + repeat * gemm.N + n : (repeat * gemm.M + m) * gemm.N + n;
  }
};

}  // namespace qsim
