#include "handoff_cost.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace keel::bench {

namespace {

double process_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

void pin(std::thread& t, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(t.native_handle(), sizeof set, &set);
}

// The cores this process may run on, in order.
std::vector<int> allowed_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  return out;
}

// Two fresh threads, on cores `a` and `b`, pass the token `handoffs` times in all. Fresh
// threads keep the caller's own affinity untouched.
handoff_cost ping_pong(int handoffs, int a, int b) {
  std::mutex m;
  std::condition_variable cv;
  int holder = 0;
  const int rounds = handoffs / 2;
  auto player = [&](int me) {
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock lock{m};
      cv.wait(lock, [&] { return holder == me; });
      holder = 1 - me;
      cv.notify_one();
    }
  };
  auto cpu_before = process_cpu_us();
  auto wall_before = std::chrono::steady_clock::now();
  std::thread first{player, 0};
  std::thread second{player, 1};
  pin(first, a);
  pin(second, b);
  first.join();
  second.join();
  auto wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_before)
          .count();
  auto n = static_cast<double>(2 * rounds);
  return {(process_cpu_us() - cpu_before) / n, wall / n};
}

}  // namespace

std::optional<handoff_cost> measure_handoff_across_cores(int handoffs) {
  auto cores = allowed_cores();
  if (cores.size() < 2) return std::nullopt;
  return ping_pong(handoffs, cores[0], cores[1]);
}

handoff_cost measure_handoff_on_one_core(int handoffs) {
  auto cores = allowed_cores();
  int core = cores.empty() ? 0 : cores[0];
  return ping_pong(handoffs, core, core);
}

}  // namespace keel::bench
