#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "keel/runtime/actor_id.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace spdlog {
class logger;
}

namespace keel {
class call_router;
class node_fence;
class span_buffer;
class turn_log;
class type_registry;
class wall_clock;
class monotonic_clock;
class node_stats;
struct runtime_metrics;
}  // namespace keel

namespace keel::detail {

/// What every activation of one node shares. Owned by the node runtime, which outlives
/// all activations; the fields are fixed once the runtime has started.
/// Thread safety: immutable after start; the pointed-to services are thread-safe.
struct node_services {
  caf::actor_system* system = nullptr;
  call_router* router = nullptr;
  runtime_metrics* metrics = nullptr;
  turn_log* turns = nullptr;
  node_stats* stats = nullptr;
  span_buffer* spans = nullptr;  // null: no span export
  std::shared_ptr<wall_clock> clock;
  const monotonic_clock* monotonic = nullptr;  // owned by the runtime's options
  std::shared_ptr<spdlog::logger> log;
  caf::actor store_writer;
  // Loads run on a few detached readers (LevelDB reads are thread-safe): with one, every
  // activation of a busy node queued behind the others' disk reads.
  std::vector<caf::actor> store_readers;

  const caf::actor& reader_for(const actor_id& id) const {
    return store_readers[std::hash<actor_id>{}(id) % store_readers.size()];
  }
  caf::actor reminders;
  std::shared_ptr<const node_fence> fence;  // null: never closed
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds default_timeout{5000};
};

}  // namespace keel::detail
