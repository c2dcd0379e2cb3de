#include "quant/gemm.h"

#include <algorithm>
#include <cmath>
#include <array>
#include <cstring>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12 reports the deliberately undefined pass-through operand of
// avx512fintrin.h's unmasked intrinsics (`__m512 __Y = __Y;`) as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qsim::gemm {

namespace {

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

// What the micro-kernel does with its registers when it stores a tile.
struct TileEpi {
  bool load_c = false;
  const float* row_bias = nullptr;  // already offset to the tile's first row
  const float* col_bias = nullptr;  // already offset to the tile's first column
  const Activation* act = nullptr;  // last K block only
};

#if defined(__AVX512F__)

inline __m512 act_vec(const Activation& a, __m512 x) {
  switch (a.kind) {
    case ActKind::kRelu: return _mm512_max_ps(x, _mm512_setzero_ps());
    case ActKind::kClip: return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(a.alpha)), _mm512_set1_ps(a.beta));
    case ActKind::kLeakyRelu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(a.alpha));
    }
    case ActKind::kHardSigmoid: {
      const __m512 y = _mm512_fmadd_ps(x, _mm512_set1_ps(a.alpha), _mm512_set1_ps(a.beta));
      return _mm512_min_ps(_mm512_max_ps(y, _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
    }
    case ActKind::kHardSwish: {
      const __m512 y = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.0f)), _mm512_set1_ps(0.5f));
      return _mm512_mul_ps(x, _mm512_min_ps(_mm512_max_ps(y, _mm512_setzero_ps()), _mm512_set1_ps(1.0f)));
    }
    default: return x;  // kNone; kSigmoid is applied after the store
  }
}

// R rows (R <= kMR) x V vectors of 16 columns (V <= 3; the last one masked to
// `cols`). A panels have stride kMR per k, B panels kNR. K is unrolled by two.
template <int R, int V>
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                  int cols, const TileEpi& e) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  auto step = [&](const float* ak, const float* bk) __attribute__((always_inline)) {
    __m512 bv[V];
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) bv[v] = _mm512_load_ps(bk + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(ak[i]);
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  };
  int64_t k = 0;
  for (; k + 1 < kc; k += 2) {
    step(a, b);
    step(a + kMR, b + kNR);
    a += 2 * kMR;
    b += 2 * kNR;
  }
  if (k < kc) step(a, b);

  __mmask16 mask[V];
#pragma GCC unroll 3
  for (int v = 0; v < V; ++v) {
    const int n = cols - 16 * v;
    mask[v] = n >= 16 ? __mmask16(0xFFFF) : n > 0 ? __mmask16((1u << n) - 1u) : __mmask16(0);
  }
  __m512 cb[V];
#pragma GCC unroll 3
  for (int v = 0; v < V; ++v)
    cb[v] = e.col_bias ? _mm512_maskz_loadu_ps(mask[v], e.col_bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    const __m512 rb = e.row_bias ? _mm512_set1_ps(e.row_bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
      __m512 x = acc[i][v];
      if (e.load_c) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], row + 16 * v));
      if (e.row_bias) x = _mm512_add_ps(x, rb);
      if (e.col_bias) x = _mm512_add_ps(x, cb[v]);
      if (e.act) x = act_vec(*e.act, x);
      _mm512_mask_storeu_ps(row + 16 * v, mask[v], x);
    }
  }
  if (e.act && e.act->kind == ActKind::kSigmoid)
    for (int i = 0; i < R; ++i) apply_activation(*e.act, c + i * ldc, cols);
}

#else  // portable micro-kernel: plain loops the compiler vectorises for the target

template <int R, int V>
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                  int cols, const TileEpi& e) {
  static_assert(V == 1);
  float acc[R][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < R; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
    a += kMR;
    b += kNR;
  }
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < cols; ++j) {
      float x = acc[i][j];
      if (e.load_c) x += row[j];
      if (e.row_bias) x += e.row_bias[i];
      if (e.col_bias) x += e.col_bias[j];
      if (e.act) x = act_scalar(*e.act, x);
      row[j] = x;
    }
  }
}

#endif

using KernelFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int, const TileEpi&);

#if defined(__AVX512F__)
inline constexpr int kVectors = kNR / 16;  // zmm registers per row of the tile
#else
inline constexpr int kVectors = 1;
#endif

template <int R, int... Vs>
constexpr std::array<KernelFn, sizeof...(Vs)> kernels_for_rows(std::integer_sequence<int, Vs...>) {
  return {&micro_kernel<R, Vs + 1>...};
}
template <int... Rs>
constexpr auto make_kernel_table(std::integer_sequence<int, Rs...>) {
  return std::array<std::array<KernelFn, kVectors>, sizeof...(Rs)>{
      kernels_for_rows<Rs + 1>(std::make_integer_sequence<int, kVectors>{})...};
}
// kKernels[r - 1][v - 1] handles an r-row tile of v column vectors.
constexpr auto kKernels = make_kernel_table(std::make_integer_sequence<int, kMR>{});

#if defined(__AVX512F__)
// Narrow edge tiles (fewer than 16 columns, e.g. the last pixel of a 7x7 map) put
// the vector lanes along the 8 rows of the A panel instead: one 8-lane FMA per
// column and k, where the column-vector kernel would spend 8 FMAs of 16 lanes each.
template <int C>
void narrow_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                   int rows, const TileEpi& e) {
  static_assert(kMR == 8, "one 8-lane register per A panel row group");
  __m256 acc[C];
#pragma GCC unroll 15
  for (int j = 0; j < C; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 av = _mm256_load_ps(a);
#pragma GCC unroll 15
    for (int j = 0; j < C; ++j) acc[j] = _mm256_fmadd_ps(av, _mm256_set1_ps(b[j]), acc[j]);
    a += kMR;
    b += kNR;
  }
  alignas(32) float t[C][8];
  for (int j = 0; j < C; ++j) _mm256_store_ps(t[j], acc[j]);
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < C; ++j) {
      float v = t[j][i];
      if (e.load_c) v += row[j];
      if (e.row_bias) v += e.row_bias[i];
      if (e.col_bias) v += e.col_bias[j];
      row[j] = v;
    }
    if (e.act) apply_activation(*e.act, row, C);
  }
}

using NarrowFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int, const TileEpi&);
template <int... Cs>
constexpr std::array<NarrowFn, sizeof...(Cs)> make_narrow_table(std::integer_sequence<int, Cs...>) {
  return {&narrow_kernel<Cs + 1>...};
}
constexpr auto kNarrow = make_narrow_table(std::make_integer_sequence<int, 15>{});  // 1..15 columns
#endif

// Runs the micro-kernel for a rows x cols tile.
inline void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
                 const TileEpi& e) {
#if defined(__AVX512F__)
  if (cols < 16) {
    kNarrow[static_cast<std::size_t>(cols - 1)](kc, a, b, c, ldc, rows, e);
    return;
  }
#endif
  const int v = kVectors == 1 ? 1 : (cols + 15) / 16;
  kKernels[static_cast<std::size_t>(rows - 1)][static_cast<std::size_t>(v - 1)](kc, a, b, c, ldc, cols, e);
}

inline int64_t align16(int64_t floats) { return (floats + 15) / 16 * 16; }

// Largest column tile: 8 panels keeps a tile's packed B (K x nc) in L2 for K up to ~1000.
constexpr int64_t kMaxTilePanels = 8;

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

void pack_panels(const float* src, int64_t row_stride, int64_t k_stride, int64_t first, int64_t count,
                 int64_t k0, int64_t kc, int R, float scale, float* dst) {
  if (row_stride == 1) {
    // Panels are contiguous stretches of each K row (B of a row-major K x N matrix):
    // read every source row once, sequentially, and deal it out to the panels.
    const int64_t panels = panel_count(count, R);
    const int64_t full = count / R;
    for (int64_t k = 0; k < kc; ++k) {
      const float* sk = src + first + (k0 + k) * k_stride;
      float* d = dst + k * R;
      for (int64_t p = 0; p < full; ++p) {
        const float* sp = sk + p * R;
        float* dp = d + p * kc * R;
        for (int r = 0; r < R; ++r) dp[r] = sp[r] * scale;
      }
      if (full < panels) {
        const int64_t rows = count - full * R;
        const float* sp = sk + full * R;
        float* dp = d + full * kc * R;
        for (int64_t r = 0; r < rows; ++r) dp[r] = sp[r] * scale;
        for (int64_t r = rows; r < R; ++r) dp[r] = 0.0f;
      }
    }
    return;
  }
  for (int64_t p0 = 0; p0 < count; p0 += R) {
    const int64_t rows = std::min<int64_t>(R, count - p0);
    const float* s = src + (first + p0) * row_stride + k0 * k_stride;
    if (k_stride == 1 && row_stride != 1) {
      // Rows are contiguous in K: walk each row once (gather into the panel).
      for (int64_t r = 0; r < rows; ++r) {
        const float* sr = s + r * row_stride;
        for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = sr[k] * scale;
      }
      for (int64_t r = rows; r < R; ++r)
        for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = 0.0f;
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* sk = s + k * k_stride;
        float* d = dst + k * R;
        if (row_stride == 1) {
          for (int64_t r = 0; r < rows; ++r) d[r] = sk[r] * scale;
        } else {
          for (int64_t r = 0; r < rows; ++r) d[r] = sk[r * row_stride] * scale;
        }
        for (int64_t r = rows; r < R; ++r) d[r] = 0.0f;
      }
    }
    dst += kc * R;
  }
}

void pack_all(const float* src, int64_t row_stride, int64_t k_stride, int64_t rows, int64_t K, int R,
              float scale, float* dst) {
  for (int64_t p0 = 0; p0 < rows; p0 += R)
    pack_panels(src, row_stride, k_stride, p0, std::min<int64_t>(R, rows - p0), 0, K, R, scale, dst + p0 * K);
}

Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads) {
  (void)K;
  Tiling t;
  const int64_t np = panel_count(N, kNR);
  const int64_t mp = panel_count(M, kMR);
  int64_t n_tasks = (np + kMaxTilePanels - 1) / kMaxTilePanels;
  int64_t m_tasks = 1;
  // Enough tasks for the dynamic schedule to balance: prefer more column tiles (no
  // repeated packing), then split rows, which repacks B once per row chunk.
  const int64_t want = threads > 1 ? 3 * static_cast<int64_t>(threads) : 1;
  while (jobs * n_tasks * m_tasks < want) {
    if (n_tasks < np) {
      n_tasks = std::min(np, n_tasks * 2);
    } else if (m_tasks * 2 <= mp && mp / (m_tasks * 2) >= 2) {
      m_tasks *= 2;
    } else {
      break;
    }
  }
  const int64_t panels_per_n = (np + n_tasks - 1) / n_tasks;
  const int64_t panels_per_m = (mp + m_tasks - 1) / m_tasks;
  t.nc = std::min(N, panels_per_n * kNR);
  t.mc = std::min(M, panels_per_m * kMR);
  t.n_tasks = (N + t.nc - 1) / t.nc;
  t.m_tasks = (M + t.mc - 1) / t.mc;
  return t;
}

int64_t workspace_floats(const Job& j, const Tiling& t) {
  const int64_t kc = std::min(kKC, j.K);
  int64_t f = 0;
  if (!j.a.packed) f += align16(packed_floats(t.mc, kc, kMR));
  if (!j.b.packed) f += kc * kNR;
  return f;
}

void Workspace::reserve(int workers, int64_t floats) {
  if (static_cast<int>(buffers_.size()) >= workers && floats_ >= floats) return;
  floats_ = std::max(floats_, floats);
  buffers_.resize(static_cast<std::size_t>(std::max<int>(workers, static_cast<int>(buffers_.size()))));
  for (auto& b : buffers_) b.resize(static_cast<std::size_t>(floats_ + 16));
}

namespace {

void run_task(const Job& j, int64_t m0, int64_t mc, int64_t n0, int64_t nc, float* ws) {
  const int64_t K = j.K;
  if (K == 0) {  // empty product: C = epilogue(0)
    for (int64_t i = 0; i < mc; ++i) {
      float* row = j.c + (m0 + i) * j.ldc + n0;
      for (int64_t x = 0; x < nc; ++x) {
        float v = j.ep.accumulate ? row[x] : 0.0f;
        if (j.ep.row_bias) v += j.ep.row_bias[m0 + i];
        if (j.ep.col_bias) v += j.ep.col_bias[n0 + x];
        row[x] = v;
      }
      apply_activation(j.ep.act, row, nc);
    }
    return;
  }
  const int64_t n_panels = panel_count(nc, kNR);
  const int64_t m_panels = panel_count(mc, kMR);
  const bool has_act = j.ep.act.kind != ActKind::kNone;
  float* wsa = ws;
  // B panels are read with aligned loads: keep them on a 64-byte boundary.
  float* wsb = j.a.packed ? ws : ws + align16(packed_floats(mc, std::min(kKC, K), kMR));
  for (int64_t k0 = 0; k0 < K; k0 += kKC) {
    const int64_t kc = std::min(kKC, K - k0);
    const bool first = k0 == 0;
    const bool last = k0 + kc == K;
    // Panel p of this K block starts at base + p * a_stride (prepacked: depth K).
    const float* abase;
    int64_t a_stride;
    if (j.a.packed) {
      abase = j.a.packed + (m0 / kMR) * K * kMR + k0 * kMR;
      a_stride = K * kMR;
    } else {
      j.a.source->pack(m0, mc, k0, kc, wsa);
      abase = wsa;
      a_stride = kc * kMR;
    }
    for (int64_t jp = 0; jp < n_panels; ++jp) {
      const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - jp * kNR));
      // One B panel at a time: packed into L1 and used at once by every row panel.
      const float* bpanel;
      if (j.b.packed) {
        bpanel = j.b.packed + (n0 / kNR + jp) * K * kNR + k0 * kNR;
      } else {
        j.b.source->pack(n0 + jp * kNR, cols, k0, kc, wsb);
        bpanel = wsb;
      }
      const int64_t col = n0 + jp * kNR;
      for (int64_t ip = 0; ip < m_panels; ++ip) {
        const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - ip * kMR));
        const int64_t row = m0 + ip * kMR;
        TileEpi e;
        e.load_c = !first || j.ep.accumulate;
        if (first && j.ep.row_bias) e.row_bias = j.ep.row_bias + row;
        if (first && j.ep.col_bias) e.col_bias = j.ep.col_bias + col;
        if (last && has_act) e.act = &j.ep.act;
        tile(kc, abase + ip * a_stride, bpanel, j.c + row * j.ldc + col, j.ldc, rows, cols, e);
      }
    }
  }
}

}  // namespace

void run(std::span<const Job> jobs, const Tiling& t, ThreadPool& pool, Workspace& ws) {
  if (jobs.empty() || jobs[0].M == 0 || jobs[0].N == 0) return;
  const int64_t per_job = t.m_tasks * t.n_tasks;
  pool.parallel_for(static_cast<int64_t>(jobs.size()) * per_job, [&](int64_t task, int worker) {
    const Job& j = jobs[static_cast<std::size_t>(task / per_job)];
    const int64_t r = task % per_job;
    // Neighbouring tasks share a row chunk (its A panels stay in cache).
    const int64_t mi = r / t.n_tasks, ni = r % t.n_tasks;
    const int64_t m0 = mi * t.mc, n0 = ni * t.nc;
    run_task(j, m0, std::min(t.mc, j.M - m0), n0, std::min(t.nc, j.N - n0), ws.get(worker));
  });
}

void run_one(const Job& job, ThreadPool& pool, Workspace& ws) {
  const Tiling t = plan_tiling(job.M, job.N, job.K, 1, pool.size());
  ws.reserve(pool.size(), workspace_floats(job, t));
  run(std::span<const Job>(&job, 1), t, pool, ws);
}

}  // namespace qsim::gemm
