#include "keel/runtime/clock.hpp"

#include <time.h>

#include <chrono>
#include <limits>

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

// One tick reading with the steady_clock times just before and after it: the reading
// happened within [before, after], however long the thread was preempted around it.
struct bracketed_tick {
  uint64_t before_ns;
  uint64_t tick;
  uint64_t after_ns;
  uint64_t width() const noexcept { return after_ns - before_ns; }
  double mid_ns() const noexcept { return (static_cast<double>(before_ns) + after_ns) / 2; }
};

bracketed_tick read_bracketed() noexcept {
  bracketed_tick r;
  r.before_ns = steady_ns();
  r.tick = ticks();
  r.after_ns = steady_ns();
  return r;
}

// Nanoseconds per tick, measured over 2 ms of steady_clock. A thread preempted between a
// tick reading and its steady_clock reading (a loaded node starting up) once skewed every
// turn duration of the process; each end is now bracketed, and the attempt with the
// tightest brackets of up to 8 is kept, so the error is below 1 % unless every attempt
// was preempted.
double calibrate() noexcept {
  if (!tsc) return 1.0;
  constexpr uint64_t window_ns = 2'000'000;
  constexpr uint64_t tight_ns = 10'000;
  double best = 1.0;
  uint64_t best_width = std::numeric_limits<uint64_t>::max();
  for (int attempt = 0; attempt < 8 && best_width > tight_ns; ++attempt) {
    auto start = read_bracketed();
    while (steady_ns() - start.after_ns < window_ns) {
    }
    auto end = read_bracketed();
    auto width = start.width() + end.width();
    if (end.tick <= start.tick || width >= best_width) continue;
    best_width = width;
    best = (end.mid_ns() - start.mid_ns()) / static_cast<double>(end.tick - start.tick);
  }
  return best;
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
