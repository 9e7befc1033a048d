#pragma once

#include <optional>

namespace keel::bench {

/// What the host charges for one thread waking another: two threads hand a token back and
/// forth through a mutex and a condition variable, as a scheduler's workers and the
/// middleman's thread hand each other messages. Per hand-off: CPU of both threads and wall
/// time, microseconds.
struct handoff_cost {
  double cpu_us = 0;
  double wall_us = 0;
};

/// With the two threads pinned to different cores; nullopt when this process may run on
/// fewer than two, or a pin is refused. Blocks for `handoffs` hand-offs; any thread may
/// call it.
std::optional<handoff_cost> measure_handoff_across_cores(int handoffs);

/// With both threads pinned to one core: the same hand-offs without a sleeping core to
/// wake. Nullopt when a pin is refused.
std::optional<handoff_cost> measure_handoff_on_one_core(int handoffs);

}  // namespace keel::bench
