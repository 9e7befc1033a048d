#include "keel/runtime/clock.hpp"

#include <time.h>

#include <chrono>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace keel {

namespace {

class system_wall_clock final : public wall_clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

std::shared_ptr<wall_clock> make_system_clock() {
  return std::make_shared<system_wall_clock>();
}

namespace fast_clock {

namespace {

// Invariant TSC (CPUID 0x80000007, EDX bit 8): constant rate, not stopped in sleep states,
// so ticks measure time on any core.
bool use_tsc() noexcept {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (edx & (1u << 8)) != 0;
#else
  return false;
#endif
}

const bool tsc = use_tsc();

uint64_t steady_ns() noexcept {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Nanoseconds per tick, measured over 2 ms of steady_clock.
double calibrate() noexcept {
  if (!tsc) return 1.0;
  auto ns0 = steady_ns();
  auto t0 = ticks();
  uint64_t ns1 = ns0;
  while (ns1 - ns0 < 2'000'000) ns1 = steady_ns();
  auto t1 = ticks();
  return t1 > t0 ? static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0) : 1.0;
}

}  // namespace

std::chrono::steady_clock::time_point coarse_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  // libstdc++'s steady_clock is CLOCK_MONOTONIC, whose coarse variant lags it by < 1 tick.
  return std::chrono::steady_clock::time_point{std::chrono::seconds{ts.tv_sec} +
                                               std::chrono::nanoseconds{ts.tv_nsec}};
}

uint64_t ticks() noexcept {
#if defined(__x86_64__)
  if (tsc) return __builtin_ia32_rdtsc();
#endif
  return steady_ns();
}

std::chrono::nanoseconds to_duration(uint64_t n) noexcept {
  static const double ns_per_tick = calibrate();
  return std::chrono::nanoseconds{static_cast<int64_t>(static_cast<double>(n) * ns_per_tick)};
}

}  // namespace fast_clock

}  // namespace keel
