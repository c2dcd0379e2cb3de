// Single-precision GEMM for the executor: C (M x N) = alpha * A (M x K) * B (K x N),
// then an epilogue (bias, accumulate, fused activation). The products are Eigen's.
//
// What is ours is around them: the work is cut into (row chunk, column tile) tasks
// for our ThreadPool, K is walked in slices of kKC, and every Eigen call is bounded
// (kKC x kMaxRows of A, kKC x kMaxCols of B) so that Eigen's packing buffers stay on
// the stack: running a planned product allocates nothing. Operands are read in place
// through Eigen::Map (row-major, or transposed). A B operand that is never stored
// whole (a convolution's im2col matrix) is filled by a BlockSource slice by slice
// into the worker's workspace right before Eigen reads it, or, when the rows are
// split over several tasks, once per product into slices shared by those tasks.
// The epilogue is applied to each finished tile while it is in cache.
//
// Tile boundaries are multiples of Eigen's register block (48 columns, 16 rows) and
// the K slices do not depend on the tiling, so a C element gets the same sum whatever
// the thread count: results are bitwise identical across thread counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "runtime/thread_pool.h"

namespace qsim::gemm {

// K slice of one Eigen call.
inline constexpr int64_t kKC = 128;
// K slice of a matrix-vector product (one row or one column of C, B read in place):
// Eigen packs nothing then, but may copy a strided vector into a stack temporary.
inline constexpr int64_t kGemvKC = 8192;
// Per-worker floats the shared B slices of one product may take (4 MiB).
inline constexpr int64_t kMaxSharedFloats = int64_t{1} << 20;
// Rows of A (and C) per Eigen call; a task's row chunk is walked in blocks of these.
inline constexpr int64_t kMaxRows = 256;
// Columns of B (and C) per task: a multiple of kColAlign with kKC x kMaxCols floats
// (120 KiB) under Eigen's stack-allocation limit (128 KiB).
inline constexpr int64_t kMaxCols = 240;
// Tile boundaries: Eigen's register block is 48 columns (3 x 16 floats) with
// AVX-512 (24 with AVX2, 12 with SSE) and 4 rows (nr).
inline constexpr int64_t kColAlign = 48;
inline constexpr int64_t kRowAlign = 16;

using FloatBuffer = std::vector<float, AlignedAllocator<float>>;

// A strided matrix read in place: element (r, c) at data[r * ld + c], or, when
// `trans`, at data[c * ld + r] (the operand is the transpose of a row-major matrix).
struct Matrix {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

// A B operand that is never stored whole (a convolution's im2col matrix): fills
// rows [k0, k0 + kc) x columns [n0, n0 + nc) into dst, row-major with leading
// dimension ld (ld >= nc, a multiple of 16). Called concurrently from the workers.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  virtual void fill(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const = 0;
};

struct Epilogue {
  const float* row_bias = nullptr;  // one value per row of C (conv: per output channel)
  const float* col_bias = nullptr;  // one value per column of C
  bool accumulate = false;          // add the product to what C already holds
  Activation act;                   // applied last
};

// One product C = alpha * A * B (+ epilogue); C row-major with leading dimension ldc.
struct Job {
  int64_t M = 0, N = 0, K = 0;
  Matrix a;                               // M x K
  Matrix b;                               // K x N, unless b_source is set
  const BlockSource* b_source = nullptr;  // fills B slice by slice into the workspace
  float alpha = 1.0f;
  float* c = nullptr;
  int64_t ldc = 0;
  Epilogue ep;
};

// How a batch of jobs is cut into tasks; a pure function of shapes and thread count,
// so a plan can size the per-worker workspace once.
struct Tiling {
  int64_t mc = 0;  // rows per task (multiple of kRowAlign unless the whole M)
  int64_t nc = 0;  // columns per task (multiple of kColAlign unless the whole N); the last
                   // tile runs to N (it takes a remainder of under kColAlign columns), at most kMaxCols
  int64_t m_tasks = 0, n_tasks = 0;
  // B from a BlockSource, rows split into chunks: each job's B is filled once, before
  // the tasks, in K slices spread over the workspaces of `workers` workers
  // (shared_floats each), instead of once per row chunk.
  bool shared_b = false;
  int workers = 1;
  int64_t shared_floats = 0;
};
// b_filled: B comes from a BlockSource. jobs: how many jobs of this shape run together.
Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads, bool b_filled = false);
// Floats of per-worker workspace the jobs need (zero unless B comes from a BlockSource).
int64_t workspace_floats(const Job& shape_of_jobs, const Tiling& t);

// Per-worker scratch, sized once (no allocation while running).
class Workspace {
 public:
  void reserve(int workers, int64_t floats);
  float* get(int worker) { return buffers_[static_cast<std::size_t>(worker)].data(); }
  int workers() const { return static_cast<int>(buffers_.size()); }
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
