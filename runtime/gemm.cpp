#include "runtime/gemm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

// GCC 12 reports the deliberately undefined pass-through operand of
// avx512fintrin.h's unmasked intrinsics (`__m512 __Y = __Y;`), which Eigen's
// AVX-512 packet code uses, as uninitialized.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>

namespace qsim::gemm {

namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using OutMap = Eigen::Map<RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// Eigen's packing buffers for one call are kc x (rows or columns) floats each; they
// must stay under its stack-allocation limit, or Eigen would allocate them per call.
static_assert(kKC * kMaxRows * sizeof(float) <= EIGEN_STACK_ALLOCATION_LIMIT);
static_assert(kKC * kMaxCols * sizeof(float) <= EIGEN_STACK_ALLOCATION_LIMIT);
static_assert(kMaxCols % kColAlign == 0 && kMaxRows % kRowAlign == 0);

// Scalar form of a fused activation (ONNX definitions).
inline float act_scalar(const Activation& a, float x) {
  switch (a.kind) {
    case ActKind::kNone: return x;
    case ActKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActKind::kClip: return std::min(std::max(x, a.alpha), a.beta);
    case ActKind::kLeakyRelu: return x < 0.0f ? a.alpha * x : x;
    case ActKind::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case ActKind::kHardSigmoid: return std::max(0.0f, std::min(1.0f, a.alpha * x + a.beta));
    case ActKind::kHardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
  }
  return x;
}

// The rows x cols map of a strided operand whose element (0, 0) is at p: row-major,
// or the transpose of a row-major matrix. Either is read in place: the storage
// order tells Eigen which of its packing routines to use.
template <bool Trans>
auto view(const float* p, int64_t ld, int64_t rows, int64_t cols) {
  if constexpr (Trans) {
    return ConstMap(p, cols, rows, Eigen::OuterStride<>(ld)).transpose();
  } else {
    return ConstMap(p, rows, cols, Eigen::OuterStride<>(ld));
  }
}

// c (+)= alpha * A * B with A (c.rows() x k) at a, B (k x c.cols()) at b.
template <bool TransA, bool TransB>
void product(OutMap& c, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float alpha, bool add) {
  const auto A = view<TransA>(a, lda, c.rows(), k);
  const auto B = view<TransB>(b, ldb, k, c.cols());
  if (alpha == 1.0f) {
    if (add)
      c.noalias() += A * B;
    else
      c.noalias() = A * B;
  } else {
    if (add)
      c.noalias() += (alpha * A) * B;
    else
      c.noalias() = (alpha * A) * B;
  }
}

using ProductFn = void (*)(OutMap&, const float*, int64_t, const float*, int64_t, int64_t, float, bool);
constexpr ProductFn kProducts[2][2] = {{&product<false, false>, &product<false, true>},
                                       {&product<true, false>, &product<true, true>}};

// Address of element (r, c) of a strided operand.
inline const float* at(const Matrix& x, int64_t r, int64_t c) {
  return x.trans ? x.data + c * x.ld + r : x.data + r * x.ld + c;
}

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Columns of tile i: nc, except the last, which runs to N.
inline int64_t tile_width(const Tiling& t, int64_t N, int64_t i) {
  return i == t.n_tasks - 1 ? N - i * t.nc : t.nc;
}

// Global slice g of the shared B slices lives in worker g % workers's workspace.
inline float* shared_slice(Workspace& ws, int64_t g, int workers, int64_t ld) {
  return ws.get(static_cast<int>(g % workers)) + g / workers * kKC * ld;
}

// Where a task reads B's kc x nc slice at (k0, n0): in place, filled into the
// worker's workspace first, or in the job's shared slices (filled before the tasks).
struct BSlices {
  const Job& j;
  float* ws;                   // this worker's workspace, for per-task fills
  Workspace* shared = nullptr;  // the job's slices are filled and spread over these workers
  int64_t first_slice = 0;     // global index of the job's first slice
  int workers = 1;
  int64_t shared_ld = 0;
  const float* slice(int64_t s) const { return shared_slice(*shared, first_slice + s, workers, shared_ld); }
};

// One task: rows [m0, m0 + mc) x columns [n0, n0 + nc) of C, all of K.
void run_task(const BSlices& src, int64_t m0, int64_t mc, int64_t n0, int64_t nc) {
  const Job& j = src.j;
  const Epilogue& ep = j.ep;
  // C starts as the epilogue's additive terms, so every K slice can accumulate.
  const bool prefill = ep.accumulate || ep.row_bias || ep.col_bias || j.K == 0;
  if (prefill) {
    for (int64_t i = m0; i < m0 + mc; ++i) {
      float* row = j.c + i * j.ldc + n0;
      const float rb = ep.row_bias ? ep.row_bias[i] : 0.0f;
      if (!ep.accumulate) std::fill(row, row + nc, 0.0f);
      if (ep.col_bias) {
        const float* cb = ep.col_bias + n0;
        for (int64_t x = 0; x < nc; ++x) row[x] += cb[x] + rb;
      } else if (rb != 0.0f) {
        for (int64_t x = 0; x < nc; ++x) row[x] += rb;
      }
    }
  }
  const bool in_place = j.b_source == nullptr;
  const ProductFn product_fn = kProducts[j.a.trans][in_place ? j.b.trans : 0];
  const int64_t ld = round_up(nc, 16);
  // A one-row or one-column product is Eigen's matrix-vector product, which packs
  // nothing: B read in place needs no K slices but the bound of a vector temporary.
  const int64_t kslice = in_place && (mc == 1 || nc == 1) ? kGemvKC : kKC;
  for (int64_t k0 = 0; k0 < j.K; k0 += kslice) {
    const int64_t kc = std::min(kslice, j.K - k0);
    const float* b;
    int64_t ldb;
    if (in_place) {
      b = at(j.b, k0, n0);
      ldb = j.b.ld;
    } else if (src.shared) {
      b = src.slice(k0 / kKC) + n0;
      ldb = src.shared_ld;
    } else {
      j.b_source->fill(k0, kc, n0, nc, src.ws, ld);
      b = src.ws;
      ldb = ld;
    }
    for (int64_t r0 = m0; r0 < m0 + mc; r0 += kMaxRows) {
      OutMap c(j.c + r0 * j.ldc + n0, std::min(kMaxRows, m0 + mc - r0), nc, Eigen::OuterStride<>(j.ldc));
      product_fn(c, at(j.a, r0, k0), j.a.ld, b, ldb, kc, j.alpha, prefill || k0 > 0);
    }
  }
  if (ep.act.kind != ActKind::kNone)
    for (int64_t i = m0; i < m0 + mc; ++i) apply_activation(ep.act, j.c + i * j.ldc + n0, nc);
}

}  // namespace

void apply_activation(const Activation& act, float* x, int64_t n) {
  // One loop per kind, so each vectorises (the switch stays outside the loop).
  const float a = act.alpha, b = act.beta;
  switch (act.kind) {
    case ActKind::kNone: return;
    case ActKind::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case ActKind::kClip:
      for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], a), b);
      return;
    case ActKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] < 0.0f ? a * x[i] : x[i];
      return;
    case ActKind::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(0.0f, std::min(1.0f, a * x[i] + b));
      return;
    case ActKind::kHardSwish:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * std::max(0.0f, std::min(1.0f, x[i] / 6.0f + 0.5f));
      return;
    case ActKind::kSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = act_scalar(act, x[i]);
      return;
  }
}

Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads, bool b_filled) {
  // Every task makes Eigen pack its rows of A and its columns of B: splitting
  // columns repacks A, splitting rows repacks B, and refills it when B comes from a
  // BlockSource, unless B is filled once per job into slices shared by the row
  // chunks. Among the tilings with enough tasks for the dynamic schedule to balance
  // (three per thread), take the one that copies the fewest floats; with none, the
  // one with the most tasks.
  const int64_t want = threads > 1 ? 3 * static_cast<int64_t>(threads) : 1;
  const int64_t full = N / kColAlign;  // whole 48-column units
  const int64_t m_units = std::max<int64_t>(1, (M + kRowAlign - 1) / kRowAlign);
  const int64_t slices = (K + kKC - 1) / kKC;
  const int64_t shared_floats = (jobs * slices + threads - 1) / threads * kKC * round_up(N, 16);
  const bool can_share = b_filled && threads > 1 && shared_floats <= kMaxSharedFloats;
  const double a_floats = static_cast<double>(M) * static_cast<double>(K);
  const double b_floats = static_cast<double>(K) * static_cast<double>(N);
  Tiling best;
  bool best_ok = false;
  double best_cost = 0;
  int64_t best_tasks = 0;
  for (int64_t nu = 1; nu <= std::max<int64_t>(1, std::min(full, kMaxCols / kColAlign)); ++nu) {
    const int64_t nc = full == 0 ? N : nu * kColAlign;
    int64_t n_tasks = nc > 0 ? (N + nc - 1) / nc : 0;
    // A remainder of under 48 columns joins the last tile when it fits.
    const int64_t last = N - (n_tasks - 1) * nc;
    if (n_tasks > 1 && last < kColAlign && nc + last <= kMaxCols) --n_tasks;
    for (int64_t mu = m_units; mu >= 1; --mu) {  // equal chunk counts: the largest chunks win
      const int64_t mc = std::min(M, mu * kRowAlign);
      const int64_t m_tasks = mc > 0 ? (M + mc - 1) / mc : 0;
      const bool share = can_share && m_tasks > 1;
      const double b_copies = !b_filled ? static_cast<double>(m_tasks)
                              : share   ? static_cast<double>(m_tasks + 1)
                                        : 2.0 * static_cast<double>(m_tasks);
      const int64_t tasks = jobs * n_tasks * m_tasks;
      const double cost = static_cast<double>(jobs) * (static_cast<double>(n_tasks) * a_floats + b_copies * b_floats);
      const bool ok = tasks >= want;
      bool better;
      if (best_tasks == 0 || ok != best_ok)
        better = best_tasks == 0 || ok;
      else if (ok)
        better = cost < best_cost || (cost == best_cost && tasks < best_tasks);
      else
        better = tasks > best_tasks || (tasks == best_tasks && cost < best_cost);
      if (better) {
        best = Tiling{mc, nc, m_tasks, n_tasks, share, share ? threads : 1, share ? shared_floats : 0};
        best_ok = ok;
        best_cost = cost;
        best_tasks = std::max<int64_t>(tasks, 1);
      }
    }
  }
  return best;
}

int64_t workspace_floats(const Job& j, const Tiling& t) {
  if (!j.b_source) return 0;
  if (t.shared_b) return t.shared_floats;
  const int64_t widest = std::max(t.nc, tile_width(t, j.N, t.n_tasks - 1));
  return std::min(kKC, j.K) * round_up(widest, 16);
}

void Workspace::reserve(int workers, int64_t floats) {
  if (static_cast<int>(buffers_.size()) >= workers && floats_ >= floats) return;
  floats_ = std::max(floats_, floats);
  buffers_.resize(static_cast<std::size_t>(std::max<int>(workers, static_cast<int>(buffers_.size()))));
  for (auto& b : buffers_) b.resize(static_cast<std::size_t>(floats_ + 16));
}

void run(std::span<const Job> jobs, const Tiling& t, ThreadPool& pool, Workspace& ws) {
  if (jobs.empty() || jobs[0].M == 0 || jobs[0].N == 0) return;
  const int64_t N = jobs[0].N, K = jobs[0].K;
  const int64_t slices = (K + kKC - 1) / kKC, shared_ld = round_up(N, 16);
  if (t.shared_b) {
    if (ws.workers() < t.workers || ws.floats() < t.shared_floats)
      throw std::logic_error("gemm::run: workspace smaller than the tiling needs");
    // Fill every job's B once, slice by slice, before the row chunks read it.
    pool.parallel_for(static_cast<int64_t>(jobs.size()) * slices, [&](int64_t g, int) {
      const int64_t k0 = g % slices * kKC;
      jobs[static_cast<std::size_t>(g / slices)].b_source->fill(k0, std::min(kKC, K - k0), 0, N,
                                                                shared_slice(ws, g, t.workers, shared_ld), shared_ld);
    });
  }
  const int64_t per_job = t.m_tasks * t.n_tasks;
  pool.parallel_for(static_cast<int64_t>(jobs.size()) * per_job, [&](int64_t task, int worker) {
    const int64_t ji = task / per_job, r = task % per_job;
    const Job& j = jobs[static_cast<std::size_t>(ji)];
    // Neighbouring tasks share a row chunk (its rows of A stay in cache).
    const int64_t mi = r / t.n_tasks, ni = r % t.n_tasks;
    const int64_t m0 = mi * t.mc, n0 = ni * t.nc;
    BSlices src{j, ws.get(worker)};
    if (t.shared_b) {
      src.shared = &ws;
      src.first_slice = ji * slices;
      src.workers = t.workers;
      src.shared_ld = shared_ld;
    }
    run_task(src, m0, std::min(t.mc, j.M - m0), n0, tile_width(t, j.N, ni));
  });
}

void run_one(const Job& job, ThreadPool& pool, Workspace& ws) {
  const Tiling t = plan_tiling(job.M, job.N, job.K, 1, pool.size(), job.b_source != nullptr);
  ws.reserve(pool.size(), workspace_floats(job, t));
  run(std::span<const Job>(&job, 1), t, pool, ws);
}

}  // namespace qsim::gemm
