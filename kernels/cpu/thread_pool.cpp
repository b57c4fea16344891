#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace glassbox::kernels::cpu {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

template <class Done>
bool ThreadPool::spin_until(const Done& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (int i = 1;; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
  }
}

namespace {
// Chunk c of n items split into `chunks` near-equal contiguous parts.
std::pair<int64_t, int64_t> chunk_range(int64_t n, int chunks, int c) {
  const int64_t base = n / chunks, extra = n % chunks;
  const int64_t begin = c * base + std::min<int64_t>(c, extra);
  return {begin, begin + base + (c < extra ? 1 : 0)};
}
}  // namespace

void ThreadPool::parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t by_size = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
  const int chunks = static_cast<int>(std::min<int64_t>(size(), by_size));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &fn;
  job_n_ = n;
  job_chunks_ = chunks;
  next_chunk_ = 0;
  finished_ = 0;
  ++generation_;
  wake_.notify_all();
  // The caller takes chunks too.
  while (next_chunk_ < job_chunks_) {
    const int c = next_chunk_++;
    lock.unlock();
    auto [b, e] = chunk_range(n, chunks, c);
    fn(b, e);
    lock.lock();
    ++finished_;
  }
  const int chunks_total = job_chunks_;
  lock.unlock();
  spin_until([&] { return finished_.load(std::memory_order_acquire) == chunks_total; });
  lock.lock();
  done_.wait(lock, [&] { return finished_ == job_chunks_; });
  job_ = nullptr;
}

void ThreadPool::worker_loop(int) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A new job usually follows within microseconds during a run: watch for it before going to sleep.
    lock.unlock();
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    lock.lock();
    wake_.wait(lock, [&] { return stop_ || (generation_ != seen && job_ && next_chunk_ < job_chunks_); });
    if (stop_) return;
    seen = generation_;
    while (job_ && next_chunk_ < job_chunks_) {
      const int c = next_chunk_++;
      const auto* fn = job_;
      const int64_t n = job_n_;
      const int chunks = job_chunks_;
      lock.unlock();
      auto [b, e] = chunk_range(n, chunks, c);
      (*fn)(b, e);
      lock.lock();
      if (++finished_ == job_chunks_) done_.notify_all();
    }
  }
}

}  // namespace glassbox::kernels::cpu
