#include "quant/int_gemm.h"

#include <algorithm>
#include <stdexcept>

#include "quant/quant_ops.h"
#include "arith/int_arith.h"

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#include <immintrin.h>
#define QSIM_INT_GEMM_VNNI 1
#endif

namespace qsim::intgemm {

PackedA pack_a(const int32_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride) {
  PackedA a;
  a.rows = rows;
  a.K = K;
  a.K4 = k_groups(K);
  const int64_t panels = (rows + kMR - 1) / kMR;
  a.data.assign(static_cast<std::size_t>(panels * a.K4 * kMR * 4), 0);
  a.row_sum.assign(static_cast<std::size_t>(rows), 0);
  auto* d = reinterpret_cast<int8_t*>(a.data.data());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / kMR, rr = r % kMR;
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = w[r * row_stride + k * k_stride];
      sum += v;
      d[((p * a.K4 + k / 4) * kMR + rr) * 4 + k % 4] = static_cast<int8_t>(v);
    }
    a.row_sum[static_cast<std::size_t>(r)] = sum;
  }
  return a;
}

bool uses_vnni() {
#if defined(QSIM_INT_GEMM_VNNI)
  return true;
#else
  return false;
#endif
}

#if defined(QSIM_INT_GEMM_VNNI)

void kernel(const int8_t* a, const uint8_t* b, int64_t K4, int32_t* c) {
  __m512i acc[kMR][3];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_si512();
  for (int64_t k = 0; k < K4; ++k) {
    const uint8_t* bp = b + k * kNR * 4;
    const __m512i b0 = _mm512_load_si512(bp);
    const __m512i b1 = _mm512_load_si512(bp + 64);
    const __m512i b2 = _mm512_load_si512(bp + 128);
    const int8_t* ap = a + k * kMR * 4;
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      int32_t word;
      __builtin_memcpy(&word, ap + r * 4, 4);
      const __m512i av = _mm512_set1_epi32(word);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b0, av);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b1, av);
      acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], b2, av);
    }
  }
  for (int r = 0; r < kMR; ++r) {
    _mm512_storeu_si512(c + r * kNR, acc[r][0]);
    _mm512_storeu_si512(c + r * kNR + 16, acc[r][1]);
    _mm512_storeu_si512(c + r * kNR + 32, acc[r][2]);
  }
}

#else

void kernel(const int8_t* a, const uint8_t* b, int64_t K4, int32_t* c) {
  for (int i = 0; i < kMR * kNR; ++i) c[i] = 0;
  for (int64_t k = 0; k < K4; ++k) {
    const uint8_t* bp = b + k * kNR * 4;
    const int8_t* ap = a + k * kMR * 4;
    for (int r = 0; r < kMR; ++r)
      for (int j = 0; j < kNR; ++j) {
        uint32_t s = 0;
        for (int t = 0; t < 4; ++t)
          s += static_cast<uint32_t>(static_cast<int32_t>(ap[r * 4 + t]) * static_cast<int32_t>(bp[j * 4 + t]));
        c[r * kNR + j] = static_cast<int32_t>(static_cast<uint32_t>(c[r * kNR + j]) + s);
      }
  }
}

#endif

// ------------------------------------------------------------------ packed GEMM (convolutions)

namespace {

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
using intarith::ceil_div;

// One kernel call: a tile of at most kMR x kNR accumulators over one K-group slice.
struct TileArgs {
  const uint8_t* a = nullptr;  // A panel slice: gc groups of kMR x 4 bytes
  const uint8_t* b = nullptr;  // B panel slice: gc groups of kNR x 4 bytes (64-byte aligned)
  int64_t gc = 0;
  const int32_t* c_in = nullptr;  // starting accumulators: C (ld_in = ldc) or zeros (ld_in = 0)
  int64_t ld_in = 0;
  int32_t* c = nullptr;
  int64_t ldc = 0;
  int cols = 0;
  const RowRequant* rq = nullptr;  // the last slice's requantization (Requant kernels)
  int64_t row0 = 0;                // the tile's first row (indexes rq's per-row arrays)
};

alignas(64) constexpr int32_t kZeros[kNR] = {};

using KernelFn = void (*)(const TileArgs&);

#if defined(QSIM_INT_GEMM_VNNI)

constexpr int64_t kPrefetchA = 64 * kMR * 4;  // bytes of A fetched ahead (64 groups)

template <int MR, int NV, bool Requant>
void tile_kernel(const TileArgs& t) {
  const int last = t.cols - 16 * (NV - 1);
  const __mmask16 lm = last >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << last) - 1u);
  const auto mask = [lm](int v) { return v == NV - 1 ? lm : __mmask16(0xFFFF); };
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_maskz_loadu_epi32(mask(v), t.c_in + r * t.ld_in + 16 * v);
  const uint8_t* a = t.a;
  const uint8_t* b = t.b;
  for (int64_t g = 0; g < t.gc; ++g, a += kMR * 4, b += kNR * 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchA), _MM_HINT_T0);
    __m512i bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(b + 64 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t word;
      __builtin_memcpy(&word, a + 4 * r, 4);
      const __m512i av = _mm512_set1_epi32(word);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], av);
    }
  }
  if constexpr (Requant) {
    const RowRequant& q = *t.rq;
    const __m512i zp = _mm512_set1_epi32(q.zero_point), lo = _mm512_set1_epi32(q.range.lo),
                  hi = _mm512_set1_epi32(q.range.hi);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512i bias = _mm512_set1_epi32(q.bias[t.row0 + r]);
      const intarith::Multiplier m = q.mult[t.row0 + r];
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v)
        acc[r][v] = qops::requant16(_mm512_add_epi32(acc[r][v], bias), m, zp, lo, hi, q.acc_bits);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_epi32(t.c + r * t.ldc + 16 * v, mask(v), acc[r][v]);
}

#else

template <int MR, int NV, bool Requant>
void tile_kernel(const TileArgs& t) {
  constexpr int W = 16 * NV;
  uint32_t acc[MR][W];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < W; ++j) acc[r][j] = j < t.cols ? static_cast<uint32_t>(t.c_in[r * t.ld_in + j]) : 0u;
  const int8_t* a = reinterpret_cast<const int8_t*>(t.a);
  for (int64_t g = 0; g < t.gc; ++g, a += kMR * 4) {
    const uint8_t* b = t.b + g * kNR * 4;
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < W; ++j) {
        uint32_t s = 0;
        for (int u = 0; u < 4; ++u)
          s += static_cast<uint32_t>(static_cast<int32_t>(a[r * 4 + u]) * static_cast<int32_t>(b[j * 4 + u]));
        acc[r][j] += s;
      }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < t.cols; ++j) {
      int32_t x = static_cast<int32_t>(acc[r][j]);
      if constexpr (Requant) {
        const RowRequant& q = *t.rq;
        const auto with_bias = static_cast<int32_t>(acc[r][j] + static_cast<uint32_t>(q.bias[t.row0 + r]));
        x = intarith::requantize(intarith::acc_to_int32(with_bias, q.acc_bits), q.mult[t.row0 + r], q.zero_point,
                                 q.range);
      }
      t.c[r * t.ldc + j] = x;
    }
}

#endif

template <bool Requant, int... R>
struct KernelTable {
  static constexpr KernelFn fns[kMR][3] = {
      {&tile_kernel<R, 1, Requant>, &tile_kernel<R, 2, Requant>, &tile_kernel<R, 3, Requant>}...};
};
// [requant][rows - 1][vectors - 1]
constexpr const KernelFn (*kKernels[2])[3] = {KernelTable<false, 1, 2, 3, 4, 5, 6, 7, 8>::fns,
                                               KernelTable<true, 1, 2, 3, 4, 5, 6, 7, 8>::fns};


void run_task(const Job& j, int64_t m0, int64_t mc, int64_t n0, int64_t nc, uint8_t* ws) {
  const int64_t n_panels = ceil_div(nc, kNR), m_panels = ceil_div(mc, kMR);
  const int64_t K4 = k_groups(j.K), Mp = round_up(j.M, kMR);
  const int64_t slices = std::max<int64_t>(1, ceil_div(K4, kKG));
  const bool in_regs = j.finisher == nullptr;
  for (int64_t s = 0; s < slices; ++s) {
    const int64_t g0 = s * kKG, gc = std::min(kKG, K4 - g0);
    for (int64_t q = 0; q < n_panels; ++q) {
      const int64_t c0 = n0 + q * kNR;
      j.b->pack(g0, gc, c0, std::min<int64_t>(kNR, n0 + nc - c0), ws + q * gc * kNR * 4);
    }
    const bool first = s == 0, last = s == slices - 1;
    for (int64_t p = 0; p < m_panels; ++p) {
      const int64_t r0 = m0 + p * kMR;
      const int rows = static_cast<int>(std::min<int64_t>(kMR, m0 + mc - r0));
      for (int64_t q = 0; q < n_panels; ++q) {
        const int64_t c0 = n0 + q * kNR;
        const int cols = static_cast<int>(std::min<int64_t>(kNR, n0 + nc - c0));
        TileArgs a;
        a.a = j.a->data.data() + (g0 * Mp + (r0 / kMR) * gc * kMR) * 4;
        a.b = ws + q * gc * kNR * 4;
        a.gc = gc;
        a.c = j.c + r0 * j.ldc + c0;
        a.ldc = j.ldc;
        a.c_in = first ? kZeros : a.c;
        a.ld_in = first ? 0 : j.ldc;
        a.cols = cols;
        a.rq = &j.requant;
        a.row0 = r0;
        kKernels[last && in_regs][rows - 1][(cols + 15) / 16 - 1](a);
      }
    }
  }
  if (!in_regs)
    for (int64_t r = m0; r < m0 + mc; ++r) j.finisher->finish(r, j.c + r * j.ldc + n0, nc);
}

}  // namespace

PackedWeights pack_weights(const int32_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride) {
  PackedWeights p;
  p.rows = rows;
  p.K = K;
  p.K4 = k_groups(K);
  const int64_t Mp = round_up(std::max<int64_t>(rows, 1), kMR);
  p.data.assign(static_cast<std::size_t>(Mp * p.K4 * 4), 0);
  p.row_sum.assign(static_cast<std::size_t>(rows), 0);
  auto* d = reinterpret_cast<int8_t*>(p.data.data());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t panel = r / kMR, rr = r % kMR;
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = w[r * row_stride + k * k_stride];
      sum += v;
      const int64_t g = k / 4, g0 = g / kKG * kKG, gc = std::min(kKG, p.K4 - g0);
      d[(g0 * Mp + panel * gc * kMR + (g - g0) * kMR + rr) * 4 + k % 4] = static_cast<int8_t>(v);
    }
    p.row_sum[static_cast<std::size_t>(r)] = sum;
  }
  return p;
}

bool vector_requant(const RowRequant& r, int64_t rows) {
#if defined(QSIM_INT_GEMM_VNNI)
  for (int64_t i = 0; i < rows; ++i)
    if (!qops::vector_ok(r.mult[i])) return false;
  return true;
#else
  (void)r;
  (void)rows;
  return true;  // the portable kernels requantize with intarith's scalar functions
#endif
}

int64_t workspace_bytes(const gemm::Tiling& t) { return kKG * round_up(t.max_cols(), kNR) * 4; }

void run(std::span<const Job> jobs, const gemm::Tiling& t, ThreadPool& pool, std::span<ByteBuffer> ws) {
  if (jobs.empty() || jobs[0].M == 0 || jobs[0].N == 0) return;
  const int64_t need = workspace_bytes(t);
  if (static_cast<int>(ws.size()) < pool.size() || static_cast<int64_t>(ws[0].size()) < need)
    throw std::logic_error("intgemm::run: workspace smaller than the tiling needs");
  const int64_t per_job = t.m_tasks * t.n_tasks;
  pool.parallel_for(static_cast<int64_t>(jobs.size()) * per_job, [&](int64_t task, int worker) {
    const Job& j = jobs[static_cast<std::size_t>(task / per_job)];
    const int64_t r = task % per_job;
    const gemm::Chunk rc = t.rows(t.task_rows(r)), cc = t.cols(t.task_cols(r));
    run_task(j, rc.begin, rc.size, cc.begin, cc.size, ws[static_cast<std::size_t>(worker)].data());
  });
}

}  // namespace qsim::intgemm
