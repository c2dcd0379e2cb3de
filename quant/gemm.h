// Packed single-precision GEMM: C (M x N) = A (M x K) * B (K x N), then an epilogue.
//
// Both operands are consumed in "panels": a panel of an operand holds R
// consecutive rows of A (R = kMR) or columns of B (R = kNR) for all K, stored as
// K groups of R floats (zero-padded past the last row/column), so the
// micro-kernel streams both with unit stride. Constant operands (weights) are
// packed once when a plan is built; activation operands are packed per column
// tile by a PanelSource, which for convolutions is the fused im2col (see conv.h).
//
// The micro-kernel keeps a kMR x kNR block of C in registers (8 x 48 with
// AVX-512, 6 x 16 otherwise) and walks K in blocks of kKC so its B panel stays in
// L1; the epilogue (bias, accumulate, fused activation) runs on the registers of
// the last K block. Work is split into (M chunk, N tile) tasks over a ThreadPool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "quant/thread_pool.h"

namespace qsim::gemm {

#if defined(__AVX512F__)
inline constexpr int kMR = 8;
inline constexpr int kNR = 48;
#else
inline constexpr int kMR = 6;
inline constexpr int kNR = 16;
#endif
// K block: a kKC x kNR panel of B (36 KiB with AVX-512) stays in L1 (48 KiB) beside
// the kMR x kKC panel of A (6 KiB) that the micro-kernel streams past it.
inline constexpr int64_t kKC = 192;

using FloatBuffer = std::vector<float, AlignedAllocator<float>>;

inline int64_t panel_count(int64_t rows, int R) { return (rows + R - 1) / R; }
inline int64_t packed_floats(int64_t rows, int64_t K, int R) { return panel_count(rows, R) * K * R; }

// Packs rows [first, first + count) x k in [k0, k0 + kc) of an operand whose
// element (row r, k) is at src[r * row_stride + k * k_stride], times `scale`, into
// R-row panels of depth kc (panel p at dst + p * kc * R).
void pack_panels(const float* src, int64_t row_stride, int64_t k_stride, int64_t first, int64_t count,
                 int64_t k0, int64_t kc, int R, float scale, float* dst);
// Whole operand (all K) into panels of depth K: the layout of Operand::packed.
void pack_all(const float* src, int64_t row_stride, int64_t k_stride, int64_t rows, int64_t K, int R,
              float scale, float* dst);

// An operand packed on demand, one K block at a time: `pack` fills panels of depth
// kc for rows (A) or columns (B) [first, first + count) and k in [k0, k0 + kc).
// `first` is a multiple of the panel width, k0 of kKC.
class PanelSource {
 public:
  virtual ~PanelSource() = default;
  virtual void pack(int64_t first, int64_t count, int64_t k0, int64_t kc, float* dst) const = 0;
};

// A plain strided matrix as a PanelSource.
class StridedSource final : public PanelSource {
 public:
  StridedSource() = default;
  StridedSource(const float* src, int64_t row_stride, int64_t k_stride, int R)
      : src_(src), row_stride_(row_stride), k_stride_(k_stride), R_(R) {}
  void pack(int64_t first, int64_t count, int64_t k0, int64_t kc, float* dst) const override {
    pack_panels(src_, row_stride_, k_stride_, first, count, k0, kc, R_, 1.0f, dst);
  }

 private:
  const float* src_ = nullptr;
  int64_t row_stride_ = 0, k_stride_ = 0;
  int R_ = 1;
};

// Either already packed (all panels, from row/column 0) or packed per task.
struct Operand {
  const float* packed = nullptr;
  const PanelSource* source = nullptr;
};

struct Epilogue {
  const float* row_bias = nullptr;  // one value per row of C (conv: per output channel)
  const float* col_bias = nullptr;  // one value per column of C
  bool accumulate = false;          // add the product to what C already holds
  Activation act;                   // applied last
};

// One product C = A * B (+ epilogue); C row-major with leading dimension ldc.
struct Job {
  int64_t M = 0, N = 0, K = 0;
  Operand a, b;
  float* c = nullptr;
  int64_t ldc = 0;
  Epilogue ep;
};

// How a batch of jobs is cut into tasks; a pure function of shapes and thread count,
// so a plan can size the per-worker workspace once.
struct Tiling {
  int64_t mc = 0;  // rows per task (multiple of kMR unless the whole M)
  int64_t nc = 0;  // columns per task (multiple of kNR unless the whole N)
  int64_t m_tasks = 0, n_tasks = 0;
};
Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads);
// Floats of per-worker workspace the jobs need (zero when both operands are prepacked).
int64_t workspace_floats(const Job& shape_of_jobs, const Tiling& t);

// Per-worker scratch, sized once (no allocation while running).
class Workspace {
 public:
  void reserve(int workers, int64_t floats);
  float* get(int worker) { return buffers_[static_cast<std::size_t>(worker)].data(); }
  int64_t floats() const { return floats_; }

 private:
  std::vector<FloatBuffer> buffers_;
  int64_t floats_ = 0;
};

// Runs all jobs (same M, N, K; they may differ in operands and C) on the pool.
void run(std::span<const Job> jobs, const Tiling& t, ThreadPool& pool, Workspace& ws);
// Convenience for one job: plans the tiling and grows `ws` if needed.
void run_one(const Job& job, ThreadPool& pool, Workspace& ws);

// Applies a fused activation to n contiguous floats.
void apply_activation(const Activation& act, float* x, int64_t n);

}  // namespace qsim::gemm
