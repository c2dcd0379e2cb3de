// The executor's GEMM (runtime/gemm.h: Eigen products, tiled and threaded by us) against
// one plain Eigen product of the whole matrices and OpenBLAS's cblas_sgemm
// (single-threaded, with whatever OPENBLAS_CORETYPE the environment sets), on the
// convolution shapes of torchvision resnet50 at 224x224 (C = W * im2col(X):
// M = output channels, N = output pixels, K = Cin * kh * kw). Reports GFLOP/s.
//   BM_ExecutorGemm/shape/threads/0: B read in place (a 1x1 convolution's input)
//   BM_ExecutorGemm/shape/threads/1: B filled slice by slice into the workspace by a
//                                    BlockSource first (what im2col costs on top)
// Run: build/bench/executor_gemm_bench
#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace {

struct Shape {
  int64_t M, N, K;
};
// Representative resnet50 layers: conv1 (im2col), layer1..4 3x3 and 1x1 convolutions.
const Shape kShapes[] = {{64, 12544, 147}, {64, 3136, 576}, {256, 3136, 64}, {128, 784, 1152},
                         {512, 784, 128},  {256, 196, 2304}, {1024, 196, 256}, {512, 49, 4608},
                         {2048, 49, 512}};

std::vector<float> random_vec(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

// B through the workspace, as a convolution's im2col matrix: rows copied from a K x N matrix.
class CopySource final : public qsim::gemm::BlockSource {
 public:
  CopySource(const float* b, int64_t n) : b_(b), n_(n) {}
  void fill(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) const override {
    for (int64_t k = 0; k < kc; ++k) std::copy_n(b_ + (k0 + k) * n_ + n0, nc, dst + k * ld);
  }

 private:
  const float* b_;
  int64_t n_;
};

void BM_ExecutorGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  const auto a = random_vec(s.M * s.K, 1);
  const auto b = random_vec(s.K * s.N, 2);
  std::vector<float> c(static_cast<std::size_t>(s.M * s.N));
  const CopySource bsrc(b.data(), s.N);
  qsim::ThreadPool pool(threads);
  qsim::gemm::Workspace ws;
  qsim::gemm::Job job;
  job.M = s.M;
  job.N = s.N;
  job.K = s.K;
  job.a = qsim::gemm::Matrix{a.data(), s.K, false};
  if (st.range(2))
    job.b_source = &bsrc;
  else
    job.b = qsim::gemm::Matrix{b.data(), s.N, false};
  job.c = c.data();
  job.ldc = s.N;
  const qsim::gemm::Tiling t = qsim::gemm::plan_tiling(s.M, s.N, s.K, 1, threads);
  ws.reserve(threads, qsim::gemm::workspace_floats(job, t));
  for (auto _ : st) {
    qsim::gemm::run(std::span<const qsim::gemm::Job>(&job, 1), t, pool, ws);
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOPs"] = benchmark::Counter(2.0 * static_cast<double>(s.M * s.N * s.K),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void BM_EigenGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Mat a = Mat::Random(s.M, s.K), b = Mat::Random(s.K, s.N), c(s.M, s.N);
  for (auto _ : st) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOPs"] = benchmark::Counter(2.0 * static_cast<double>(s.M * s.N * s.K),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void BM_OpenBlasGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  openblas_set_num_threads(1);
  const auto a = random_vec(s.M * s.K, 1);
  const auto b = random_vec(s.K * s.N, 2);
  std::vector<float> c(static_cast<std::size_t>(s.M * s.N));
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.M), static_cast<int>(s.N),
                static_cast<int>(s.K), 1.0f, a.data(), static_cast<int>(s.K), b.data(), static_cast<int>(s.N), 0.0f,
                c.data(), static_cast<int>(s.N));
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOPs"] = benchmark::Counter(2.0 * static_cast<double>(s.M * s.N * s.K),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void shape_args(benchmark::internal::Benchmark* b, bool executor) {
  for (int i = 0; i < static_cast<int>(std::size(kShapes)); ++i) {
    if (executor) {
      for (int threads : {1, 2})
        for (int source : {0, 1}) b->Args({i, threads, source});
    } else {
      b->Args({i});
    }
  }
}

}  // namespace

BENCHMARK(BM_ExecutorGemm)->Apply([](auto* b) { shape_args(b, true); })->UseRealTime();
BENCHMARK(BM_EigenGemm)->Apply([](auto* b) { shape_args(b, false); })->UseRealTime();
BENCHMARK(BM_OpenBlasGemm)->Apply([](auto* b) { shape_args(b, false); })->UseRealTime();
BENCHMARK_MAIN();
