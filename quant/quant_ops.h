// The quantized element-wise and pooling operators, written once for both executors.
//
// The integer executor holds a quantized tensor as its integers q (int32 storage);
// the fake-quant executor holds the same tensor as float32 values of q - z (exact
// integers, so the float32 GEMM computes sum w (q - z) without rounding). A Codec
// converts between the storage and q. Every operator here is a template over the
// codec, so both executors run literally the same integer arithmetic (int_arith.h)
// and agree bit for bit by construction.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "runtime/gemm.h"
#include "arith/int_arith.h"
#include "runtime/kernels.h"
#include "quant/quant_model.h"
#include "runtime/thread_pool.h"

namespace qsim::qops {

struct IntCodec {
  using T = int32_t;
  static int32_t get(T v, int32_t) { return v; }
  static T put(int32_t q, int32_t) { return q; }
};

struct FakeCodec {
  using T = float;
  static int32_t get(T v, int32_t z) { return static_cast<int32_t>(v) + z; }
  static T put(int32_t q, int32_t z) { return static_cast<float>(q - z); }
};

// Splits [0, n) into chunks over the pool when the work is large enough.
template <typename F>
void parallel_elements(int64_t n, ThreadPool& pool, F&& f) {
  constexpr int64_t kGrain = 1 << 14;
  const int64_t chunks = std::min<int64_t>(n / kGrain + 1, 4 * pool.size());
  if (chunks <= 1 || pool.size() == 1) {
    f(int64_t{0}, n);
    return;
  }
  pool.parallel_for(chunks, [&](int64_t c, int) {
    const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) f(b, e);
  });
}

// ------------------------------------------------------------------ vector requantization

// Whether the vector forms below apply to a multiplier (a right shift of 31..62 bits
// after the product; what every quantizer here produces).
inline bool vector_ok(intarith::Multiplier m) { return m.shift <= 0 && m.shift >= -31 && m.m0 >= 0; }

#if defined(__AVX512F__)
// Zero-masked forms of the intrinsics: GCC 12's unmasked ones pass an undefined
// source that trips -Wmaybe-uninitialized; with a full mask they are the same instruction.
namespace v512 {
inline __m512i mul_epi32(__m512i a, __m512i b) { return _mm512_maskz_mul_epi32(0xFF, a, b); }
inline __m512i slli64(__m512i a, unsigned n) { return _mm512_maskz_slli_epi64(0xFF, a, n); }
inline __m512i srli64(__m512i a, unsigned n) { return _mm512_maskz_srli_epi64(0xFF, a, n); }
inline __m512i srai64(__m512i a, unsigned n) { return _mm512_maskz_srai_epi64(0xFF, a, n); }
inline __m512i slli32(__m512i a, unsigned n) { return _mm512_maskz_slli_epi32(0xFFFF, a, n); }
inline __m512i srli32(__m512i a, unsigned n) { return _mm512_maskz_srli_epi32(0xFFFF, a, n); }
inline __m512i srai32(__m512i a, unsigned n) { return _mm512_maskz_srai_epi32(0xFFFF, a, n); }
inline __m512i sra32(__m512i a, int n) { return _mm512_maskz_sra_epi32(0xFFFF, a, _mm_cvtsi32_si128(n)); }
inline __m512i max32(__m512i a, __m512i b) { return _mm512_maskz_max_epi32(0xFFFF, a, b); }
inline __m512i min32(__m512i a, __m512i b) { return _mm512_maskz_min_epi32(0xFFFF, a, b); }
inline __m512i cvtt_ps(__m512 a) { return _mm512_maskz_cvttps_epi32(0xFFFF, a); }
inline __m512 cvt_epi32(__m512i a) { return _mm512_maskz_cvtepi32_ps(0xFFFF, a); }
}  // namespace v512

// 16 lanes of intarith::multiply_by_quantized_multiplier(x, m) for m.shift <= 0 and
// m0 >= 0: the exact 64-bit products of the even and odd lanes, one round-half-even
// right shift by 31 - shift (>= 31, so every result fits int32).
inline __m512i mbqm16(__m512i x, intarith::Multiplier m) {
  const int r = 31 - m.shift;
  const __m512i m0 = _mm512_set1_epi32(m.m0);
  const __m512i bias = _mm512_set1_epi64((int64_t{1} << (r - 1)) - 1), one = _mm512_set1_epi64(1);
  const __m128i cnt = _mm_cvtsi32_si128(r);
  auto round = [&](__m512i p) {
    const __m512i odd = _mm512_and_si512(_mm512_maskz_sra_epi64(0xFF, p, cnt), one);
    return _mm512_maskz_sra_epi64(0xFF, _mm512_add_epi64(p, _mm512_add_epi64(bias, odd)), cnt);
  };
  const __m512i even = round(v512::mul_epi32(x, m0));
  const __m512i odd = round(v512::mul_epi32(v512::srli64(x, 32), m0));
  return _mm512_mask_blend_epi32(0xAAAA, even, v512::slli64(odd, 32));
}

// Storage <-> (q - z) for 16 lanes: fake-quant stores q - z as float32, the integer
// executor stores q.
template <typename C>
inline __m512i load_centered(const typename C::T* p, __m512i z) {
  if constexpr (std::is_same_v<typename C::T, float>) {
    (void)z;
    return v512::cvtt_ps(_mm512_loadu_ps(p));
  } else {
    return _mm512_sub_epi32(_mm512_loadu_si512(p), z);
  }
}
template <typename C>
inline void store_q(typename C::T* p, __m512i q, __m512i z) {
  if constexpr (std::is_same_v<typename C::T, float>) {
    _mm512_storeu_ps(p, v512::cvt_epi32(_mm512_sub_epi32(q, z)));
  } else {
    (void)z;
    _mm512_storeu_si512(p, q);
  }
}

// 16 lanes of intarith::requantize(wrap(acc, acc_bits), m, zp, r) for m.shift <= 0.
inline __m512i requant16(__m512i acc, intarith::Multiplier m, __m512i zp, __m512i lo, __m512i hi, int acc_bits) {
  if (acc_bits < 32) {
    const int s = 32 - acc_bits;
    acc = v512::srai32(v512::slli32(acc, static_cast<unsigned>(s)), static_cast<unsigned>(s));
  }
  __m512i v = mbqm16(acc, m);
  v = _mm512_add_epi32(v, zp);
  return v512::min32(v512::max32(v, lo), hi);
}
#elif defined(__AVX2__)
// AVX2 (no AVX-512: AMD Zen 1-3, most Intel client cores): the same rules on 8 lanes,
// instruction for instruction where AVX2 has one.

// 8 lanes of intarith::multiply_by_quantized_multiplier(x, m) when vector_ok(m), as mbqm16.
// AVX2 has no 64-bit arithmetic right shift, and none is needed: with r = 31 - shift in
// [31, 62], bit r of the product (the tie's parity) is the same under a logical shift, and
// the rounded sum S >> r is kept to its low 32 bits, which the logical shift gives in its
// bits [0, 64 - r) -- all 32 when r <= 32, else sign-extended from bit 63 - r in the 32-bit
// lanes. That is exact because |S| < 2^63, so S >> r fits in 64 - r signed bits.
inline __m256i mbqm8(__m256i x, intarith::Multiplier m) {
  const int r = 31 - m.shift;
  const __m256i m0 = _mm256_set1_epi32(m.m0);
  const __m256i bias = _mm256_set1_epi64x((int64_t{1} << (r - 1)) - 1), one = _mm256_set1_epi64x(1);
  const __m128i cnt = _mm_cvtsi32_si128(r);
  auto round = [&](__m256i p) {
    const __m256i odd = _mm256_and_si256(_mm256_srl_epi64(p, cnt), one);
    return _mm256_srl_epi64(_mm256_add_epi64(p, _mm256_add_epi64(bias, odd)), cnt);
  };
  const __m256i even = round(_mm256_mul_epi32(x, m0));
  const __m256i odd = round(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m0));
  const __m256i v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  if (r <= 32) return v;
  const __m128i ext = _mm_cvtsi32_si128(r - 32);
  return _mm256_sra_epi32(_mm256_sll_epi32(v, ext), ext);
}

template <typename C>
inline __m256i load_centered8(const typename C::T* p, __m256i z) {
  if constexpr (std::is_same_v<typename C::T, float>) {
    (void)z;
    return _mm256_cvttps_epi32(_mm256_loadu_ps(p));
  } else {
    return _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), z);
  }
}
template <typename C>
inline void store_q8(typename C::T* p, __m256i q, __m256i z) {
  if constexpr (std::is_same_v<typename C::T, float>) {
    _mm256_storeu_ps(p, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)));
  } else {
    (void)z;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), q);
  }
}

// 8 lanes of intarith::requantize(wrap(acc, acc_bits), m, zp, r) when vector_ok(m).
inline __m256i requant8(__m256i acc, intarith::Multiplier m, __m256i zp, __m256i lo, __m256i hi, int acc_bits) {
  if (acc_bits < 32) {
    const __m128i s = _mm_cvtsi32_si128(32 - acc_bits);
    acc = _mm256_sra_epi32(_mm256_sll_epi32(acc, s), s);
  }
  const __m256i v = _mm256_add_epi32(mbqm8(acc, m), zp);
  return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
}
#endif

// An accumulator held as float32 (fake-quant: exact integers) or int32. Out-of-range
// floats (never produced when ComputeQ::fake_exact) convert as the vector path does.
inline int32_t to_int32(int32_t v) { return v; }
inline int32_t to_int32(float v) {
  return v >= -2147483648.0f && v < 2147483648.0f ? static_cast<int32_t>(v) : intarith::kInt32Min;
}

// q[i] = requantize(acc[i] + bias, m, zp, r) with the accumulator rules of int_arith.h,
// for int32 accumulators (In = int32_t) or exact float32 ones (In = float); the
// result is stored through Codec C with zero point zp.
template <typename C, typename In>
void requantize_run(const In* acc, typename C::T* out, int64_t n, int32_t bias, intarith::Multiplier m, int32_t zp,
                    intarith::QRange r, int acc_bits) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if (m.shift <= 0 && m.shift >= -31 && m.m0 >= 0) {
    const __m512i vz = _mm512_set1_epi32(zp), vlo = _mm512_set1_epi32(r.lo),
                  vhi = _mm512_set1_epi32(r.hi), vb = _mm512_set1_epi32(bias);
    for (; i + 16 <= n; i += 16) {
      __m512i a;
      if constexpr (std::is_same_v<In, float>) {
        a = v512::cvtt_ps(_mm512_loadu_ps(acc + i));
      } else {
        a = _mm512_loadu_si512(acc + i);
      }
      a = _mm512_add_epi32(a, vb);
      const __m512i q = requant16(a, m, vz, vlo, vhi, acc_bits);
      if constexpr (std::is_same_v<typename C::T, float>) {
        _mm512_storeu_ps(out + i, v512::cvt_epi32(_mm512_sub_epi32(q, vz)));
      } else {
        _mm512_storeu_si512(out + i, q);
      }
    }
  }
#elif defined(__AVX2__)
  if (vector_ok(m)) {
    const __m256i vz = _mm256_set1_epi32(zp), vlo = _mm256_set1_epi32(r.lo), vhi = _mm256_set1_epi32(r.hi),
                  vb = _mm256_set1_epi32(bias);
    for (; i + 8 <= n; i += 8) {
      __m256i a;
      if constexpr (std::is_same_v<In, float>) {
        a = _mm256_cvttps_epi32(_mm256_loadu_ps(acc + i));
      } else {
        a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i));
      }
      store_q8<C>(out + i, requant8(_mm256_add_epi32(a, vb), m, vz, vlo, vhi, acc_bits), vz);
    }
  }
#endif
  for (; i < n; ++i) {
    const int64_t a = static_cast<int64_t>(to_int32(acc[i])) + bias;
    const int32_t a32 = intarith::acc_to_int32(static_cast<int32_t>(static_cast<uint32_t>(a)), acc_bits);
    out[i] = C::put(intarith::requantize(a32, m, zp, r), zp);
  }
}

// ------------------------------------------------------------------ operators

template <typename C>
void add(const AddQ& a, std::span<const typename C::T* const> xs, typename C::T* y, int64_t n, ThreadPool& pool) {
  if (a.float_output) {  // a graph output: the sum of the rescaled terms, dequantized
    auto* yf = reinterpret_cast<float*>(y);
    for (int64_t i = 0; i < n; ++i) {
      int32_t sum = 0;
      for (std::size_t k = 0; k < xs.size(); ++k)
        sum += intarith::add_term(C::get(xs[k][i], a.in[k].zero_point), a.in[k], a.left_shift);
      yf[i] = static_cast<float>(sum) * a.out_real;
      gemm::apply_activation(a.act, yf + i, 1);
    }
    return;
  }
  // The vector forms apply when every multiplier allows them (both instruction sets).
  [[maybe_unused]] bool vec = vector_ok(a.out_m);
  for (const auto& in : a.in) vec = vec && vector_ok(in.m);
  parallel_elements(n, pool, [&](int64_t b, int64_t e) {
    int64_t i = b;
#if defined(__AVX512F__)
    if (vec) {
      const __m512i zo = _mm512_set1_epi32(a.out_zp), lo = _mm512_set1_epi32(a.range.lo),
                    hi = _mm512_set1_epi32(a.range.hi);
      for (; i + 16 <= e; i += 16) {
        __m512i sum = _mm512_setzero_si512();
        for (std::size_t k = 0; k < xs.size(); ++k) {
          const __m512i c = load_centered<C>(xs[k] + i, _mm512_set1_epi32(a.in[k].zero_point));
          sum = _mm512_add_epi32(sum, mbqm16(v512::slli32(c, static_cast<unsigned>(a.left_shift)), a.in[k].m));
        }
        const __m512i q = v512::min32(v512::max32(_mm512_add_epi32(mbqm16(sum, a.out_m), zo), lo), hi);
        store_q<C>(y + i, q, zo);
      }
    }
#elif defined(__AVX2__)
    if (vec) {
      const __m256i zo = _mm256_set1_epi32(a.out_zp), lo = _mm256_set1_epi32(a.range.lo),
                    hi = _mm256_set1_epi32(a.range.hi);
      const __m128i shift = _mm_cvtsi32_si128(a.left_shift);
      for (; i + 8 <= e; i += 8) {
        __m256i sum = _mm256_setzero_si256();
        for (std::size_t k = 0; k < xs.size(); ++k) {
          const __m256i c = load_centered8<C>(xs[k] + i, _mm256_set1_epi32(a.in[k].zero_point));
          sum = _mm256_add_epi32(sum, mbqm8(_mm256_sll_epi32(c, shift), a.in[k].m));
        }
        const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(mbqm8(sum, a.out_m), zo), lo), hi);
        store_q8<C>(y + i, q, zo);
      }
    }
#endif
    for (; i < e; ++i) {
      int32_t sum = 0;
      for (std::size_t k = 0; k < xs.size(); ++k)
        sum += intarith::add_term(C::get(xs[k][i], a.in[k].zero_point), a.in[k], a.left_shift);
      y[i] = C::put(intarith::add_output(sum, a.out_m, a.out_zp, a.range), a.out_zp);
    }
  });
}

template <typename C>
void rescale(const RescaleQ& r, const typename C::T* x, typename C::T* y, int64_t n) {
  if (r.identity) {
    if (x != y) std::memcpy(y, x, static_cast<std::size_t>(n) * sizeof(typename C::T));
    return;
  }
  int64_t i = 0;
#if defined(__AVX512F__)
  if (vector_ok(r.m)) {
    const __m512i zi = _mm512_set1_epi32(r.in_zp), zo = _mm512_set1_epi32(r.out_zp),
                  lo = _mm512_set1_epi32(r.range.lo), hi = _mm512_set1_epi32(r.range.hi);
    for (; i + 16 <= n; i += 16) {
      const __m512i q = _mm512_add_epi32(mbqm16(load_centered<C>(x + i, zi), r.m), zo);
      store_q<C>(y + i, v512::min32(v512::max32(q, lo), hi), zo);
    }
  }
#elif defined(__AVX2__)
  if (vector_ok(r.m)) {
    const __m256i zi = _mm256_set1_epi32(r.in_zp), zo = _mm256_set1_epi32(r.out_zp),
                  lo = _mm256_set1_epi32(r.range.lo), hi = _mm256_set1_epi32(r.range.hi);
    for (; i + 8 <= n; i += 8) {
      const __m256i q = _mm256_add_epi32(mbqm8(load_centered8<C>(x + i, zi), r.m), zo);
      store_q8<C>(y + i, _mm256_min_epi32(_mm256_max_epi32(q, lo), hi), zo);
    }
  }
#endif
  for (; i < n; ++i)
    y[i] = C::put(intarith::requantize(C::get(x[i], r.in_zp) - r.in_zp, r.m, r.out_zp, r.range), r.out_zp);
}

template <typename C>
void clamp(const ClampQ& c, const typename C::T* x, typename C::T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t q = C::get(x[i], c.zp);
    y[i] = C::put(q < c.range.lo ? c.range.lo : (q > c.range.hi ? c.range.hi : q), c.zp);
  }
}

template <typename C>
void concat(const ConcatQ& c, std::span<const typename C::T* const> xs, typename C::T* y) {
  int64_t total = 0;
  for (int64_t b : c.block) total += b;
  for (int64_t o = 0; o < c.outer; ++o) {
    typename C::T* dst = y + o * total;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      rescale<C>(c.in[k], xs[k] + o * c.block[k], dst, c.block[k]);
      dst += c.block[k];
    }
  }
}

// Average pooling: the integer sum of q - z over the window's taps (taps in the
// padding are zero), requantized by s_in / (count * s_out) with the window's count as
// ONNX defines it (count_include_pad: taps inside the explicit padding).
template <typename C>
void avg_pool(const PoolQ& p, const typename C::T* x, typename C::T* y, ThreadPool& pool) {
  const kernels::Spatial3& g = p.geom;
  const int64_t planes = g.N * g.C, in_plane = g.in_plane(), out_plane = g.out_plane();
  struct Taps {
    int64_t start, lo, hi, padded;
  };
  auto taps = [](int64_t o, int64_t s, int64_t pb, int64_t pe, int64_t d, int64_t k, int64_t in) {
    Taps t{o * s - pb, 0, 0, 0};
    for (int64_t j = 0; j < k; ++j) {
      const int64_t i = t.start + j * d;
      if (i >= -pb && i < in + pe) ++t.padded;
    }
    t.lo = k;
    t.hi = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t i = t.start + j * d;
      if (i >= 0 && i < in) {
        t.lo = std::min(t.lo, j);
        t.hi = j + 1;
      }
    }
    if (t.hi < t.lo) t.hi = t.lo;
    return t;
  };
  parallel_elements(planes, pool, [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      const typename C::T* xp = x + pl * in_plane;
      typename C::T* yp = y + pl * out_plane;
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const Taps td = taps(od, g.stride[0], g.pad_begin[0], g.pad_end[0], g.dilation[0], g.kernel[0], g.in[0]);
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          const Taps th = taps(oh, g.stride[1], g.pad_begin[1], g.pad_end[1], g.dilation[1], g.kernel[1], g.in[1]);
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            const Taps tw = taps(ow, g.stride[2], g.pad_begin[2], g.pad_end[2], g.dilation[2], g.kernel[2], g.in[2]);
            int32_t sum = 0;
            for (int64_t kd = td.lo; kd < td.hi; ++kd) {
              const int64_t id = td.start + kd * g.dilation[0];
              for (int64_t kh = th.lo; kh < th.hi; ++kh) {
                const typename C::T* row = xp + (id * g.in[1] + th.start + kh * g.dilation[1]) * g.in[2];
                for (int64_t kw = tw.lo; kw < tw.hi; ++kw) sum += C::get(row[tw.start + kw * g.dilation[2]], p.in_zp) - p.in_zp;
              }
            }
            const int64_t count = p.include_pad ? td.padded * th.padded * tw.padded
                                                : (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo);
            const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
            if (p.float_output) {  // a graph output: the average dequantized
              reinterpret_cast<float*>(yp)[o] =
                  count > 0 ? static_cast<float>(sum) * p.real_by_count[static_cast<std::size_t>(count)] : 0.0f;
              continue;
            }
            const int32_t q = count > 0 ? intarith::requantize(sum, p.by_count[static_cast<std::size_t>(count)], p.out_zp, p.range)
                                        : p.out_zp;
            yp[o] = C::put(q, p.out_zp);
          }
        }
      }
    }
  });
}

// float32 -> stored integers (graph inputs, kQuant steps).
template <typename C>
void quantize(const QParams& q, const float* x, typename C::T* y, int64_t n) {
  const auto r = q.range();
  for (int64_t i = 0; i < n; ++i) y[i] = C::put(intarith::quantize(x[i], q.scale, q.zero_point, r), q.zero_point);
}

// stored integers -> float32 (graph outputs, kDequant steps).
template <typename C>
void dequantize(const QParams& q, const typename C::T* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = intarith::dequantize(C::get(x[i], q.zero_point), q.scale, q.zero_point);
}

}  // namespace qsim::qops
