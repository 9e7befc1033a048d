#pragma once

#include <cstddef>

#include <caf/actor_system_config.hpp>

namespace keel {

/// Sets how CAF schedules a node's actors: `threads` workers sharing one queue. CAF's
/// default work-stealing workers poll for work before they sleep; a node has a worker or
/// two fed by other threads (HTTP I/O, the store writer, the middleman), so a worker that
/// ran out polls on each gap between messages, and a node at a fraction of its capacity
/// burned CPU on it. A shared queue sleeps on a condition variable at once
/// (docs/benchmarks.md, "Scale-out").
/// Thread safety: call on the config before the actor system is made from it.
void configure_scheduler(caf::actor_system_config& cfg, size_t threads);

}  // namespace keel
