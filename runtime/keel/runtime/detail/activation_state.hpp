#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include <google/protobuf/message.h>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/runtime.pb.h"

namespace keel {
struct actor_type_info;
struct type_counters;
}  // namespace keel

namespace keel::detail {

struct node_services;

/// What one activation holds between its turns: the committed state and version, its
/// reminders and entries, and the bookkeeping that decides when it may leave. Turns
/// (turn.hpp) read and write it, their commits (pipelined_commit.hpp) advance it, and the
/// behaviour (activation.cpp) loads it and passivates on it.
/// Thread safety: activation-confined, except `unsettled` and `idle_since`, which are
/// atomics shared with the store writer's releaser and the router's eviction.
struct activation_state {
  node_services* svc = nullptr;
  const actor_type_info* type = nullptr;
  actor_id id;
  // For /v1/stats: the type's counters, and the id's hash, made once so that a turn's
  // count in the hot-actor sketch does not hash the key.
  type_counters* type_stats = nullptr;
  uint64_t id_hash = 0;
  std::unique_ptr<google::protobuf::Message> committed;  // null for stateless workers
  std::string committed_bytes;
  uint64_t version = 0;
  caf::error load_error;
  // The stored record does not parse: a reload will not help until an operator acts, so
  // the activation stays (answering load_error) until it idles out, logged once.
  bool load_error_lasts = false;
  std::map<std::string, keel::runtime::ReminderRecord> reminders;
  // name -> bytes (with_entries). Hashed: a tree's walk missed the cache at every node on
  // each write; listings sort the names.
  std::unordered_map<std::string, std::string> entries;
  steady_time last_active;
  // last_active for the router's eviction, which reads it from other threads.
  call_router::idle_since_ptr idle_since;
  bool idle_scheduled = false;  // an early idle check is pending
  bool armed_timer = false;     // a turn set a timer (timers die with the activation)
  size_t open_turns = 0;
  // Commits handed to the store writer and not yet settled: while there are any, replies
  // wait behind them. Shared with the commits, which count down on the writer's thread;
  // made on the first commit, so an activation that never writes does not pay for it.
  std::shared_ptr<std::atomic<uint32_t>> unsettled;
  // Bumped when a failed commit makes the activation reload its durable state: failures of
  // commits sent before that reload are then already accounted for.
  uint64_t generation = 0;

  bool has_unsettled() const { return unsettled && unsettled->load(std::memory_order_acquire) > 0; }

  /// Nothing stored, reminded, kept or pending: a lookup of an entity that does not exist.
  bool holds_nothing() const {
    return committed && version == 0 && reminders.empty() && entries.empty() && !armed_timer &&
           !load_error && !has_unsettled();
  }

  /// Records that a turn just ended (or was refused), for the idle checks and eviction.
  void mark_active() {
    last_active = svc->monotonic->now();
    idle_since->store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(last_active.time_since_epoch())
            .count(),
        std::memory_order_relaxed);
  }
};

using activation_actor = caf::stateful_actor<activation_state>;

// An activation that holds nothing leaves after this long, not the idle timeout, so misses
// cost no memory.
constexpr std::chrono::milliseconds empty_idle_timeout{1000};

/// Asks `self` to check itself for idleness after `delay`, unless such a check is pending.
/// Idle checks come from the node's sweeper every half idle timeout; an activation whose
/// state cannot be loaded, or that holds nothing, asks for its own, sooner. Defined with
/// the behaviour, in activation.cpp.
/// Requires: on the thread running `self`.
void schedule_idle_check(activation_actor* self, std::chrono::milliseconds delay);

}  // namespace keel::detail
