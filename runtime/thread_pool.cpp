#include "runtime/thread_pool.h"

#include <chrono>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qsim {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long an idle worker (or a waiting caller) spins before sleeping. Long
// enough to bridge the gap between two kernels of one inference, short enough
// not to steal a core from other processes when the pool is idle.
constexpr auto kSpin = std::chrono::microseconds(50);

template <typename Pred>
bool spin_until(Pred&& ready) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - start > kSpin) return ready();
  }
}

}  // namespace

int ThreadPool::hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  size_ = threads <= 0 ? hardware_threads() : threads;
  threads_.reserve(static_cast<std::size_t>(size_ - 1));
  for (int w = 1; w < size_; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::take_tasks(uint32_t tag, Trampoline call, void* ctx, int64_t n, int worker) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    do {
      if (static_cast<uint32_t>(c >> 32) != tag || static_cast<int64_t>(c & 0xffffffffu) >= n) return;
    } while (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel));
    call(ctx, static_cast<int64_t>(c & 0xffffffffu), worker);
    if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
      std::lock_guard lock(mutex_);
      done_.notify_all();
    }
  }
}

void ThreadPool::run(int64_t n, Trampoline call, void* ctx) {
  if (n >= (int64_t{1} << 32)) throw std::length_error("ThreadPool: more than 2^32 tasks");
  uint32_t tag;
  {
    std::lock_guard lock(mutex_);
    call_ = call;
    ctx_ = ctx;
    tasks_ = n;
    finished_.store(0, std::memory_order_relaxed);
    tag = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
    claim_.store(static_cast<uint64_t>(tag) << 32, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  take_tasks(tag, call, ctx, n, 0);
  auto all_done = [&] { return finished_.load(std::memory_order_acquire) == n; };
  if (!spin_until(all_done)) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, all_done);
  }
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    Trampoline call;
    void* ctx;
    int64_t n;
    {
      std::lock_guard lock(mutex_);  // a consistent snapshot of the newest job
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      call = call_;
      ctx = ctx_;
      n = tasks_;
    }
    take_tasks(static_cast<uint32_t>(seen), call, ctx, n, worker);
  }
}

}  // namespace qsim
