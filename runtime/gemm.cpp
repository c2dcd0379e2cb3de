#include "runtime/gemm.h"
#include "arith/int_arith.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#if defined(__AVX512F__)
#include <immintrin.h>
#define QSIM_GEMM_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define QSIM_GEMM_AVX2 1
#endif
#include "runtime/asan.h"
#if QSIM_ASAN
#include <sanitizer/asan_interface.h>

#include <cstdio>
#include <cstdlib>
#endif

namespace qsim::gemm {

namespace {

static_assert(kMaxCols % kNR == 0 && kMaxRows % kMR == 0);
static_assert(kNR == 48, "the micro-kernel holds three vectors of 16 columns");

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
using intarith::ceil_div;

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

// One micro-kernel call: a tile of at most kMR x kNR elements of C over one K slice.
// Every operand is a pointer, zeros standing in for what a call does not use, so the
// kernels have no branches and keep the tile in registers throughout.
struct TileArgs {
  const float* a = nullptr;  // A panel at the slice's first k (kMR floats per k)
  const float* b = nullptr;  // B panel at the slice's first k (kNR floats per k, 64-byte aligned)
  int64_t kc = 0;
  const float* c_in = nullptr;  // the tile's starting values: C (ld_in = ldc), or zeros (ld_in = 0)
  int64_t ld_in = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int cols = 0;  // valid columns of the tile (1..kNR)
  // The last K slice's epilogue: min(hi, max(lo, acc + row_bias[r] + col_bias[j] +
  // residual[r][j])), NaN propagating (Relu: lo = 0; Clip: its bounds; else +-inf).
  const float* row_bias = nullptr;  // at the tile's first row
  const float* col_bias = nullptr;  // at the tile's first column
  const float* residual = nullptr;  // at the tile's (0, 0)
  int64_t ld_res = 0;
  float lo = 0.0f, hi = 0.0f;
  // The narrow kernel's: floats from one A panel to the next, and the valid rows.
  int64_t a_stride = 0;
  int rows = 0;
};

// What a call without bias, residual or starting values reads.
alignas(64) constexpr float kZeros[kNR] = {};

using KernelFn = void (*)(const TileArgs&);

// Sanitizer builds (scripts/test.sh stage 2): ASan's check of every load in the
// micro-kernels' k loops, not the arithmetic, was most of the whole-model tests' time
// there. So the SIMD kernels are built uninstrumented, and each checks once, before its
// loop, that every range it reads or writes is addressable (check_block: a failure
// aborts naming the range, as ASan would report it).
#if QSIM_ASAN
#if defined(__clang__)
#define QSIM_GEMM_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined", "coverage")))
#else
#define QSIM_GEMM_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))
#endif
void require_addressable(const float* p, int64_t floats, const char* what) {
  if (floats <= 0) return;
  const std::size_t bytes = static_cast<std::size_t>(floats) * sizeof(float);
  if (void* bad = __asan_region_is_poisoned(const_cast<float*>(p), bytes)) {
    std::fprintf(stderr, "qsim gemm: %s [%p, +%zu bytes) reaches unaddressable byte %p\n", what,
                 static_cast<const void*>(p), bytes, bad);
    std::abort();
  }
}
// Rows [r0, r0 + rows) x valid columns [c0, c0 + width) of a tile over K steps [k0, k1):
// A's kMR-float groups (rows r0..), B's kNR-float groups (b_floats read per step from
// column c0), the starting values (c_in, ld_in), C, and the epilogue's operands.
void check_block(const TileArgs& t, const float* c_in, int64_t ld_in, int r0, int rows, int c0, int64_t width,
                 int64_t k0, int64_t k1, int64_t b_floats, bool epilogue) {
  if (k1 > k0) {
    require_addressable(t.a + k0 * kMR + r0, (k1 - k0 - 1) * kMR + rows, "A panel");
    require_addressable(t.b + k0 * kNR + c0, (k1 - k0 - 1) * kNR + b_floats, "B panel");
  }
  for (int r = r0; r < r0 + rows; ++r) {
    require_addressable(c_in + r * ld_in + c0, width, "C (starting values)");
    require_addressable(t.c + r * t.ldc + c0, width, "C");
    if (epilogue) require_addressable(t.residual + r * t.ld_res + c0, width, "residual");
  }
  if (epilogue) {
    require_addressable(t.row_bias + r0, rows, "row bias");
    require_addressable(t.col_bias + c0, width, "column bias");
  }
}
#else
#define QSIM_GEMM_UNINSTRUMENTED
inline void check_block(const TileArgs&, const float*, int64_t, int, int, int, int64_t, int64_t, int64_t, int64_t,
                        bool) {}
#endif

#if defined(QSIM_GEMM_AVX512) || defined(QSIM_GEMM_AVX2)
// Floats of B prefetched ahead when B streams from memory (constant B packed once: a
// Gemm layer's weights, read once per inference while A is a row or a few): 64 k
// steps, 12 KB. vgg16's classifier (494 MB of weights) at 2 threads: 12.8 ms without,
// 11.2-11.9 with 16 to 256 steps (44 GB/s; a plain streaming read reaches 52 here).
constexpr int64_t kPrefetchB = 64 * kNR;
#endif

#if defined(QSIM_GEMM_AVX512)

// Floats of A the micro-kernel prefetches ahead of the one it reads (64 k steps).
constexpr int64_t kPrefetchA = 64 * kMR;

// MR rows x NV vectors of 16 columns in zmm registers; the last vector is masked to
// the tile's valid columns. Finish: the last K slice (applies the epilogue). StreamB:
// B is a packed constant streaming from memory (prefetched ahead too).
template <int MR, int NV, bool Finish, bool StreamB>
QSIM_GEMM_UNINSTRUMENTED void micro_kernel(const TileArgs& t) {
  check_block(t, t.c_in, t.ld_in, 0, MR, 0, t.cols, 0, t.kc, 16 * NV, Finish);
  const int last = t.cols - 16 * (NV - 1);
  const __mmask16 lm = last >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << last) - 1u);
  const auto mask = [lm](int v) { return v == NV - 1 ? lm : __mmask16(0xFFFF); };
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_maskz_loadu_ps(mask(v), t.c_in + r * t.ld_in + 16 * v);
  const float* a = t.a;
  const float* b = t.b;
  for (int64_t k = 0; k < t.kc; ++k, a += kMR, b += kNR) {
    // Packed weights stream from memory once per inference: fetch them well ahead
    // (past the slice end this reaches the next panel, which is contiguous).
    _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchA), _MM_HINT_T0);
    if constexpr (StreamB)
      for (int v = 0; v < 3; ++v) _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB + 16 * v), _MM_HINT_T0);
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  if constexpr (Finish) {
    // (The zero-masked forms with a full mask: GCC 12's unmasked max/min pass an
    // undefined source that trips -Wmaybe-uninitialized.)
    const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      const __m512 cb = _mm512_maskz_loadu_ps(mask(v), t.col_bias + 16 * v);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 x = _mm512_add_ps(acc[r][v], _mm512_set1_ps(t.row_bias[r]));
        x = _mm512_add_ps(x, cb);
        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask(v), t.residual + r * t.ld_res + 16 * v));
        // max(lo, x) and min(hi, x) return x when it is NaN.
        acc[r][v] = _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, x));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(t.c + r * t.ldc + 16 * v, mask(v), acc[r][v]);
}

#elif defined(QSIM_GEMM_AVX2)

// AVX2 + FMA (no AVX-512: AMD Zen 1-3, most Intel client cores). 16 ymm registers cannot
// hold the 8 x 48 tile (48 vectors of 8 floats), so the tile is computed in blocks of at
// most 4 rows x 3 vectors (12 accumulators, 3 of B, 1 broadcast of A), each block over the
// whole K slice; the packed layouts stay those of the AVX-512 kernel. Each element gets the
// same FMAs in the same k order and the same epilogue as there, so C is the same bitwise.

// Lanes of ymm y (columns 8y..8y+7 of the tile) that hold valid columns.
inline __m256i lane_mask(int cols, int y) {
  const int n = std::clamp(cols - 8 * y, 0, 8);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// C, bias and residual vectors of a block: plain loads and stores when every lane of the
// block is a valid column, masked ones (vmaskmovps) only in N's last tile. The masked
// forms are far slower: on a Zen 5 core running this kernel, plain ones took torchvision
// resnet50 on one thread from 131 to 94 ms (docs/executor.md). The values are the same.
template <bool Full>
inline __m256 load_lanes(const float* p, __m256i m) {
  if constexpr (Full) return _mm256_loadu_ps(p);
  else return _mm256_maskload_ps(p, m);
}
template <bool Full>
inline void store_lanes(float* p, __m256i m, __m256 v) {
  if constexpr (Full) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, m, v);
}

// K steps per pass of a block: the tile's blocks run one after another over the same
// steps, so the B columns they read (64 x 48 floats, 12 KB) and A (2 KB) stay in L1
// from one block to the next (a whole kKC slice of B, 48 KB, does not). A pass ends
// by storing the block to C and the next starts from it: every element still gets its
// FMAs in k order, and float stores and loads are exact, so C is unchanged bitwise.
// On AMD Zen 3 about 10 % faster than passes of a whole slice (docs/executor.md).
constexpr int64_t kPassK = 64;

// Rows [r0, r0 + R) x vectors [y0, y0 + Y) of the tile over K steps [k0, k1); Full: all
// 8 Y columns of the block are valid.
template <int R, int Y, bool Finish, bool StreamB, bool Full>
QSIM_GEMM_UNINSTRUMENTED void micro_block(const TileArgs& t, int r0, int y0, int64_t k0, int64_t k1) {
  __m256i m[Y];
  for (int y = 0; y < Y; ++y) m[y] = lane_mask(t.cols, y0 + y);
  __m256 acc[R][Y];
  const float* c_in = k0 == 0 ? t.c_in : t.c;
  const int64_t ld_in = k0 == 0 ? t.ld_in : t.ldc;
  const bool epilogue = Finish && k1 == t.kc;
  check_block(t, c_in, ld_in, r0, R, 8 * y0, std::min(t.cols - 8 * y0, 8 * Y), k0, k1, 8 * Y, epilogue);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int y = 0; y < Y; ++y) acc[r][y] = load_lanes<Full>(c_in + (r0 + r) * ld_in + 8 * (y0 + y), m[y]);
  const float* a = t.a + k0 * kMR + r0;
  const float* b = t.b + k0 * kNR + 8 * y0;
  const bool prefetch = StreamB && r0 == 0 && y0 == 0;  // the tile's first block fetches B ahead for all
  for (int64_t k = k0; k < k1; ++k, a += kMR, b += kNR) {
    if (prefetch)
      for (int v = 0; v < 3; ++v) _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB + 16 * v), _MM_HINT_T0);
    __m256 bv[Y];
#pragma GCC unroll 3
    for (int y = 0; y < Y; ++y) {
      bv[y] = _mm256_load_ps(b + 8 * y);
      // Keeps B in a register: GCC otherwise folds the load into each of the R FMAs
      // that read it, R x Y loads per step instead of Y, more than the load ports take.
      __asm__("" : "+x"(bv[y]));
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 3
      for (int y = 0; y < Y; ++y) acc[r][y] = _mm256_fmadd_ps(av, bv[y], acc[r][y]);
    }
  }
  if (epilogue) {
    const __m256 lo = _mm256_set1_ps(t.lo), hi = _mm256_set1_ps(t.hi);
#pragma GCC unroll 3
    for (int y = 0; y < Y; ++y) {
      const __m256 cb = load_lanes<Full>(t.col_bias + 8 * (y0 + y), m[y]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256 x = _mm256_add_ps(acc[r][y], _mm256_set1_ps(t.row_bias[r0 + r]));
        x = _mm256_add_ps(x, cb);
        x = _mm256_add_ps(x, load_lanes<Full>(t.residual + (r0 + r) * t.ld_res + 8 * (y0 + y), m[y]));
        // max/min return their second operand when one is NaN: x propagates, as there.
        acc[r][y] = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int y = 0; y < Y; ++y) store_lanes<Full>(t.c + (r0 + r) * t.ldc + 8 * (y0 + y), m[y], acc[r][y]);
}

// micro_block with plain loads and stores when all 8 Y columns of the block are valid
// (inlined, as the dispatch was when written out at each caller: a call measured 1.5 %
// slower on fmnist_resnet).
template <int R, int Y, bool Finish, bool StreamB>
[[gnu::always_inline]] inline void block(const TileArgs& t, int r0, int y0, int64_t k0, int64_t k1) {
  if (8 * (y0 + Y) <= t.cols)
    micro_block<R, Y, Finish, StreamB, true>(t, r0, y0, k0, k1);
  else
    micro_block<R, Y, Finish, StreamB, false>(t, r0, y0, k0, k1);
}

// The columns of rows [r0, r0 + R): 2 NV vectors of 8, in blocks of 3 (NV = 3) or 2.
template <int R, int NV, bool Finish, bool StreamB>
void micro_rows(const TileArgs& t, int r0, int64_t k0, int64_t k1) {
  constexpr int Y = NV == 3 ? 3 : 2;
  for (int y0 = 0; y0 < 2 * NV; y0 += Y) {
    if (8 * y0 >= t.cols) break;  // no valid column left in this block or after it
    block<R, Y, Finish, StreamB>(t, r0, y0, k0, k1);
  }
}

// MR rows x NV vectors of 16 columns, as the AVX-512 kernel's tile: rows in blocks of 4,
// K in passes of kPassK (at least one pass: kc = 0 still applies the epilogue).
template <int MR, int NV, bool Finish, bool StreamB>
void micro_kernel(const TileArgs& t) {
  int64_t k0 = 0;
  do {
    const int64_t k1 = std::min(k0 + kPassK, t.kc);
    if (NV == 1 && t.cols <= 8) {
      // One vector of valid columns (5 to 8 of them: fewer go to narrow_kernel): one
      // block of all the rows x 1 vector, 8 FMA chains, instead of two 4 x 2 blocks whose
      // second vector holds no column.
      block<MR, 1, Finish, StreamB>(t, 0, 0, k0, k1);
    } else {
      for (int r0 = 0; r0 + 4 <= MR; r0 += 4) micro_rows<4, NV, Finish, StreamB>(t, r0, k0, k1);
      if constexpr (MR % 4 != 0) micro_rows<MR % 4, NV, Finish, StreamB>(t, MR - MR % 4, k0, k1);
    }
    k0 = k1;
  } while (k0 < t.kc);
}

#else

// The same tile with plain loops (the compiler vectorises what its target allows).
template <int MR, int NV, bool Finish, bool StreamB>
void micro_kernel(const TileArgs& t) {
  constexpr int W = 16 * NV;
  float acc[MR][W];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < W; ++j) acc[r][j] = j < t.cols ? t.c_in[r * t.ld_in + j] : 0.0f;
  const float* a = t.a;
  const float* b = t.b;
  for (int64_t k = 0; k < t.kc; ++k, a += kMR, b += kNR)
    for (int r = 0; r < MR; ++r) {
      const float av = a[r];
      for (int j = 0; j < W; ++j) acc[r][j] += av * b[j];
    }
  for (int r = 0; r < MR; ++r) {
    float* c = t.c + r * t.ldc;
    for (int j = 0; j < t.cols; ++j) {
      float x = acc[r][j];
      if constexpr (Finish) {
        x = x + t.row_bias[r] + t.col_bias[j] + t.residual[r * t.ld_res + j];
        x = x < t.lo ? t.lo : x;
        x = x > t.hi ? t.hi : x;
      }
      c[j] = x;
    }
  }
}

#endif

#if (defined(QSIM_GEMM_AVX512) && defined(__AVX512VL__)) || defined(QSIM_GEMM_AVX2)
#define QSIM_GEMM_NARROW 1
// A task's last panel when it holds at most kNarrowCols columns (N's remainder: 1 of a
// 7x7 map's 49, 4 of a 14x14's 196). The wide kernels would spend a 16-column vector
// (AVX-512) or an 8-row x 8-column block (AVX2) of FMAs per k step on 8 x cols elements.
// Instead each (row panel, column) keeps its 8 rows in a ymm, P row panels at once so
// the FMA chains overlap. Every element gets the wide kernels' FMAs in the same k order
// and the same epilogue, so C is bitwise the same whichever kernel computes it. C is
// stored through a small buffer (AVX2 has no scatter).
constexpr int kNarrowCols = 4;
constexpr int kNarrowPanels = 4;
// Row panels per call for `cols` columns: P x cols accumulators, P A vectors and one
// broadcast must fit the vector registers (32 with AVX-512VL, 16 with AVX2).
#if defined(__AVX512VL__)
constexpr int narrow_panels(int) { return kNarrowPanels; }
#else
constexpr int narrow_panels(int cols) { return cols <= 2 ? 4 : cols == 3 ? 3 : 2; }
#endif

template <int P, int NC, bool Finish>
void narrow_kernel(const TileArgs& t) {
  // Rows 8p..8p+7 of column c of a matrix at m (leading dimension ld), 0 past t.rows:
  // a broadcast when ld = 0 (kZeros, or one residual row for every row), a plain load
  // for a whole panel of the row bias (ld = 1), else a gather (no scalar stores into a
  // buffer that a vector load then reads: that load waits for them).
  const __m256i rix = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto rows_of = [&t, rix](const float* m, int64_t ld, int p, int c) {
    if (ld == 0) return _mm256_set1_ps(m[c]);
    if (ld == 1 && 8 * p + 8 <= t.rows) return _mm256_loadu_ps(m + 8 * p + c);
    const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(t.rows - 8 * p), rix));
    const __m256i idx = _mm256_mullo_epi32(rix, _mm256_set1_epi32(static_cast<int>(ld)));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), m + 8 * p * ld + c, idx, valid, 4);
  };
  alignas(32) float buf[8];
  __m256 acc[P][NC];
  for (int p = 0; p < P; ++p)
    for (int c = 0; c < NC; ++c) acc[p][c] = rows_of(t.c_in, t.ld_in, p, c);
  const float* a = t.a;
  const float* b = t.b;
  for (int64_t k = 0; k < t.kc; ++k, a += kMR, b += kNR) {
    __m256 av[P];
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) av[p] = _mm256_loadu_ps(a + p * t.a_stride);
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) {
      const __m256 bv = _mm256_broadcast_ss(b + c);
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) acc[p][c] = _mm256_fmadd_ps(av[p], bv, acc[p][c]);
    }
  }
  for (int p = 0; p < P; ++p) {
    if constexpr (Finish) {
      const __m256 lo = _mm256_set1_ps(t.lo), hi = _mm256_set1_ps(t.hi);
      const __m256 rb = rows_of(t.row_bias, 1, p, 0);
      for (int c = 0; c < NC; ++c) {
        __m256 x = _mm256_add_ps(acc[p][c], rb);
        x = _mm256_add_ps(x, _mm256_set1_ps(t.col_bias[c]));
        x = _mm256_add_ps(x, rows_of(t.residual, t.ld_res, p, c));
        // max/min return their second operand when one is NaN: x propagates, as in the wide kernels.
        acc[p][c] = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
      }
    }
    for (int c = 0; c < NC; ++c) {
      _mm256_store_ps(buf, acc[p][c]);
      for (int i = 0; i < 8 && 8 * p + i < t.rows; ++i) t.c[(8 * p + i) * t.ldc + c] = buf[i];
    }
  }
}

template <bool Finish, int... P>
struct NarrowTable {
  static constexpr KernelFn fns[kNarrowPanels][kNarrowCols] = {
      {&narrow_kernel<P, 1, Finish>, &narrow_kernel<P, 2, Finish>, &narrow_kernel<P, 3, Finish>,
       &narrow_kernel<P, 4, Finish>}...};
};
// [finish][panels - 1][columns - 1]
constexpr const KernelFn (*kNarrow[2])[kNarrowCols] = {NarrowTable<false, 1, 2, 3, 4>::fns,
                                                       NarrowTable<true, 1, 2, 3, 4>::fns};
#endif

template <bool Finish, bool StreamB, int... R>
struct KernelTable {
  static constexpr KernelFn fns[kMR][3] = {{&micro_kernel<R, 1, Finish, StreamB>, &micro_kernel<R, 2, Finish, StreamB>,
                                            &micro_kernel<R, 3, Finish, StreamB>}...};
};
// [streamed B][finish][rows - 1][vectors - 1]
constexpr const KernelFn (*kKernels[2][2])[3] = {
    {KernelTable<false, false, 1, 2, 3, 4, 5, 6, 7, 8>::fns, KernelTable<true, false, 1, 2, 3, 4, 5, 6, 7, 8>::fns},
    {KernelTable<false, true, 1, 2, 3, 4, 5, 6, 7, 8>::fns, KernelTable<true, true, 1, 2, 3, 4, 5, 6, 7, 8>::fns}};

// Rows [r0, r0 + rows) x K slice [k0, k0 + kc) of a strided A, times alpha, as
// ceil(rows / kMR) panels of kc groups of kMR floats.
void pack_a_slice(const Matrix& a, int64_t r0, int64_t rows, int64_t k0, int64_t kc, float alpha, float* dst) {
  if (kc == 0) return;  // K = 0: nothing to pack, and A may be an empty (null) buffer
  const int64_t panels = ceil_div(rows, kMR);
  for (int64_t p = 0; p < panels; ++p) {
    float* d = dst + p * kc * kMR;
    const int64_t nr = std::min<int64_t>(kMR, rows - p * kMR);
    if (nr < kMR) std::fill(d, d + kc * kMR, 0.0f);
    for (int64_t rr = 0; rr < nr; ++rr) {
      const int64_t r = r0 + p * kMR + rr;
      if (a.trans) {
        const float* src = a.data + k0 * a.ld + r;
        for (int64_t k = 0; k < kc; ++k) d[k * kMR + rr] = alpha * src[k * a.ld];
      } else {
        const float* src = a.data + r * a.ld + k0;
        for (int64_t k = 0; k < kc; ++k) d[k * kMR + rr] = alpha * src[k];
      }
    }
  }
}

// Columns [n0, n0 + nc) (nc <= kNR) x K slice [k0, k0 + kc) of a strided B as one
// panel of kc groups of kNR floats.
void pack_b_panel(const Matrix& b, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) {
  if (kc == 0) return;  // K = 0: nothing to pack, and B may be an empty (null) buffer
  if (b.trans) {
    if (nc < kNR) std::fill(dst, dst + kc * kNR, 0.0f);
    for (int64_t j = 0; j < nc; ++j) {
      const float* src = b.data + (n0 + j) * b.ld + k0;
      for (int64_t k = 0; k < kc; ++k) dst[k * kNR + j] = src[k];
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = b.data + (k0 + k) * b.ld + n0;
    float* d = dst + k * kNR;
#if defined(QSIM_GEMM_AVX512)
    for (int v = 0; v < 3; ++v) {
      const int64_t n = std::clamp<int64_t>(nc - 16 * v, 0, 16);
      _mm512_store_ps(d + 16 * v, _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), src + 16 * v));
    }
#else
    std::memcpy(d, src, static_cast<std::size_t>(nc) * sizeof(float));
    if (nc < kNR) std::fill(d + nc, d + kNR, 0.0f);
#endif
  }
}

// Floats of a task's packed B slice in the worker's workspace.
inline int64_t b_slice_floats(const Tiling& t) { return kKC * round_up(t.max_cols(), kNR); }

// Chunk i of n over `total` elements in units of `unit` (the last takes the remainder).
inline Chunk chunk(int64_t i, int64_t n, int64_t total, int64_t unit) {
  const int64_t units = std::max<int64_t>(1, total / unit);
  const int64_t b = i * units / n * unit, e = i == n - 1 ? total : (i + 1) * units / n * unit;
  return {b, e - b};
}

// One task: rows [m0, m0 + mc) x columns [n0, n0 + nc) of C, all of K.
void run_task(const Job& j, const Tiling& t, int64_t m0, int64_t mc, int64_t n0, int64_t nc, float* ws) {
  const Epilogue& ep = j.ep;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  float lo = -kInf, hi = kInf;
  if (ep.act.kind == ActKind::kRelu) {
    lo = 0.0f;
  } else if (ep.act.kind == ActKind::kClip) {
    lo = ep.act.alpha;
    hi = ep.act.beta;
  }
  const bool post_act = ep.act.kind != ActKind::kNone && ep.act.kind != ActKind::kRelu && ep.act.kind != ActKind::kClip;
  const int64_t n_panels = ceil_div(nc, kNR), m_panels = ceil_div(mc, kMR);
#if defined(QSIM_GEMM_NARROW)
  const int64_t narrow_cols = nc - (n_panels - 1) * kNR;
  const bool narrow = narrow_cols <= kNarrowCols;  // the last panel goes to narrow_kernel
#else
  constexpr bool narrow = false;
#endif
  const int64_t wide_panels = narrow ? n_panels - 1 : n_panels;
  float* bbuf = ws;
  float* abuf = ws + (j.b_packed ? 0 : b_slice_floats(t));  // the layout workspace_floats() sizes
  const int64_t slices = std::max<int64_t>(1, ceil_div(j.K, kKC));
  std::array<const float*, kMaxCols / kNR + 2> bp{};  // kMaxCols plus a remainder of under kNR
  for (int64_t s = 0; s < slices; ++s) {
    const int64_t k0 = s * kKC, kc = std::min(kKC, j.K - k0);
    for (int64_t q = 0; q < n_panels; ++q) {
      const int64_t c0 = n0 + q * kNR, cols = std::min<int64_t>(kNR, n0 + nc - c0);
      if (j.b_packed) {
        bp[q] = j.b_packed + (c0 / kNR) * j.K * kNR + k0 * kNR;
      } else {
        float* d = bbuf + q * kc * kNR;
        if (j.b_source)
          j.b_source->pack(k0, kc, c0, cols, d);
        else
          pack_b_panel(j.b, k0, kc, c0, cols, d);
        bp[q] = d;
      }
    }
    if (!j.a_packed) pack_a_slice(j.a, m0, mc, k0, kc, j.alpha, abuf);
    const bool first = s == 0, last = s == slices - 1;
    // The tile of rows from r0 (row panel p of the task) and columns from c0: operands,
    // starting values, and on the last slice the epilogue.
    const auto tile = [&](int64_t p, int64_t r0, int64_t c0, int64_t q, int cols) {
      TileArgs a;
      a.a = j.a_packed ? j.a_packed + k0 * round_up(j.M, kMR) + (r0 / kMR) * kc * kMR : abuf + p * kc * kMR;
      a.b = bp[static_cast<std::size_t>(q)];
      a.kc = kc;
      a.c = j.c + r0 * j.ldc + c0;
      a.ldc = j.ldc;
      const bool load_c = !first || ep.accumulate;
      a.c_in = load_c ? a.c : kZeros;
      a.ld_in = load_c ? j.ldc : 0;
      a.cols = cols;
      if (last) {
        a.row_bias = ep.row_bias ? ep.row_bias + r0 : kZeros;
        a.col_bias = ep.col_bias ? ep.col_bias + c0 : kZeros;
        a.residual = ep.residual ? ep.residual + r0 * j.ldc + c0 : kZeros;
        a.ld_res = ep.residual ? j.ldc : 0;
        a.lo = lo;
        a.hi = hi;
      }
      return a;
    };
    // Row panel outer: its A slice stays in L1 while the task's B panels (in L2) pass,
    // and each output row is written in one run of the task's columns.
    for (int64_t p = 0; p < m_panels; ++p) {
      const int64_t r0 = m0 + p * kMR;
      const int rows = static_cast<int>(std::min<int64_t>(kMR, m0 + mc - r0));
      for (int64_t q = 0; q < wide_panels; ++q) {
        const int64_t c0 = n0 + q * kNR;
        const int cols = static_cast<int>(std::min<int64_t>(kNR, n0 + nc - c0));
        const TileArgs a = tile(p, r0, c0, q, cols);
        kKernels[j.b_packed != nullptr][last][rows - 1][(cols + 15) / 16 - 1](a);
        if (last && post_act)
          for (int r = 0; r < rows; ++r) apply_activation(ep.act, a.c + r * j.ldc, cols);
      }
    }
#if defined(QSIM_GEMM_NARROW)
    if (narrow) {
      // After the wide panels: the task's A slice is in L2 by now.
      const int64_t c0 = n0 + (n_panels - 1) * kNR;
      const int step = narrow_panels(static_cast<int>(narrow_cols));
      for (int64_t p = 0; p < m_panels; p += step) {
        const int np = static_cast<int>(std::min<int64_t>(step, m_panels - p));
        const int64_t r0 = m0 + p * kMR;
        TileArgs a = tile(p, r0, c0, n_panels - 1, static_cast<int>(narrow_cols));
        a.a_stride = kc * kMR;
        a.rows = static_cast<int>(std::min<int64_t>(np * kMR, m0 + mc - r0));
        kNarrow[last][np - 1][narrow_cols - 1](a);
        if (last && post_act)
          for (int r = 0; r < a.rows; ++r) apply_activation(ep.act, a.c + r * j.ldc, narrow_cols);
      }
    }
#endif
  }
}

}  // namespace

bool uses_avx512() {
#if defined(QSIM_GEMM_AVX512)
  return true;
#else
  return false;
#endif
}

int64_t packed_a_floats(int64_t M, int64_t K) { return round_up(std::max<int64_t>(M, 1), kMR) * K; }

void pack_a(const Matrix& a, int64_t M, int64_t K, float alpha, float* dst) {
  // Slice after slice, each the layout of pack_a_slice over all rows.
  const int64_t mp = round_up(std::max<int64_t>(M, 1), kMR);
  for (int64_t k0 = 0; k0 < K; k0 += kKC) pack_a_slice(a, 0, M, k0, std::min(kKC, K - k0), alpha, dst + k0 * mp);
}

PackedA pack_a(const Matrix& a, int64_t M, int64_t K, float alpha) {
  PackedA p;
  p.M = M;
  p.K = K;
  p.data.resize(static_cast<std::size_t>(packed_a_floats(M, K)));
  pack_a(a, M, K, alpha, p.data.data());
  return p;
}

PackedB pack_b(const Matrix& b, int64_t K, int64_t N) {
  PackedB p;
  p.K = K;
  p.N = N;
  const int64_t panels = ceil_div(N, kNR);
  p.data.resize(static_cast<std::size_t>(std::max<int64_t>(panels, 1) * K * kNR));
  for (int64_t q = 0; q < panels; ++q)
    pack_b_panel(b, 0, K, q * kNR, std::min<int64_t>(kNR, N - q * kNR), p.data.data() + q * K * kNR);
  return p;
}

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

Chunk Tiling::rows(int64_t i) const { return chunk(i, m_tasks, M, kMR); }
Chunk Tiling::cols(int64_t i) const {
  const auto e = col_edges.begin() + i;
  return {e[0], e[1] - e[0]};
}
int64_t Tiling::max_rows() const {
  int64_t m = 0;
  for (int64_t i = 0; i < m_tasks; ++i) m = std::max(m, rows(i).size);
  return m;
}
int64_t Tiling::max_cols() const {
  int64_t m = 0;
  for (int64_t i = 0; i < n_tasks; ++i) m = std::max(m, cols(i).size);
  return m;
}

Tiling plan_tiling(int64_t M, int64_t N, int64_t K, int64_t jobs, int threads) {
  (void)K;  // the K slices are the same for every tiling
  Tiling t;
  t.M = M;
  t.N = N;
  const int64_t n_units = std::max<int64_t>(1, N / kNR), m_units = std::max<int64_t>(1, M / kMR);
  // Chunks within the cache budgets (kMaxCols, kMaxRows) ...
  int64_t n_tasks = ceil_div(n_units, kMaxCols / kNR);
  t.m_tasks = ceil_div(m_units, kMaxRows / kMR);
  // ... and enough tasks for the dynamic schedule to balance: three per thread, when
  // the columns allow (splitting them costs only re-reading packed A from cache).
  // Rows only as far as one task per thread: each row chunk packs B again (a
  // convolution's im2col), which with per-worker packing costs no time only while
  // every worker packs it once (rows stay in chunks of 4 units at least). Measured
  // against packing B once in a shared pass: that pass writes B out of the workers'
  // caches and lost on every resnet50 shape (docs/executor.md).
  const auto can_split_rows = [&](int64_t m) { return m_units / (m + 1) >= 4; };
  if (threads > 1) {
    const int64_t want = 3 * static_cast<int64_t>(threads);
    while (jobs * t.m_tasks * n_tasks < want && n_tasks < n_units) ++n_tasks;
    while (jobs * t.m_tasks * n_tasks < threads && can_split_rows(t.m_tasks)) ++t.m_tasks;
    // A multiple of the thread count, when a few more column (or row) chunks reach one.
    const auto balanced = [&](int64_t m, int64_t n) { return (jobs * m * n) % threads == 0; };
    for (int64_t e = 1; e < threads && !balanced(t.m_tasks, n_tasks); ++e)
      if (n_tasks + e <= n_units && balanced(t.m_tasks, n_tasks + e)) n_tasks += e;
    for (int64_t e = 1; e < threads && !balanced(t.m_tasks, n_tasks); ++e)
      if (m_units / (t.m_tasks + e) >= 4 && balanced(t.m_tasks + e, n_tasks)) t.m_tasks += e;
  }
  // Column chunks in units, equal ones ...
  std::vector<int64_t> units;
  for (int64_t i = 0; i < n_tasks; ++i) units.push_back((i + 1) * n_units / n_tasks - i * n_units / n_tasks);
  // ... or, with several threads on one job, guided: each takes about half of a
  // worker's share of what is left, at most the equal chunk's size, at least one unit.
  if (threads > 1 && jobs == 1 && n_tasks < n_units) {
    const int64_t cap = ceil_div(n_units, n_tasks);
    units.clear();
    for (int64_t left = n_units; left > 0;) {  // (descending sizes)
      const int64_t u = std::clamp<int64_t>(ceil_div(left * t.m_tasks, 2 * static_cast<int64_t>(threads)), 1, cap);
      units.push_back(std::min(u, left));
      left -= units.back();
    }
  }
  // Chunks in place, the last also taking the remainder of under kNR columns; handed
  // out largest first (by panels, a partial one counting whole).
  t.n_tasks = static_cast<int64_t>(units.size());
  t.col_edges.assign(1, 0);
  for (int64_t u : units) t.col_edges.push_back(t.col_edges.back() + u * kNR);
  t.col_edges.back() = N;
  t.col_order.resize(units.size());
  for (std::size_t i = 0; i < units.size(); ++i) t.col_order[i] = static_cast<int64_t>(i);
  std::stable_sort(t.col_order.begin(), t.col_order.end(),
                   [&](int64_t a, int64_t b) { return ceil_div(t.cols(a).size, kNR) > ceil_div(t.cols(b).size, kNR); });
  return t;
}

int64_t workspace_floats(const Job& j, const Tiling& t) {
  int64_t f = 0;
  if (!j.b_packed) f += b_slice_floats(t);
  if (!j.a_packed) f += kKC * round_up(t.max_rows(), kMR);
  return f;
}

void Workspace::reserve(int workers, int64_t floats) {
  if (static_cast<int>(buffers_.size()) >= workers && floats_ >= floats) return;
  floats_ = std::max(floats_, floats);
  buffers_.resize(static_cast<std::size_t>(std::max<int>(workers, static_cast<int>(buffers_.size()))));
  for (auto& b : buffers_) b.resize(static_cast<std::size_t>(floats_ + 16));
}

void run(std::span<const Job> jobs, const Tiling& t, ThreadPool& pool, Workspace& ws) {
  if (jobs.empty() || jobs[0].M == 0 || jobs[0].N == 0) return;
  if (ws.workers() < pool.size() || ws.floats() < workspace_floats(jobs[0], t))
    throw std::logic_error("gemm::run: workspace smaller than the tiling needs");
  const int64_t per_job = t.m_tasks * t.n_tasks;
  pool.parallel_for(static_cast<int64_t>(jobs.size()) * per_job, [&](int64_t task, int worker) {
    const Job& j = jobs[static_cast<std::size_t>(task / per_job)];
    const int64_t r = task % per_job;
    const Chunk rc = t.rows(t.task_rows(r)), cc = t.cols(t.task_cols(r));
    run_task(j, t, rc.begin, rc.size, cc.begin, cc.size, ws.get(worker));
  });
}

void run_one(const Job& job, ThreadPool& pool, Workspace& ws) {
  const Tiling t = plan_tiling(job.M, job.N, job.K, 1, pool.size());
  ws.reserve(pool.size(), workspace_floats(job, t));
  run(std::span<const Job>(&job, 1), t, pool, ws);
}

}  // namespace qsim::gemm
