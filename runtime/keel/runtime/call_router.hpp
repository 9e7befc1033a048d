#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/activation_table.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/partition_directory.hpp"
#include "keel/runtime/pending_calls.hpp"
#include "keel/runtime/registry.hpp"

namespace keel {

/// The node's one call router: every call, local or remote, goes through it. It resolves
/// the target's type and handler, enters every call that expects an answer in its
/// pending_calls table (which fails it with `timeout` at its deadline in one node-wide
/// sweep), hands a call for a partition another node owns to the partition directory,
/// and delivers the rest to this node's activation_table; it answers with the error
/// when none of them can take the call, and refuses calls with `unavailable` once the
/// node stops.
///
/// Activations are bounded: a call that would start one past `max_activations` is refused
/// with `unavailable`, and evict_idle() asks the longest-idle ones to leave.
/// Thread safety: thread-safe.
class call_router {
 public:
  using idle_since_ptr = activation_table::idle_since_ptr;
  using spawn_fn = activation_table::spawn_fn;

  /// Requires: `types` and `metrics` outlive the router; `spawn` creates one activation;
  /// `max_activations` > 0.
  call_router(const type_registry& types, runtime_metrics& metrics, spawn_fn spawn,
              size_t max_activations);

  /// Delivers `env`; an unknown type or message is answered at once with its code. A
  /// sender running inside a CAF actor passes its execution unit (`self->context()`), so
  /// the target is scheduled on that worker instead of through the global queue.
  void send(envelope_ptr env, caf::execution_unit* host = nullptr);

  /// Delivers an envelope that went through send() once already (held by the partition
  /// directory until its partition was placed, or arrived from another node and is
  /// tracked there): routed again, not tracked again.
  void redeliver(envelope_ptr env);

  /// The cluster's partition directory; set once, before the node serves. Null: single
  /// node. Requires: `directory` outlives the router's last send.
  void set_directory(partition_directory* directory) noexcept {
    partitions_.store(directory, std::memory_order_release);
  }
  partition_directory* directory() const noexcept {
    return partitions_.load(std::memory_order_acquire);
  }

  /// This node's activations.
  activation_table& activations() noexcept { return activations_; }
  const activation_table& activations() const noexcept { return activations_; }

  /// The table of calls that expect an answer, for the deadline sweep.
  pending_calls& pending() noexcept { return pending_; }

  /// Refuses new calls and sends every activation an exit; their unanswered calls fail
  /// with `unavailable`. Returns the stopped activations so the caller can wait for them.
  std::vector<caf::actor> stop();

  /// Stops starting turns for `partition` (its handoff begins): from now on a message for
  /// it goes back to the partition directory (which holds it), and every activation of it
  /// leaves the table, finishes the turns already in its mailbox, waits until its commits
  /// are durable and quits. `drained` runs once, on any thread, when the last one is gone.
  void close_partition(uint32_t partition, std::function<void()> drained) {
    activations_.close_partition(partition, std::move(drained));
  }

  /// Asks the `count` activations idle the longest to passivate (each leaves only if no
  /// turn of it ended since, none is open and its mailbox is empty). Scans the table.
  /// Returns how many were asked.
  size_t evict_idle(size_t count);

  /// True once stop() was called: every call is refused.
  bool stopping() const noexcept { return activations_.stopped(); }

 private:
  void dispatch(envelope_ptr env, const actor_type_info& type, caf::execution_unit* host);
  /// Answers `env`, which the activation table did not take, with why.
  void refuse(const envelope_ptr& env, activation_table::delivery why, const actor_id& key);
  /// The activation a stateless call lands on: one of the type's worker slots.
  actor_id worker_for(const actor_type_info& type);

  const type_registry& types_;
  runtime_metrics& metrics_;
  std::atomic<partition_directory*> partitions_{nullptr};
  std::atomic<uint64_t> round_robin_{0};
  activation_table activations_;
  pending_calls pending_;
};

}  // namespace keel
