#include "quant/int_gemm.h"

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

}  // namespace qsim::intgemm
