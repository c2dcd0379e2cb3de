// Integer GEMM for the integer executor: C (rows x kNR) = A (rows x K, int8 weights)
// * B (K x kNR, uint8 activations), int32 accumulation that wraps (int_arith.h rule 3).
//
// Layouts let one AVX-512 VNNI instruction (vpdpbusd: 16 lanes of four u8 x s8
// products summed into int32) do 64 multiply-accumulates: K is grouped by 4, so
// - A panels hold kMR rows: for each group k4, kMR x 4 bytes (row r's four weights
//   contiguous, broadcast as one int32);
// - a B panel holds kNR columns: for each group k4, kNR x 4 bytes (column j's four
//   activations contiguous, one zmm per 16 columns).
// Missing rows, columns and k are zero-padded. Without AVX-512 VNNI a plain loop over
// the same layout computes the same integers.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/tensor.h"

namespace qsim::intgemm {

inline constexpr int kMR = 8;
inline constexpr int kNR = 48;

using ByteBuffer = std::vector<uint8_t, AlignedAllocator<uint8_t>>;

inline int64_t k_groups(int64_t K) { return (K + 3) / 4; }

// Weights (int32 values in int8 range) packed into kMR-row panels: element (r, k) at
// w[r * row_stride + k * k_stride]. row_sum[r] = sum_k w(r, k) (zero-point correction).
struct PackedA {
  int64_t rows = 0, K = 0, K4 = 0;
  ByteBuffer data;  // panels of K4 * kMR * 4 bytes
  std::vector<int32_t> row_sum;
  const int8_t* panel(int64_t p) const {
    return reinterpret_cast<const int8_t*>(data.data()) + p * K4 * kMR * 4;
  }
};
PackedA pack_a(const int32_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride);

// Bytes of one B panel.
inline int64_t b_panel_bytes(int64_t K) { return k_groups(K) * kNR * 4; }

// c (kMR x kNR int32, row-major) = A panel (K4 groups) * B panel.
void kernel(const int8_t* a, const uint8_t* b, int64_t K4, int32_t* c);

// True when kernel() uses AVX-512 VNNI (compiled with it).
bool uses_vnni();

}  // namespace qsim::intgemm
