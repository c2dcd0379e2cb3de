// Integer GEMM for the integer executor: C (rows x cols) = A (rows x K, int8 weights)
// * B (K x cols, uint8 activations), int32 accumulation that wraps (int_arith.h rule 3).
//
// Layouts let one AVX-512 VNNI instruction (vpdpbusd: 16 lanes of four u8 x s8
// products summed into int32) do 64 multiply-accumulates: K is grouped by 4, so
// - A panels hold kMR rows: for each group k4, kMR x 4 bytes (row r's four weights
//   contiguous, broadcast as one int32);
// - a B panel holds kNR columns: for each group k4, kNR x 4 bytes (column j's four
//   activations contiguous, one zmm per 16 columns).
// Missing rows, columns and k are zero-padded. Without AVX-512 VNNI plain loops over
// the same layouts compute the same integers.
//
// Two drivers share them:
// - kernel(): one kMR x kNR tile over all of K into an int32 buffer (Gemm/MatMul layers
//   and widths the packed path does not take, quant/int_exec.cpp);
// - run(): the packed GEMM of convolutions, built like the float one (runtime/gemm.h):
//   weights packed once, K slice after K slice; B panels packed per task by a
//   BytePanelSource (im2col fused into packing); (row chunk, column chunk) tasks on the
//   pool; and the requantization (bias, wrap to acc_bits, multiplier, zero point,
//   clamp: int_arith.h rules 3-5, exactly as quant_ops.h computes them) applied to the
//   tile in registers before its one store.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "arith/int_arith.h"
#include "graph/tensor.h"
#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace qsim::intgemm {

inline constexpr int kMR = 8;
inline constexpr int kNR = 48;
// K groups (of 4) per slice of the packed GEMM: a B panel slice is kKG x kNR x 4 bytes.
inline constexpr int64_t kKG = 128;

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

// True when the kernels use AVX-512 VNNI (compiled with it).
bool uses_vnni();

// ------------------------------------------------------------------ packed GEMM (convolutions)

// Weights packed slice-major for run(): K-group slice [g0, g0 + gc) of panel p at byte
// (g0 * round_up(rows, kMR) + p * gc * kMR) * 4, so one slice of every panel is one
// contiguous stream.
struct PackedWeights {
  int64_t rows = 0, K = 0, K4 = 0;
  ByteBuffer data;
  std::vector<int32_t> row_sum;
};
PackedWeights pack_weights(const int32_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride);

// A B operand packed from its source panel by panel: K groups [g0, g0 + gc) x columns
// [n0, n0 + nc) (n0 a multiple of kNR, nc <= kNR) as gc groups of kNR x 4 bytes at dst
// (64-byte aligned). Called concurrently from the workers.
class BytePanelSource {
 public:
  virtual ~BytePanelSource() = default;
  virtual void pack(int64_t g0, int64_t gc, int64_t n0, int64_t nc, uint8_t* dst) const = 0;
};

// What the last K slice does with a row's accumulators.
struct RowRequant {
  const int32_t* bias = nullptr;                 // per row, added first (wrapping)
  const intarith::Multiplier* mult = nullptr;    // per row
  int32_t zero_point = 0;
  intarith::QRange range;
  int acc_bits = 32;
};
// When the requantization cannot run in registers (a float epilogue, a multiplier the
// vector form does not take): the raw accumulators of a finished row segment.
class RowFinisher {
 public:
  virtual ~RowFinisher() = default;
  virtual void finish(int64_t row, int32_t* acc, int64_t n) const = 0;
};

struct Job {
  int64_t M = 0, N = 0, K = 0;
  const PackedWeights* a = nullptr;
  const BytePanelSource* b = nullptr;
  int32_t* c = nullptr;
  int64_t ldc = 0;
  RowRequant requant;                     // used when finisher is null
  const RowFinisher* finisher = nullptr;  // raw accumulators handed over per row segment
};
// True when requant can run in the kernels' registers.
bool vector_requant(const RowRequant& r, int64_t rows);

// Bytes of per-worker workspace the jobs need under tiling t (gemm::plan_tiling).
int64_t workspace_bytes(const gemm::Tiling& t);
// Runs all jobs (same M, N, K) on the pool; ws: per-worker buffers of workspace_bytes().
void run(std::span<const Job> jobs, const gemm::Tiling& t, ThreadPool& pool, std::span<ByteBuffer> ws);

}  // namespace qsim::intgemm
