// Executor kernels against naive reference loops written independently here.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <gtest/gtest.h>

#include "runtime/asan.h"
#include "runtime/conv.h"
#include "runtime/gemm.h"
#include "runtime/kernels.h"
#include "runtime/thread_pool.h"
#include "tests/test_util.h"

namespace qsim {
namespace {

using testing::all_close;
using testing::random_floats;

float act_ref(const Activation& a, float x) {
  switch (a.kind) {
    case ActKind::kNone: return x;
    case ActKind::kRelu: return std::max(x, 0.0f);
    case ActKind::kClip: return std::min(std::max(x, a.alpha), a.beta);
    case ActKind::kLeakyRelu: return x < 0 ? a.alpha * x : x;
    case ActKind::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case ActKind::kHardSigmoid: return std::clamp(a.alpha * x + a.beta, 0.0f, 1.0f);
    case ActKind::kHardSwish: return x * std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
  }
  return x;
}

// ------------------------------------------------------------------ thread pool

TEST(ThreadPool, RunsEveryTaskOnceOnValidWorkers) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> hits(97);
      std::atomic<int> bad_worker{0};
      pool.parallel_for(97, [&](int64_t t, int w) {
        hits[static_cast<std::size_t>(t)]++;
        if (w < 0 || w >= threads) bad_worker++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      ASSERT_EQ(bad_worker.load(), 0);
    }
  }
}

TEST(ThreadPool, ManyShortJobsBackToBackAndExceptions) {
  ThreadPool pool(2);
  std::vector<int> hits(8);
  for (int round = 0; round < 20000; ++round) {  // late workers must never run a newer job's tasks twice
    const int n = round % 7;
    std::fill(hits.begin(), hits.end(), 0);
    std::atomic<int> total{0};
    pool.parallel_for(n, [&](int64_t t, int) {
      hits[static_cast<std::size_t>(t)] += 1;
      total++;
    });
    ASSERT_EQ(total.load(), n) << "round " << round;
    for (int t = 0; t < n; ++t) ASSERT_EQ(hits[static_cast<std::size_t>(t)], 1) << "round " << round;
  }
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(16,
                                 [&](int64_t t, int) {
                                   ran++;
                                   if (t == 5) throw std::runtime_error("task 5");
                                 }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 16);  // the other tasks still ran
}

TEST(ThreadPool, ParallelRangeCoversOnceWithAndWithoutTheWorker) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1000}}) {
      for (int64_t cost : {int64_t{1}, int64_t{1} << 14, int64_t{1} << 20}) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        std::atomic<bool> bad_worker{false};
        // f(begin, end, worker): the worker indexes per-worker scratch.
        pool.parallel_range(n, cost, [&](int64_t b, int64_t e, int worker) {
          if (worker < 0 || worker >= pool.size()) bad_worker = true;
          for (int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
        });
        // f(begin, end): the same ranges.
        pool.parallel_range(n, cost, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
        });
        EXPECT_FALSE(bad_worker.load());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 2) << "threads " << threads << " n " << n << " i " << i;
      }
    }
  }
}

// ------------------------------------------------------------------ GEMM

struct GemmCase {
  int64_t M, N, K;
};

// B as a PanelSource (as im2col is): packs the requested panel of a row-major
// K x N matrix, checking the contract (n0 on a panel boundary, nc within one panel).
class CopySource final : public gemm::PanelSource {
 public:
  CopySource(const float* b, int64_t n) : b_(b), n_(n) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const override {
    EXPECT_EQ(n0 % gemm::kNR, 0);
    EXPECT_GE(nc, 1);
    EXPECT_LE(nc, gemm::kNR);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(dst) % 64, 0u);
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = 0; j < gemm::kNR; ++j) dst[k * gemm::kNR + j] = j < nc ? b_[(k0 + k) * n_ + n0 + j] : 0.0f;
  }

 private:
  const float* b_;
  int64_t n_;
};

std::vector<float> transposed(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> t(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = x[r * cols + c];
  return t;
}

class GemmTest : public ::testing::TestWithParam<std::tuple<GemmCase, int>> {};

TEST_P(GemmTest, MatchesNaiveWithEveryEpilogueAndOperandLayout) {
  const auto [c, threads] = GetParam();
  const auto a = random_floats(c.M * c.K, 1);
  const auto b = random_floats(c.K * c.N, 2);
  const auto rb = random_floats(c.M, 3);
  const auto cb = random_floats(c.N, 4);
  const auto c0 = random_floats(c.M * c.N, 5);
  const auto res = random_floats(c.M * c.N, 6);
  const auto at = transposed(a, c.M, c.K);  // K x M
  const auto bt = transposed(b, c.K, c.N);  // N x K
  std::vector<double> ref(static_cast<std::size_t>(c.M * c.N));
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < c.K; ++k) s += double(a[i * c.K + k]) * b[k * c.N + j];
      ref[i * c.N + j] = s;
    }
  ThreadPool pool(threads);
  gemm::Workspace ws;
  const CopySource bsrc(b.data(), c.N);

  const Activation acts[] = {{}, {ActKind::kRelu}, {ActKind::kClip, -0.5f, 0.7f}, {ActKind::kLeakyRelu, 0.1f},
                             {ActKind::kSigmoid}, {ActKind::kHardSwish}};
  int variant = 0;
  for (const Activation& act : acts) {
    // 0: A and B row-major; 1: both transposed; 2: B from a PanelSource; 3: A transposed;
    // 4: A packed beforehand (alpha folded in); 5: B packed beforehand (from its transpose).
    for (int layout = 0; layout < 6; ++layout) {
      ++variant;
      const bool use_row = variant % 2 == 0, use_col = variant % 3 == 0, accumulate = variant % 4 == 1,
                 use_res = variant % 7 == 2;
      const float alpha = variant % 5 == 0 ? -0.5f : 1.0f;
      std::vector<float> y = c0;
      gemm::Job j;
      j.M = c.M;
      j.N = c.N;
      j.K = c.K;
      j.a = layout % 2 == 0 ? gemm::Matrix{a.data(), c.K, false} : gemm::Matrix{at.data(), c.M, true};
      j.alpha = alpha;
      gemm::PackedA pa;
      gemm::PackedB pb;
      if (layout == 4) {
        pa = gemm::pack_a(j.a, c.M, c.K, alpha);
        j.a_packed = pa.data.data();
      }
      if (layout == 1)
        j.b = gemm::Matrix{bt.data(), c.K, true};
      else if (layout == 2)
        j.b_source = &bsrc;
      else
        j.b = gemm::Matrix{b.data(), c.N, false};
      if (layout == 5) {
        pb = gemm::pack_b(gemm::Matrix{bt.data(), c.K, true}, c.K, c.N);
        j.b_packed = pb.data.data();
      }
      j.c = y.data();
      j.ldc = c.N;
      j.ep.row_bias = use_row ? rb.data() : nullptr;
      j.ep.col_bias = use_col ? cb.data() : nullptr;
      j.ep.residual = use_res ? res.data() : nullptr;
      j.ep.accumulate = accumulate;
      j.ep.act = act;
      gemm::run_one(j, pool, ws);
      std::vector<float> want(y.size());
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t x = 0; x < c.N; ++x) {
          double v = alpha * ref[i * c.N + x];
          if (accumulate) v += c0[i * c.N + x];
          if (use_row) v += rb[i];
          if (use_col) v += cb[x];
          if (use_res) v += res[i * c.N + x];
          want[i * c.N + x] = act_ref(act, static_cast<float>(v));
        }
      ASSERT_TRUE(all_close(y, want, 1e-4, 1e-4)) << "M=" << c.M << " N=" << c.N << " K=" << c.K
                                                  << " act=" << int(act.kind) << " layout=" << layout
                                                  << " alpha=" << alpha << " residual=" << use_res;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmTest,
                         ::testing::Combine(::testing::Values(GemmCase{1, 1, 1}, GemmCase{1, 1000, 64},
                                                              GemmCase{7, 5, 3}, GemmCase{8, 48, 16},
                                                              GemmCase{9, 49, 300}, GemmCase{64, 196, 257},
                                                              GemmCase{33, 130, 600}, GemmCase{3, 17, 0},
                                                              GemmCase{40, 1, 70}, GemmCase{17, 97, 512},
                                                              // several row chunks, column chunks, K slices
                                                              GemmCase{300, 500, 260}),
                                            ::testing::Values(1, 2)));

TEST(Gemm, TilingCoversWithAlignedBalancedChunksAndEnoughTasks) {
  for (const auto& [M, N, jobs] : std::vector<std::array<int64_t, 3>>{{64, 3136, 1}, {256, 196, 1}, {512, 49, 1},
                                                                    {2048, 49, 1}, {1000, 1, 1}, {1, 1000, 1},
                                                                    {16, 784, 16}, {5, 3, 1}, {64, 12544, 1},
                                                                    {100, 100, 1}})
    for (int threads : {1, 2, 4}) {
      const gemm::Tiling t = gemm::plan_tiling(M, N, 300, jobs, threads);
      const std::string what = std::to_string(M) + "x" + std::to_string(N) + " threads " + std::to_string(threads);
      // Column chunks tile the axis in order, begin on unit boundaries and stay within
      // the budget (the last also takes the remainder). Equal within one unit, or,
      // guided (several threads, one job), never growing along the axis but for the
      // remainder.
      const bool guided = threads > 1 && jobs == 1;
      int64_t next = 0, lo = INT64_MAX, hi = 0, prev = INT64_MAX;
      for (int64_t i = 0; i < t.n_tasks; ++i) {
        const gemm::Chunk c = t.cols(i);
        EXPECT_EQ(c.begin, next) << what;
        EXPECT_EQ(c.begin % gemm::kNR, 0) << what;
        EXPECT_GE(c.size, 1) << what;
        next = c.begin + c.size;
        const int64_t units = std::max<int64_t>(1, c.size / gemm::kNR);
        if (guided) {
          EXPECT_LE(units, prev) << what;
        }
        prev = units;
        if (i + 1 < t.n_tasks) {
          lo = std::min(lo, c.size);
          hi = std::max(hi, c.size);
        }
      }
      EXPECT_EQ(next, N) << what;
      if (t.n_tasks > 2 && !guided) {
        EXPECT_LE(hi - lo, gemm::kNR) << what;
      }
      EXPECT_LE(t.max_cols(), gemm::kMaxCols + gemm::kNR - 1) << what;
      // Tasks take every column chunk once, largest (in panels) first.
      std::vector<int64_t> seen;
      int64_t last_panels = INT64_MAX;
      for (int64_t r = 0; r < t.m_tasks * t.n_tasks; ++r) {
        if (r % t.m_tasks == 0) seen.push_back(t.task_cols(r));
        const int64_t panels = (t.cols(t.task_cols(r)).size + gemm::kNR - 1) / gemm::kNR;
        EXPECT_LE(panels, last_panels) << what;
        last_panels = panels;
      }
      std::sort(seen.begin(), seen.end());
      for (int64_t i = 0; i < t.n_tasks; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i) << what;
      next = 0;
      for (int64_t i = 0; i < t.m_tasks; ++i) {
        const gemm::Chunk c = t.rows(i);
        EXPECT_EQ(c.begin, next) << what;
        EXPECT_EQ(c.begin % gemm::kMR, 0) << what;
        next = c.begin + c.size;
      }
      EXPECT_EQ(next, M) << what;
      EXPECT_LE(t.max_rows(), gemm::kMaxRows + gemm::kMR - 1) << what;
      const int64_t tasks = jobs * t.m_tasks * t.n_tasks;
      if (threads > 1 && N >= 3 * threads * gemm::kNR) {  // columns split
        EXPECT_GE(tasks, 3 * threads) << what;
      }
      if (threads > 1 && (N >= 3 * threads * gemm::kNR || M >= 4 * threads * gemm::kMR)) {   // rows split, once
        EXPECT_GE(tasks, threads) << what;
        if (!guided || t.n_tasks == 1) {
          EXPECT_EQ(tasks % threads, 0) << what;
        }
      }
    }
  // Columns are split before rows, up to three tasks per thread; rows (which pack B
  // once per row chunk) only up to one task per thread: a map of one 48-column unit
  // splits rows in two for two threads.
  const gemm::Tiling wide = gemm::plan_tiling(64, 3136, 576, 1, 2);
  EXPECT_EQ(wide.m_tasks, 1);
  EXPECT_GE(wide.n_tasks, 6);
  const gemm::Tiling narrow = gemm::plan_tiling(512, 49, 4608, 1, 2);
  EXPECT_EQ(narrow.n_tasks, 1);
  EXPECT_EQ(narrow.m_tasks, 2);
  // Guided: the last column chunks are single units.
  const gemm::Tiling guided = gemm::plan_tiling(256, 3136, 2304, 1, 2);
  EXPECT_EQ(guided.cols(guided.n_tasks - 1).size, gemm::kNR + 3136 % gemm::kNR);
  EXPECT_EQ(guided.cols(0).size, gemm::kMaxCols);
}

TEST(Gemm, ResultsAreBitwiseIdenticalAcrossThreadCounts) {
  // Different thread counts cut C into different chunks; no sum may change.
  for (const GemmCase& c : {GemmCase{300, 500, 260}, GemmCase{512, 49, 700}, GemmCase{70, 3136, 147}}) {
    const auto a = random_floats(c.M * c.K, 21);
    const auto b = random_floats(c.K * c.N, 22);
    const auto rb = random_floats(c.M, 23);
    const CopySource bsrc(b.data(), c.N);
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      for (bool source : {false, true}) {
        ThreadPool pool(threads);
        gemm::Workspace ws;
        std::vector<float> y(static_cast<std::size_t>(c.M * c.N));
        gemm::Job j;
        j.M = c.M;
        j.N = c.N;
        j.K = c.K;
        j.a = gemm::Matrix{a.data(), c.K, false};
        if (source)
          j.b_source = &bsrc;
        else
          j.b = gemm::Matrix{b.data(), c.N, false};
        j.c = y.data();
        j.ldc = c.N;
        j.ep.row_bias = rb.data();
        j.ep.act = {ActKind::kRelu};
        gemm::run_one(j, pool, ws);
        if (first.empty())
          first = y;
        else
          ASSERT_TRUE(y == first) << c.M << "x" << c.N << "x" << c.K << " threads " << threads << " source " << source;
      }
    }
  }
}

// In the sanitizer build the SIMD micro-kernels' loops are uninstrumented and check their
// ranges themselves (runtime/gemm.cpp); either way a kernel reading past a packed operand
// must still be reported. A packed A sized for 16 fewer k steps than the job runs.
TEST(Gemm, SanitizerBuildReportsAReadPastAPackedOperand) {
  if (!QSIM_ASAN) GTEST_SKIP() << "only an AddressSanitizer build can see the read";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int64_t M = 16, N = 48, K = 64;
  const auto a = random_floats(M * K, 31);
  const auto b = random_floats(K * N, 32);
  const auto overrun = [&] {
    std::vector<float> packed(static_cast<std::size_t>(gemm::packed_a_floats(M, K - 16)));
    gemm::pack_a(gemm::Matrix{a.data(), K, false}, M, K - 16, 1.0f, packed.data());
    std::vector<float> y(static_cast<std::size_t>(M * N));
    gemm::Job j;
    j.M = M;
    j.N = N;
    j.K = K;
    j.a_packed = packed.data();
    j.b = gemm::Matrix{b.data(), N, false};
    j.c = y.data();
    j.ldc = N;
    ThreadPool pool(1);
    gemm::Workspace ws;
    gemm::run_one(j, pool, ws);
  };
  EXPECT_DEATH(overrun(), "A panel|heap-buffer-overflow");
}

TEST(Gemm, NarrowLastPanelIsBitwiseTheWideKernels) {
  // N's remainder of at most 4 columns goes to a narrow kernel (ymm per row panel and
  // column); widened to 64 columns the same columns run through the 16-column tiles.
  // Every epilogue term is on (bias per row and column, residual, Clip) and K takes
  // two slices, so the tiles also start from C. M = 37 rows are 5 row panels, more than
  // one narrow call takes for any column count (AVX2: 4, 4, 3 or 2 panels for 1-4 columns).
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{49}, int64_t{51}, int64_t{196}}) {
    const int64_t M = 37, K = 300, wide = n + 16;
    const auto a = random_floats(M * K, 31);
    const auto b = random_floats(K * wide, 32);
    const auto rb = random_floats(M, 33);
    const auto cb = random_floats(wide, 34);
    const auto res = random_floats(M * wide, 35);
    auto product = [&](int64_t cols, int threads) {
      std::vector<float> bn(static_cast<std::size_t>(K * cols)), rn(static_cast<std::size_t>(M * cols));
      for (int64_t k = 0; k < K; ++k)
        std::copy_n(b.begin() + k * wide, cols, bn.begin() + k * cols);
      for (int64_t r = 0; r < M; ++r)
        std::copy_n(res.begin() + r * wide, cols, rn.begin() + r * cols);
      ThreadPool pool(threads);
      gemm::Workspace ws;
      std::vector<float> y(static_cast<std::size_t>(M * cols));
      gemm::Job j;
      j.M = M;
      j.N = cols;
      j.K = K;
      j.a = gemm::Matrix{a.data(), K, false};
      j.b = gemm::Matrix{bn.data(), cols, false};
      j.c = y.data();
      j.ldc = cols;
      j.ep.row_bias = rb.data();
      j.ep.col_bias = cb.data();
      j.ep.residual = rn.data();
      j.ep.act = {ActKind::kClip, -0.9f, 0.8f};
      gemm::run_one(j, pool, ws);
      return y;
    };
    for (int threads : {1, 2}) {
      const auto narrow = product(n, threads), widened = product(wide, threads);
      for (int64_t r = 0; r < M; ++r)
        for (int64_t c = 0; c < n; ++c)
          ASSERT_EQ(narrow[static_cast<std::size_t>(r * n + c)], widened[static_cast<std::size_t>(r * wide + c)])
              << "N " << n << " row " << r << " column " << c << " threads " << threads;
    }
  }
}

// ------------------------------------------------------------------ convolution

struct ConvCase {
  Shape x;            // N, C, spatial...
  int64_t cout;
  Shape kernel;       // spatial
  Shape strides, dilations, pads;
  int64_t group;
  ActKind act;
};

// Naive N-d (1 to 3 spatial dims) convolution, independent of Spatial3.
std::vector<float> conv_ref(const ConvCase& c, const Shape& y, std::span<const float> x, std::span<const float> w,
                            std::span<const float> bias) {
  const std::size_t r = c.kernel.size();
  auto dim3 = [&](const Shape& s, std::size_t i, int64_t dflt) {  // spatial dim i of 3, right-aligned
    const std::size_t off = 3 - r;
    return i < off ? dflt : s[i - off];
  };
  int64_t in[3], out[3], k[3], st[3], dl[3], pb[3];
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t off = 3 - r;
    in[i] = i < off ? 1 : c.x[2 + i - off];
    out[i] = i < off ? 1 : y[2 + i - off];
    k[i] = dim3(c.kernel, i, 1);
    st[i] = dim3(c.strides, i, 1);
    dl[i] = dim3(c.dilations, i, 1);
    pb[i] = i < off ? 0 : c.pads[i - off];
  }
  const int64_t N = c.x[0], C = c.x[1], G = c.group, cg = C / G, og = c.cout / G;
  std::vector<float> out_v(static_cast<std::size_t>(shape_numel(y)));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < c.cout; ++o) {
      const int64_t gi = o / og;
      for (int64_t od = 0; od < out[0]; ++od)
        for (int64_t oh = 0; oh < out[1]; ++oh)
          for (int64_t ow = 0; ow < out[2]; ++ow) {
            double s = bias.empty() ? 0.0 : bias[o];
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t kd = 0; kd < k[0]; ++kd)
                for (int64_t kh = 0; kh < k[1]; ++kh)
                  for (int64_t kw = 0; kw < k[2]; ++kw) {
                    const int64_t id = od * st[0] - pb[0] + kd * dl[0];
                    const int64_t ih = oh * st[1] - pb[1] + kh * dl[1];
                    const int64_t iw = ow * st[2] - pb[2] + kw * dl[2];
                    if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2]) continue;
                    const int64_t xc = gi * cg + ci;
                    s += double(x[(((n * C + xc) * in[0] + id) * in[1] + ih) * in[2] + iw]) *
                         w[(((o * cg + ci) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
            out_v[(((n * c.cout + o) * out[0] + od) * out[1] + oh) * out[2] + ow] =
                act_ref({c.act, 0.0f, 6.0f}, static_cast<float>(s));
          }
    }
  return out_v;
}

class ConvTest : public ::testing::TestWithParam<std::tuple<ConvCase, int>> {};

TEST_P(ConvTest, MatchesNaive) {
  const auto [c, threads] = GetParam();
  const std::size_t r = c.kernel.size();
  Shape y{c.x[0], c.cout};
  Shape pads = c.pads.empty() ? Shape(2 * r, 0) : c.pads;
  for (std::size_t i = 0; i < r; ++i) {
    const int64_t s = c.strides.empty() ? 1 : c.strides[i], d = c.dilations.empty() ? 1 : c.dilations[i];
    y.push_back((c.x[2 + i] + pads[i] + pads[r + i] - d * (c.kernel[i] - 1) - 1) / s + 1);
  }
  Shape ws{c.cout, c.x[1] / c.group};
  ws.insert(ws.end(), c.kernel.begin(), c.kernel.end());
  const auto x = random_floats(shape_numel(c.x), 11);
  const auto w = random_floats(shape_numel(ws), 12);
  const auto bias = random_floats(c.cout, 13);
  ConvCase cc = c;
  cc.pads = pads;
  if (cc.strides.empty()) cc.strides = Shape(r, 1);
  if (cc.dilations.empty()) cc.dilations = Shape(r, 1);
  const auto want = conv_ref(cc, y, x, w, bias);
  // With a residual (a fused Add): act(conv + residual).
  ConvCase linear = cc;
  linear.act = ActKind::kNone;
  const auto res = random_floats(shape_numel(y), 14);
  std::vector<float> want_res = conv_ref(linear, y, x, w, bias);
  for (std::size_t i = 0; i < want_res.size(); ++i) want_res[i] = act_ref({c.act, 0.0f, 6.0f}, want_res[i] + res[i]);

  ConvAttrs a;
  a.kernel = c.kernel;
  a.strides = cc.strides;
  a.dilations = cc.dilations;
  a.pads = pads;
  a.group = c.group;
  a.has_bias = true;
  ThreadPool pool(threads);
  gemm::Workspace wsp;
  // Weights given at construction (read in place by run) or only at run time.
  for (bool at_construction : {true, false}) {
    ConvKernel k(c.x, y, ws, at_construction ? w.data() : nullptr, a, {c.act, 0.0f, 6.0f}, threads);
    wsp.reserve(threads, k.workspace_floats());
    std::vector<float> got(static_cast<std::size_t>(shape_numel(y)), -7.0f);
    k.run(x.data(), at_construction ? nullptr : w.data(), bias.data(), got.data(), pool, wsp);
    EXPECT_TRUE(all_close(got, want, 1e-4, 1e-4)) << "x=" << shape_str(c.x) << " weights at construction "
                                                  << at_construction;
    if (!k.supports_residual()) continue;
    k.run(x.data(), at_construction ? nullptr : w.data(), bias.data(), got.data(), pool, wsp, res.data());
    EXPECT_TRUE(all_close(got, want_res, 1e-4, 1e-4)) << "x=" << shape_str(c.x) << " with a residual";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConvTest,
    ::testing::Combine(
        ::testing::Values(
            ConvCase{{1, 3, 10, 11}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kNone},
            ConvCase{{2, 4, 9, 9}, 6, {3, 2}, {2, 1}, {1, 2}, {0, 1, 2, 0}, 2, ActKind::kRelu},
            ConvCase{{1, 16, 7, 7}, 32, {1, 1}, {}, {}, {}, 1, ActKind::kClip},      // 1x1: X is the matrix
            ConvCase{{1, 16, 8, 8}, 24, {1, 1}, {2, 2}, {}, {}, 1, ActKind::kNone},  // strided 1x1
            ConvCase{{2, 8, 12, 10}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 8, ActKind::kRelu},  // depthwise
            ConvCase{{1, 6, 11, 11}, 6, {5, 5}, {2, 2}, {2, 2}, {4, 3, 2, 4}, 6, ActKind::kNone},  // depthwise, dil
            // Depthwise read in place: stride 2 on odd and wide rows, 5x5, asymmetric pads.
            ConvCase{{1, 5, 9, 37}, 5, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 5, ActKind::kClip},
            ConvCase{{2, 3, 12, 20}, 3, {5, 5}, {1, 1}, {1, 1}, {2, 1, 1, 2}, 3, ActKind::kRelu},
            ConvCase{{1, 4, 7, 7}, 4, {3, 3}, {2, 1}, {1, 1}, {0, 1, 1, 0}, 4, ActKind::kNone},
            ConvCase{{1, 3, 37}, 5, {4}, {3}, {1}, {2, 1}, 1, ActKind::kNone},                      // 1-D
            ConvCase{{2, 2, 5, 6, 7}, 4, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 1, 1, 0}, 2,
                     ActKind::kNone},                                                            // 3-D grouped
            ConvCase{{1, 64, 14, 14}, 70, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kNone},  // K > kKC
            ConvCase{{1, 1, 28, 28}, 32, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, 1, ActKind::kRelu},
            ConvCase{{1, 3, 6, 40}, 10, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kNone},
            ConvCase{{2, 2, 9, 70}, 5, {3, 3}, {2, 2}, {1, 2}, {1, 2, 0, 1}, 1, ActKind::kRelu},
            ConvCase{{1, 2, 3, 4, 40}, 3, {2, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1, 1, 0, 1}, 1, ActKind::kNone},
            // Every kind of im2col load: one stride-2 run per vector (32-pixel output rows),
            // two runs straddling output rows (28), gathers (7-pixel rows; stride 3).
            ConvCase{{1, 3, 64, 64}, 16, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, 1, ActKind::kRelu},
            ConvCase{{1, 8, 56, 56}, 16, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kClip},
            ConvCase{{1, 8, 56, 56}, 16, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1, ActKind::kNone},
            ConvCase{{1, 16, 14, 14}, 24, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kNone},
            ConvCase{{1, 4, 20, 23}, 8, {3, 3}, {3, 3}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kNone},
            // Several column chunks and K slices.
            ConvCase{{1, 20, 24, 40}, 20, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, ActKind::kRelu},
            ConvCase{{2, 24, 20, 20}, 40, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 2, ActKind::kNone},
            ConvCase{{1, 300, 20, 20}, 20, {1, 1}, {}, {}, {}, 1, ActKind::kRelu}),  // 1x1, K > kKC
        ::testing::Values(1, 2)));

// ------------------------------------------------------------------ pools

struct PoolRef {
  Shape x, y;
  Shape kernel, strides, dilations, pads;
};

// Output extent per ONNX (ceil_mode drops a window that would start in the end padding).
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode) {
  const double v = static_cast<double>(in + pb + pe - d * (k - 1) - 1) / static_cast<double>(s) + 1;
  int64_t o = ceil_mode ? static_cast<int64_t>(std::ceil(v)) : static_cast<int64_t>(std::floor(v));
  if (ceil_mode && (o - 1) * s >= in + pb) --o;
  return o;
}

TEST(Pools, MaxAndAverageMatchNaive2D) {
  struct Case {
    Shape x;
    Shape k, s, d, pads;
    bool ceil;
  };
  const Case cases[] = {
      {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, false},
      {{2, 3, 8, 9}, {2, 3}, {2, 2}, {1, 1}, {0, 0, 0, 0}, true},
      {{1, 1, 10, 10}, {3, 3}, {1, 2}, {2, 2}, {1, 0, 2, 1}, true},
      {{1, 4, 5, 6}, {5, 6}, {1, 1}, {1, 1}, {2, 2, 2, 2}, false},
      {{2, 3, 12, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, false},  // resnet's stem pool
      {{1, 2, 7, 7}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, true},     // ceil: a window past the edge
  };
  ThreadPool pool(2);
  for (const Case& c : cases) {
    Shape y{c.x[0], c.x[1]};
    for (int i = 0; i < 2; ++i)
      y.push_back(pool_out(c.x[2 + i], c.k[i], c.s[i], c.d[i], c.pads[i], c.pads[2 + i], c.ceil));
    const auto x = random_floats(shape_numel(c.x), 21);
    const auto g = kernels::make_spatial3(c.x, y, c.k, c.s, c.d, c.pads);
    const int64_t n = shape_numel(y);
    std::vector<float> ymax(n), yavg0(n), yavg1(n);
    std::vector<int64_t> idx0(n), idx1(n);
    std::vector<float> ymax_no_idx(n);
    kernels::max_pool(g, x.data(), ymax_no_idx.data(), nullptr, 0, pool);  // the path without Indices
    kernels::max_pool(g, x.data(), ymax.data(), idx0.data(), 0, pool);
    kernels::max_pool(g, x.data(), ymax.data(), idx1.data(), 1, pool);
    EXPECT_EQ(ymax_no_idx, ymax);
    kernels::avg_pool(g, false, x.data(), yavg0.data(), pool);
    kernels::avg_pool(g, true, x.data(), yavg1.data(), pool);
    const int64_t H = c.x[2], W = c.x[3];
    for (int64_t p = 0; p < c.x[0] * c.x[1]; ++p)
      for (int64_t oh = 0; oh < y[2]; ++oh)
        for (int64_t ow = 0; ow < y[3]; ++ow) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t bi = -1, bj = -1, valid = 0, padded = 0;
          double sum = 0;
          for (int64_t kh = 0; kh < c.k[0]; ++kh)
            for (int64_t kw = 0; kw < c.k[1]; ++kw) {
              const int64_t ih = oh * c.s[0] - c.pads[0] + kh * c.d[0];
              const int64_t iw = ow * c.s[1] - c.pads[1] + kw * c.d[1];
              if (ih >= -c.pads[0] && ih < H + c.pads[2] && iw >= -c.pads[1] && iw < W + c.pads[3]) ++padded;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const float v = x[(p * H + ih) * W + iw];
              ++valid;
              sum += v;
              if (v > best) {
                best = v;
                bi = ih;
                bj = iw;
              }
            }
          const int64_t o = (p * y[2] + oh) * y[3] + ow;
          ASSERT_EQ(ymax[o], best);
          ASSERT_EQ(idx0[o], p * H * W + bi * W + bj);
          ASSERT_EQ(idx1[o], p * H * W + bi + bj * H);
          ASSERT_NEAR(yavg0[o], sum / valid, 1e-5);
          ASSERT_NEAR(yavg1[o], sum / padded, 1e-5);
        }
  }
}

TEST(Pools, OneAndThreeDimensionalAndGlobal) {
  ThreadPool pool(1);
  // 1-D max pool: kernel 3, stride 2 over 9 values.
  const std::vector<float> x1{1, 5, 2, 8, 3, 0, 9, 4, 7};
  const auto g1 = kernels::make_spatial3({1, 1, 9}, {1, 1, 4}, Shape{3}, Shape{2}, Shape{1}, Shape{0, 0});
  std::vector<float> y1(4);
  kernels::max_pool(g1, x1.data(), y1.data(), nullptr, 0, pool);
  EXPECT_EQ(y1, (std::vector<float>{5, 8, 9, 9}));
  // 3-D average over a 2x2x2 cube = mean of everything.
  std::vector<float> x3(8);
  std::iota(x3.begin(), x3.end(), 0.0f);
  const auto g3 = kernels::make_spatial3({1, 1, 2, 2, 2}, {1, 1, 1, 1, 1}, Shape{2, 2, 2}, Shape{1, 1, 1},
                                         Shape{1, 1, 1}, Shape{0, 0, 0, 0, 0, 0});
  float y3 = 0;
  kernels::avg_pool(g3, false, x3.data(), &y3, pool);
  EXPECT_FLOAT_EQ(y3, 3.5f);
  float gap[2];
  const std::vector<float> xg{1, 2, 3, 4, 10, 20, 30, 40};
  kernels::global_avg_pool(2, 4, xg.data(), gap, pool);
  EXPECT_FLOAT_EQ(gap[0], 2.5f);
  EXPECT_FLOAT_EQ(gap[1], 25.0f);
  // uint8 max pool.
  const std::vector<uint8_t> xu{3, 250, 7, 9};
  uint8_t yu = 0;
  kernels::max_pool(kernels::make_spatial3({1, 1, 2, 2}, {1, 1, 1, 1}, Shape{2, 2}, Shape{1, 1}, Shape{1, 1},
                                           Shape{0, 0, 0, 0}),
                    xu.data(), &yu, nullptr, 0, pool);
  EXPECT_EQ(yu, 250);
}

// ------------------------------------------------------------------ broadcasting and data movement

TEST(Elementwise, BroadcastMatchesNaive) {
  struct Case {
    Shape a, b, y;
  };
  const Case cases[] = {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}, {2, 3, 4}},
                        {{2, 1, 4}, {3, 1}, {2, 3, 4}},    {{1, 8, 5, 5}, {1, 8, 1, 1}, {1, 8, 5, 5}},
                        {{}, {3, 2}, {3, 2}},              {{5, 1, 1, 3}, {1, 4, 2, 1}, {5, 4, 2, 3}}};
  ThreadPool pool(2);
  for (const Case& c : cases) {
    const auto a = random_floats(shape_numel(c.a), 1), b = random_floats(shape_numel(c.b), 2);
    const int64_t n = shape_numel(c.y);
    std::vector<float> add(n), mul(n), want_add(n), want_mul(n);
    kernels::binary(kernels::BinaryOp::kAdd, DType::kFloat32, a.data(), c.a, b.data(), c.b, add.data(), c.y, pool);
    kernels::binary(kernels::BinaryOp::kMul, DType::kFloat32, a.data(), c.a, b.data(), c.b, mul.data(), c.y, pool);
    auto offset = [&](const Shape& s, int64_t flat) {  // numpy broadcasting by hand
      int64_t off = 0, stride = 1;
      for (int i = static_cast<int>(c.y.size()) - 1; i >= 0; --i) {
        const int64_t idx = flat % c.y[i];
        flat /= c.y[i];
        const int si = i - static_cast<int>(c.y.size() - s.size());
        if (si < 0) continue;
        if (s[si] != 1) off += idx * stride;
        stride *= s[si];
      }
      return off;
    };
    for (int64_t i = 0; i < n; ++i) {
      want_add[i] = a[offset(c.a, i)] + b[offset(c.b, i)];
      want_mul[i] = a[offset(c.a, i)] * b[offset(c.b, i)];
    }
    EXPECT_EQ(add, want_add) << shape_str(c.a) << " + " << shape_str(c.b);
    EXPECT_EQ(mul, want_mul) << shape_str(c.a) << " * " << shape_str(c.b);
  }
  // uint8 wraps like numpy.
  const std::vector<uint8_t> ua{200, 100}, ub{100, 3};
  std::vector<uint8_t> uy(2);
  kernels::binary(kernels::BinaryOp::kAdd, DType::kUInt8, ua.data(), {2}, ub.data(), {2}, uy.data(), {2}, pool);
  EXPECT_EQ(uy, (std::vector<uint8_t>{44, 103}));
}

TEST(DataMovement, TransposeEveryPermutationOf4D) {
  const Shape s{2, 3, 4, 5};
  std::vector<float> x(120);
  std::iota(x.begin(), x.end(), 0.0f);
  std::array<int64_t, 4> perm{0, 1, 2, 3};
  ThreadPool pool(2);
  do {
    Shape ys(4);
    for (int i = 0; i < 4; ++i) ys[i] = s[perm[i]];
    std::vector<float> y(120);
    kernels::transpose(x.data(), y.data(), 4, s, perm, pool);
    for (int64_t o = 0; o < 120; ++o) {
      int64_t rem = o, idx[4];
      for (int i = 3; i >= 0; --i) {
        idx[i] = rem % ys[i];
        rem /= ys[i];
      }
      int64_t in_idx[4];
      for (int i = 0; i < 4; ++i) in_idx[perm[i]] = idx[i];
      const int64_t src = ((in_idx[0] * 3 + in_idx[1]) * 4 + in_idx[2]) * 5 + in_idx[3];
      ASSERT_EQ(y[o], x[src]);
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(DataMovement, ConcatAndPadModes) {
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6};
  std::vector<float> y(6);
  const void* xs[] = {a.data(), b.data()};
  const Shape shapes[] = {{2, 2}, {2, 1}};
  kernels::concat(xs, shapes, 1, 4, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 5, 3, 4, 6}));

  // 1 x 4 row [1 2 3 4]: pads (axis0: 0,0; axis1: 2 before, 3 after).
  const std::vector<float> row{1, 2, 3, 4};
  const std::vector<int64_t> pads{0, 2, 0, 3};
  std::vector<float> out(9);
  kernels::pad(DType::kFloat32, row.data(), {1, 4}, out.data(), {1, 9}, pads, PadMode::kConstant, 7.0);
  EXPECT_EQ(out, (std::vector<float>{7, 7, 1, 2, 3, 4, 7, 7, 7}));
  kernels::pad(DType::kFloat32, row.data(), {1, 4}, out.data(), {1, 9}, pads, PadMode::kReflect, 0.0);
  EXPECT_EQ(out, (std::vector<float>{3, 2, 1, 2, 3, 4, 3, 2, 1}));
  kernels::pad(DType::kFloat32, row.data(), {1, 4}, out.data(), {1, 9}, pads, PadMode::kEdge, 0.0);
  EXPECT_EQ(out, (std::vector<float>{1, 1, 1, 2, 3, 4, 4, 4, 4}));
  // Negative pads crop; padding along the outer axis fills whole rows.
  const std::vector<int64_t> crop{1, -1, 0, -1};
  std::vector<float> cropped(4);
  kernels::pad(DType::kFloat32, row.data(), {1, 4}, cropped.data(), {2, 2}, crop, PadMode::kConstant, 9.0);
  EXPECT_EQ(cropped, (std::vector<float>{9, 9, 2, 3}));
}

TEST(Normalisations, SoftmaxBothSemanticsAndLrn) {
  const Shape s{2, 3, 4};
  const auto x = random_floats(24, 5, -3.0f, 3.0f);
  std::vector<float> y13(24), legacy(24);
  ThreadPool pool(2);
  kernels::softmax(x.data(), y13.data(), s, 1, false, pool);
  kernels::softmax(x.data(), legacy.data(), s, 1, true, pool);
  for (int n = 0; n < 2; ++n) {
    double total = 0;  // legacy: one softmax over the 12 values of each n
    for (int i = 0; i < 12; ++i) total += std::exp(x[n * 12 + i]);
    for (int i = 0; i < 12; ++i) EXPECT_NEAR(legacy[n * 12 + i], std::exp(x[n * 12 + i]) / total, 1e-6);
    for (int w = 0; w < 4; ++w) {  // opset 13: over the 3 values along axis 1
      double t = 0;
      for (int c = 0; c < 3; ++c) t += std::exp(x[(n * 3 + c) * 4 + w]);
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(y13[(n * 3 + c) * 4 + w], std::exp(x[(n * 3 + c) * 4 + w]) / t, 1e-6);
    }
  }
  LRNAttrs a;
  a.alpha = 2e-4f;
  a.beta = 0.75f;
  a.bias = 1.5f;
  a.size = 4;
  const auto xl = random_floats(2 * 6 * 3, 9, -2.0f, 2.0f);
  std::vector<float> yl(xl.size());
  kernels::lrn(xl.data(), yl.data(), 2, 6, 3, a, pool);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 6; ++c)
      for (int i = 0; i < 3; ++i) {
        double sq = 0;
        for (int cc = std::max(0, c - 1); cc <= std::min(5, c + 2); ++cc) sq += std::pow(xl[(n * 6 + cc) * 3 + i], 2);
        const double want = xl[(n * 6 + c) * 3 + i] / std::pow(1.5 + 2e-4 / 4 * sq, 0.75);
        EXPECT_NEAR(yl[(n * 6 + c) * 3 + i], want, 1e-6);
      }
}

TEST(Activations, IntegerClipAndRelu) {
  ThreadPool pool(1);
  const std::vector<int8_t> x{-100, -5, 0, 5, 100};
  std::vector<int8_t> y(5);
  const float inf = std::numeric_limits<float>::infinity();
  kernels::activation({ActKind::kClip, -10.0f, inf}, DType::kInt8, x.data(), y.data(), 5, pool);
  EXPECT_EQ(y, (std::vector<int8_t>{-10, -5, 0, 5, 100}));
  kernels::activation({ActKind::kRelu}, DType::kInt8, x.data(), y.data(), 5, pool);
  EXPECT_EQ(y, (std::vector<int8_t>{0, 0, 0, 5, 100}));
}

}  // namespace
}  // namespace qsim
