// A small fork-join pool owned by one CPU backend (so by one session): parallel_for splits [0, n) into
// contiguous chunks, runs them on the pool's threads and the caller's, and returns when all are done.
// Waking a sleeping thread takes tens of microseconds, as long as a whole step of a small network at batch 1, so a
// worker that finished a job spins for up to kSpinMicros for the next one (and the caller for the last chunk)
// before sleeping on the condition variable; between runs, the threads sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace glassbox::kernels::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // total workers including the caller; <= 0: hardware threads
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // fn(begin, end) over chunks of [0, n); at most size() chunks, none smaller than min_chunk items.
  void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);
  // Spins up to kSpinMicros until done() holds (without the lock); returns whether it did.
  template <class Done>
  static bool spin_until(const Done& done);
  static constexpr int kSpinMicros = 200;

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_chunks_ = 0;
  int next_chunk_ = 0;
  // Written under mu_; also read without it while spinning.
  std::atomic<int> finished_{0};
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
};

}  // namespace glassbox::kernels::cpu
