// Single-precision GEMM for the executor: C (M x N) = alpha * A (M x K) * B (K x N),
// then an epilogue (accumulate into C, bias, residual, fused activation).
//
// A packed GEMM in the GotoBLAS/BLIS mould, with our own AVX-512 micro-kernel
// (measured against Eigen's and OpenBLAS's products in bench/executor_gemm_bench,
// docs/executor.md):
// - A is packed into panels of kMR rows (for each k, kMR consecutive floats), B into
//   panels of kNR columns (for each k, kNR consecutive floats). A constant operand
//   (convolution and Gemm weights) is packed once, when a plan is made (PackedA /
//   PackedB); anything else is packed per task, one K slice at a time, into the
//   worker's workspace. A B operand that is never stored whole (a convolution's
//   im2col matrix) is a PanelSource: it writes its panels straight from the input,
//   so im2col is fused into packing.
// - The micro-kernel keeps a kMR x kNR tile of C (8 rows x 3 vectors of 16 floats) in
//   24 zmm registers over a K slice of kKC; the last slice applies the epilogue in
//   registers (bias, residual, Relu/Clip) before the one store. Tails use the same
//   kernel with fewer rows (template) and a lane mask on the last vector; a last panel
//   of at most 4 columns (N's remainder) goes to a narrow kernel with the same FMAs in
//   the same order (a ymm of 8 rows per column). A packed constant B streaming from
//   memory (Gemm weights) is prefetched ahead.
// - Work is cut into (row chunk, column chunk) tasks for our ThreadPool (Tiling:
//   columns first, rows only up to one task per thread, guided column chunks handed
//   out largest first); chunk boundaries are multiples of kMR and kNR and the K slices
//   do not depend on the tiling, so every element of C gets the same sum whatever the
//   thread count: results are bitwise identical across thread counts.
// With AVX2 + FMA but no AVX-512 (AMD Zen 1-3, most Intel client cores) an AVX2 kernel
// computes the same tile in blocks of 4 rows x 24 columns (16 ymm registers cannot hold
// it whole), and the narrow last panel as above, with the same FMAs in the same order:
// the same C, bitwise. Without either
// (QSIM_NATIVE=OFF, or another CPU) a plain C++ kernel over the same layouts computes the
// same products (rounded as the compiler contracts them).
// Running a planned product allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "runtime/thread_pool.h"

namespace qsim::gemm {

// Rows of C per micro-kernel tile (A panel width).
inline constexpr int kMR = 8;
// Columns of C per micro-kernel tile (B panel width): three vectors of 16 floats.
inline constexpr int kNR = 48;
// K slice: one micro-kernel call sums kKC products per element of C.
inline constexpr int64_t kKC = 256;
// Columns per task at most (a multiple of kNR; the last chunk also takes N's remainder
// of under kNR): the task's packed B slice, kKC x kMaxCols floats, stays in L2 with
// the A slice.
inline constexpr int64_t kMaxCols = 5 * kNR;
// Rows per task at most (a multiple of kMR): the A slice, kKC x kMaxRows floats.
inline constexpr int64_t kMaxRows = 256;

using FloatBuffer = std::vector<float, AlignedAllocator<float>>;

// True when the AVX-512 micro-kernel is compiled in.
bool uses_avx512();

// A strided matrix read in place: element (r, c) at data[r * ld + c], or, when
// `trans`, at data[c * ld + r] (the operand is the transpose of a row-major matrix).
struct Matrix {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

// A packed into panels of kMR rows, K slice after K slice: slice [k0, k0 + kc) of
// panel p (rows [p kMR, p kMR + kMR)) is kc groups of kMR floats (missing rows zero)
// at k0 * round_up(M, kMR) + p * kc * kMR, so one slice of every panel is one
// contiguous stream (weights are read from memory once per inference). alpha is
// folded in.
struct PackedA {
  int64_t M = 0, K = 0;
  FloatBuffer data;
};
int64_t packed_a_floats(int64_t M, int64_t K);
void pack_a(const Matrix& a, int64_t M, int64_t K, float alpha, float* dst);
PackedA pack_a(const Matrix& a, int64_t M, int64_t K, float alpha = 1.0f);

// B packed into panels of kNR columns: panel q holds columns [q kNR, q kNR + kNR) as
// K groups of kNR floats (missing columns zero).
struct PackedB {
  int64_t K = 0, N = 0;
  FloatBuffer data;
};
PackedB pack_b(const Matrix& b, int64_t K, int64_t N);

// A B operand that is packed from its source panel by panel (a convolution's im2col
// matrix): writes rows [k0, k0 + kc) x columns [n0, n0 + nc) (n0 a multiple of kNR,
// nc <= kNR) as kc groups of kNR floats at dst (64-byte aligned), columns past nc zero
// up to the next multiple of 16; the 16-column vectors past that are left unwritten,
// as no kernel reads them (a tile reads ceil(cols / 16) vectors, the narrow kernel its
// cols floats). Called concurrently from the workers.
class PanelSource {
 public:
  virtual ~PanelSource() = default;
  virtual void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const = 0;
};

struct Epilogue {
  const float* row_bias = nullptr;  // one value per row of C (conv: per output channel)
  const float* col_bias = nullptr;  // one value per column of C
  const float* residual = nullptr;  // added element-wise (ld = ldc), before the activation
  bool accumulate = false;          // add the product to what C already holds
  Activation act;                   // applied last
};

// One product C = alpha * A * B (+ epilogue); C row-major with leading dimension ldc.
// A: packed (a_packed, alpha already folded in) or a strided matrix (packed per task,
// times alpha). B: packed, a PanelSource, or a strided matrix (packed per task).
struct Job {
  int64_t M = 0, N = 0, K = 0;
  const float* a_packed = nullptr;
  Matrix a;
  float alpha = 1.0f;
  const float* b_packed = nullptr;
  const PanelSource* b_source = nullptr;
  Matrix b;
  float* c = nullptr;
  int64_t ldc = 0;
  Epilogue ep;
};

// How a batch of jobs is cut into tasks; a pure function of shapes and thread count,
// so a plan can size the per-worker workspace once. Chunk boundaries fall on
// multiples of kMR rows and kNR columns. Row chunks are as equal as those units
// allow. Column chunks hold at most kMaxCols (the last also takes N's remainder of
// under kNR) and, with several threads and one job, shrink along the axis (guided
// self-scheduling); tasks are handed out largest first, so the last ones are small
// and the workers finish together.
struct Chunk {
  int64_t begin = 0, size = 0;
};
struct Tiling {
  int64_t M = 0, N = 0;
  int64_t m_tasks = 1, n_tasks = 1;
  std::vector<int64_t> col_edges{0, 0};  // n_tasks + 1 column boundaries, from 0 to N
  std::vector<int64_t> col_order{0};     // column chunks in the order tasks take them
  Chunk rows(int64_t i) const;  // row chunk i < m_tasks
  Chunk cols(int64_t i) const;  // column chunk i < n_tasks
  // Task r of one job (r < m_tasks * n_tasks): its row and column chunk. Column chunk
  // outer, so the tasks come largest first.
  int64_t task_rows(int64_t r) const { return r % m_tasks; }
  int64_t task_cols(int64_t r) const { return col_order[static_cast<std::size_t>(r / m_tasks)]; }
  int64_t max_rows() const;
  int64_t max_cols() const;
};
Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads);
// Floats of per-worker workspace the jobs need (packed B and A slices).
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

// Runs all jobs (same M, N, K and operand kinds; they may differ in operands and C)
// on the pool.
void run(std::span<const Job> jobs, const Tiling& t, ThreadPool& pool, Workspace& ws);
// Convenience for one job: plans the tiling and grows `ws` if needed.
void run_one(const Job& job, ThreadPool& pool, Workspace& ws);

// Applies a fused activation to n contiguous floats.
void apply_activation(const Activation& act, float* x, int64_t n);

}  // namespace qsim::gemm
