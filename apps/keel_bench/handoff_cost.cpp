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

double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

// Pins the calling thread to `cpu`; false if the kernel refused.
bool pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
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

// Two fresh threads, each pinned to its core (`a`, `b`) before either starts, pass the token
// `handoffs` times in all; CPU is each thread's own, so nothing else of the process counts.
// Fresh threads keep the caller's own affinity untouched. Nullopt if a pin was refused.
std::optional<handoff_cost> ping_pong(int handoffs, int a, int b) {
  std::mutex m;
  std::condition_variable cv;
  int holder = -1;  // -1: not started; then the player whose turn it is
  int ready = 0;
  bool pinned = true;
  const int rounds = handoffs / 2;
  double cpu_us[2] = {0, 0};
  auto player = [&](int me, int cpu) {
    bool ok = pin_self(cpu);
    {
      std::unique_lock lock{m};
      pinned = pinned && ok;
      if (++ready == 2) holder = 0;
      cv.notify_all();
      cv.wait(lock, [&] { return holder >= 0; });
    }
    auto before = thread_cpu_us();
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock lock{m};
      cv.wait(lock, [&] { return holder == me; });
      holder = 1 - me;
      cv.notify_one();
    }
    cpu_us[me] = thread_cpu_us() - before;
  };
  auto wall_before = std::chrono::steady_clock::now();
  std::thread first{player, 0, a};
  std::thread second{player, 1, b};
  first.join();
  second.join();
  if (!pinned) return std::nullopt;
  auto wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_before)
          .count();
  auto n = static_cast<double>(2 * rounds);
  return handoff_cost{(cpu_us[0] + cpu_us[1]) / n, wall / n};
}

}  // namespace

std::optional<handoff_cost> measure_handoff_across_cores(int handoffs) {
  auto cores = allowed_cores();
  if (cores.size() < 2) return std::nullopt;
  return ping_pong(handoffs, cores[0], cores[1]);
}

std::optional<handoff_cost> measure_handoff_on_one_core(int handoffs) {
  auto cores = allowed_cores();
  if (cores.empty()) return std::nullopt;
  return ping_pong(handoffs, cores[0], cores[0]);
}

}  // namespace keel::bench
