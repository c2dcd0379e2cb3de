// ThreadPool — a small persistent pool for the executor's kernels.
//
// One parallel_for at a time: the calling thread takes part as worker 0, the
// pool's threads are workers 1..size()-1. Tasks are handed out through one
// atomic counter, so uneven tasks balance themselves, and a worker that is slow
// to wake (another process has its core) simply finds the work already done. Idle workers spin for a
// few microseconds (inference issues many short parallel sections back to back)
// and then sleep on a condition variable, so an idle pool costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace qsim {

class ThreadPool {
 public:
  // `threads` workers in total, the caller included; 0 means one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Runs fn(task, worker) for every task in [0, n) and returns when all are done.
  // `worker` is in [0, size()): index per-worker scratch with it. Not reentrant.
  // If tasks throw, the remaining tasks still run and the first exception is
  // rethrown here, on the calling thread.
  template <typename F>
  void parallel_for(int64_t n, F&& fn) {
    if (n <= 0) return;
    if (size_ == 1 || n == 1) {
      for (int64_t i = 0; i < n; ++i) fn(i, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    struct Ctx {
      Fn* fn;
      std::mutex m;
      std::exception_ptr error;
    } ctx{&fn, {}, nullptr};
    run(n,
        [](void* c, int64_t task, int worker) {
          auto* x = static_cast<Ctx*>(c);
          try {
            (*x->fn)(task, worker);
          } catch (...) {
            std::lock_guard lock(x->m);
            if (!x->error) x->error = std::current_exception();
          }
        },
        &ctx);
    if (ctx.error) std::rethrow_exception(ctx.error);
  }

  // Runs f(begin, end) over [0, n) in chunks of about kParallelGrain work units
  // (`cost_per_item` each), at most 4 per worker: a task claims work through one
  // atomic shared by the workers, so tiny tasks spend their time on it. Work below
  // one grain runs on the calling thread. f may take the worker too, f(begin, end,
  // worker), to index per-worker scratch.
  static constexpr int64_t kParallelGrain = 1 << 15;
  template <typename F>
  void parallel_range(int64_t n, int64_t cost_per_item, F&& f) {
    if (n <= 0) return;
    const int64_t total = n * (cost_per_item > 1 ? cost_per_item : 1);
    int64_t chunks = total / kParallelGrain + 1;
    if (chunks > n) chunks = n;
    if (chunks > 4 * int64_t{size_}) chunks = 4 * int64_t{size_};
    constexpr bool with_worker = std::is_invocable_v<F&, int64_t, int64_t, int>;
    const auto call = [&f](int64_t b, int64_t e, int worker) {
      if constexpr (with_worker)
        f(b, e, worker);
      else
        f(b, e);
    };
    if (chunks <= 1 || size_ == 1) {
      call(int64_t{0}, n, 0);
      return;
    }
    parallel_for(chunks, [&](int64_t c, int worker) {
      const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
      if (b < e) call(b, e, worker);
    });
  }

  static int hardware_threads();

 private:
  using Trampoline = void (*)(void*, int64_t, int);
  void run(int64_t n, Trampoline call, void* ctx);
  void worker_loop(int worker);
  // Claims and runs tasks of job `tag` until none is left (or a newer job began).
  void take_tasks(uint32_t tag, Trampoline call, void* ctx, int64_t n, int worker);

  int size_ = 1;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> generation_{0};  // bumped per job; workers wait for a change
  bool stop_ = false;
  // The current job (written under mutex_ before generation_ is bumped).
  Trampoline call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t tasks_ = 0;
  // Task claims carry the job's tag in the high 32 bits, so a worker that wakes
  // late, after its job was finished by the others, claims nothing of a newer
  // job. The caller waits for finished tasks, never for idle workers.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> finished_{0};
};

}  // namespace qsim
