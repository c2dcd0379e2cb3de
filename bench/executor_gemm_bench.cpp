// The executor's GEMM (runtime/gemm.h: packed panels, our AVX-512 micro-kernel, tiled and
// threaded by us) against one plain Eigen product of the whole matrices and OpenBLAS's
// cblas_sgemm (single-threaded, with whatever OPENBLAS_CORETYPE the environment sets),
// on the convolution shapes of torchvision resnet50 at 224x224 (C = W * im2col(X):
// M = output channels, N = output pixels, K = Cin * kh * kw). Reports GFLOP/s: the
// mean over iterations (GFLOPs) and the fastest iteration (GFLOPs_best, the figure to
// read on a shared machine: another process taking the core only slows some iterations).
//   BM_ExecutorGemm/shape/threads/0: A packed once (weights), B packed per task from a
//                                    plain matrix (a 1x1 convolution's input)
//   BM_ExecutorGemm/shape/threads/1: B packed by a PanelSource copying from the matrix
//                                    (the packing interface im2col uses)
//   BM_ExecutorGemm/shape/threads/2: B packed beforehand too (the products alone)
//   BM_Conv/layer/threads:           the executor's whole convolution (runtime/conv.h: im2col
//                                    packing from the input, bias, Relu) on resnet50's layers
// Run: build/bench/executor_gemm_bench
#include <algorithm>
#include <chrono>
#include <random>
#include <span>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "runtime/conv.h"
#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace {

struct Shape {
  int64_t M, N, K;
};
// Representative resnet50 layers: conv1 (im2col), layer1..4 3x3 and 1x1 convolutions.
const Shape kShapes[] = {{64, 12544, 147}, {64, 3136, 576}, {256, 3136, 64}, {128, 784, 1152},
                         {512, 784, 128},  {256, 196, 2304}, {1024, 196, 256}, {512, 49, 4608},
                         {2048, 49, 512}, {512, 784, 4608}};

std::vector<float> random_vec(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

// B through a PanelSource, as a convolution's im2col matrix: panels copied from a K x N matrix.
class CopySource final : public qsim::gemm::PanelSource {
 public:
  CopySource(const float* b, int64_t n) : b_(b), n_(n) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const override {
    for (int64_t k = 0; k < kc; ++k) {
      std::copy_n(b_ + (k0 + k) * n_ + n0, nc, dst + k * qsim::gemm::kNR);
      std::fill(dst + k * qsim::gemm::kNR + nc, dst + (k + 1) * qsim::gemm::kNR, 0.0f);
    }
  }

 private:
  const float* b_;
  int64_t n_;
};

// Times one iteration of f; keeps the fastest.
template <typename F>
void timed(double& best, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void set_counters(benchmark::State& st, const Shape& s, double best) {
  const double flops = 2.0 * static_cast<double>(s.M * s.N * s.K);
  st.counters["GFLOPs"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GFLOPs_best"] = flops / best * 1e-9;
}

void BM_ExecutorGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  const auto a = random_vec(s.M * s.K, 1);
  const auto b = random_vec(s.K * s.N, 2);
  std::vector<float> c(static_cast<std::size_t>(s.M * s.N));
  const CopySource bsrc(b.data(), s.N);
  qsim::ThreadPool pool(threads);
  qsim::gemm::Workspace ws;
  const qsim::gemm::PackedA pa = qsim::gemm::pack_a(qsim::gemm::Matrix{a.data(), s.K, false}, s.M, s.K);
  qsim::gemm::Job job;
  job.M = s.M;
  job.N = s.N;
  job.K = s.K;
  job.a_packed = pa.data.data();
  qsim::gemm::PackedB pb;
  if (st.range(2) == 1) {
    job.b_source = &bsrc;
  } else if (st.range(2) == 2) {
    pb = qsim::gemm::pack_b(qsim::gemm::Matrix{b.data(), s.N, false}, s.K, s.N);
    job.b_packed = pb.data.data();
  } else {
    job.b = qsim::gemm::Matrix{b.data(), s.N, false};
  }
  job.c = c.data();
  job.ldc = s.N;
  const qsim::gemm::Tiling t = qsim::gemm::plan_tiling(s.M, s.N, s.K, 1, threads);
  ws.reserve(threads, qsim::gemm::workspace_floats(job, t));
  double best = 1e30;
  for (auto _ : st) {
    timed(best, [&] { qsim::gemm::run(std::span<const qsim::gemm::Job>(&job, 1), t, pool, ws); });
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(st, s, best);
}

// resnet50 convolutions: Cin, H (= W), Cout, kernel, stride (pad kernel / 2).
struct ConvShape {
  int64_t cin, hw, cout, k, stride;
};
const ConvShape kConvs[] = {{3, 224, 64, 7, 2},   {64, 56, 64, 3, 1},   {64, 56, 256, 1, 1},   {128, 56, 128, 3, 2},
                            {128, 28, 128, 3, 1}, {256, 56, 512, 1, 2}, {256, 14, 256, 3, 1},  {256, 14, 1024, 1, 1},
                            {512, 7, 512, 3, 1},  {512, 7, 2048, 1, 1}};

void BM_Conv(benchmark::State& st) {
  const ConvShape cs = kConvs[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  const int64_t out = (cs.hw + 2 * (cs.k / 2) - cs.k) / cs.stride + 1;
  const qsim::Shape xs{1, cs.cin, cs.hw, cs.hw}, ys{1, cs.cout, out, out}, wsh{cs.cout, cs.cin, cs.k, cs.k};
  const auto x = random_vec(cs.cin * cs.hw * cs.hw, 1);
  const auto w = random_vec(cs.cout * cs.cin * cs.k * cs.k, 2);
  const auto bias = random_vec(cs.cout, 3);
  std::vector<float> y(static_cast<std::size_t>(cs.cout * out * out));
  qsim::ConvAttrs a;
  a.kernel = {cs.k, cs.k};
  a.strides = {cs.stride, cs.stride};
  a.dilations = {1, 1};
  a.pads = {cs.k / 2, cs.k / 2, cs.k / 2, cs.k / 2};
  a.has_bias = true;
  qsim::ThreadPool pool(threads);
  qsim::ConvKernel conv(xs, ys, wsh, w.data(), a, {qsim::ActKind::kRelu}, threads);
  qsim::gemm::Workspace ws;
  ws.reserve(threads, conv.workspace_floats());
  double best = 1e30;
  for (auto _ : st) {
    timed(best, [&] { conv.run(x.data(), nullptr, bias.data(), y.data(), pool, ws); });
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(st, Shape{cs.cout, out * out, cs.cin * cs.k * cs.k}, best);
}

void BM_EigenGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Mat a = Mat::Random(s.M, s.K), b = Mat::Random(s.K, s.N), c(s.M, s.N);
  double best = 1e30;
  for (auto _ : st) {
    timed(best, [&] { c.noalias() = a * b; });
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(st, s, best);
}

void BM_OpenBlasGemm(benchmark::State& st) {
  const Shape s = kShapes[st.range(0)];
  openblas_set_num_threads(1);
  const auto a = random_vec(s.M * s.K, 1);
  const auto b = random_vec(s.K * s.N, 2);
  std::vector<float> c(static_cast<std::size_t>(s.M * s.N));
  double best = 1e30;
  for (auto _ : st) {
    timed(best, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.M), static_cast<int>(s.N),
                  static_cast<int>(s.K), 1.0f, a.data(), static_cast<int>(s.K), b.data(), static_cast<int>(s.N), 0.0f,
                  c.data(), static_cast<int>(s.N));
    });
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(st, s, best);
}

void shape_args(benchmark::internal::Benchmark* b, bool executor) {
  for (int i = 0; i < static_cast<int>(std::size(kShapes)); ++i) {
    if (executor) {
      for (int threads : {1, 2})
        for (int source : {0, 1, 2}) b->Args({i, threads, source});
    } else {
      b->Args({i});
    }
  }
}

}  // namespace

BENCHMARK(BM_ExecutorGemm)->Apply([](auto* b) { shape_args(b, true); })->UseRealTime();
BENCHMARK(BM_Conv)->ArgsProduct({benchmark::CreateDenseRange(0, std::size(kConvs) - 1, 1), {1, 2}})->UseRealTime();
BENCHMARK(BM_EigenGemm)->Apply([](auto* b) { shape_args(b, false); })->UseRealTime();
BENCHMARK(BM_OpenBlasGemm)->Apply([](auto* b) { shape_args(b, false); })->UseRealTime();
BENCHMARK_MAIN();
