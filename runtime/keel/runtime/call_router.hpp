#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/envelope.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/partition_directory.hpp"
#include "keel/runtime/pending_calls.hpp"
#include "keel/runtime/registry.hpp"

namespace keel {

/// The node's one call router: every call, local or remote, goes through it. It maps
/// actor ids to activations (activating on first message) in its directory, enters every
/// call that expects an answer in its pending_calls table (which fails it with `timeout`
/// at its deadline in one node-wide sweep), and refuses calls with `unavailable` once the
/// node stops.
///
/// Passivation cannot lose a call: a call is enqueued at its activation while the
/// directory shard's lock is held, and an activation leaves the directory only under that
/// lock and only with an empty mailbox.
///
/// Activations are bounded: a call that would start one past `max_activations` is refused
/// with `unavailable`, and evict_idle() asks the longest-idle ones to leave.
/// Thread safety: thread-safe.
class call_router {
 public:
  /// When an activation's last turn ended (steady_clock nanoseconds): written by the
  /// activation, read by evict_idle().
  using idle_since_ptr = std::shared_ptr<std::atomic<int64_t>>;
  using spawn_fn =
      std::function<caf::actor(const actor_id&, const actor_type_info&, idle_since_ptr)>;

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

  /// Removes `who` from the directory if `mailbox_empty()` holds under the shard lock.
  /// Called by the activation itself; on true it must quit.
  bool try_passivate(const actor_id& id, const caf::actor_addr& who,
                     const std::function<bool()>& mailbox_empty);

  /// Sends `m` to every activation in the directory (the idle sweep). Handles are copied
  /// under each shard's lock and the messages sent outside it.
  void send_to_all_activations(const caf::message& m);

  /// The table of calls that expect an answer, for the deadline sweep.
  pending_calls& pending() noexcept { return pending_; }

  /// Refuses new calls and sends every activation an exit; their unanswered calls fail
  /// with `unavailable`. Returns the stopped activations so the caller can wait for them.
  std::vector<caf::actor> stop();

  /// Stops starting turns for `partition` (its handoff begins): from now on a message for
  /// it goes back to the directory (which holds it), every activation of it leaves the
  /// directory and finishes the turns already in its mailbox, waits until its commits are
  /// durable and quits. `drained` runs once, on any thread, when the last one is gone.
  void close_partition(uint32_t partition, std::function<void()> drained);
  /// Lets `partition` activate here again (it was handed to this node, or its handoff was
  /// aborted).
  void open_partition(uint32_t partition) noexcept {
    closed_[partition].store(false, std::memory_order_release);
  }
  bool is_closed(uint32_t partition) const noexcept {
    return closed_[partition].load(std::memory_order_acquire);
  }

  /// Drops `id` from the directory if it still maps to `who` (an activation that died
  /// without passivating). Called from the dying activation.
  void forget(const actor_id& id, const caf::actor_addr& who);

  /// Asks the `count` activations idle the longest to passivate (each leaves only if no
  /// turn of it ended since, none is open and its mailbox is empty). Scans the directory.
  /// Returns how many were asked.
  size_t evict_idle(size_t count);

  /// True once stop() was called: every call is refused.
  bool stopping() const noexcept { return stopped_.load(std::memory_order_acquire); }

  /// Live activations in the directory; one atomic read.
  size_t activations() const noexcept { return live_.load(std::memory_order_relaxed); }
  size_t max_activations() const noexcept { return max_activations_; }
  bool is_active(const actor_id& id) const;

 private:
  // One shard per partition: closing a partition for its handoff visits only its own
  // activations (with 64 shards, closing each of 2,048 partitions scanned 1/64 of 200,000
  // activations: 12 % of the old owner's CPU during a join).
  static constexpr size_t shard_count = partition_count;

  struct activation_entry {
    caf::actor handle;
    idle_since_ptr idle_since;
  };

  struct directory_shard {
    mutable std::mutex mutex;
    std::unordered_map<actor_id, activation_entry> activations;
  };

  directory_shard& shard_of(const actor_id& id) { return directory_[id.partition() % shard_count]; }
  const directory_shard& shard_of(const actor_id& id) const {
    return directory_[id.partition() % shard_count];
  }
  void dispatch(envelope_ptr env, const actor_type_info& type, caf::execution_unit* host);
  /// The directory key a stateless call lands on: one of the type's worker slots.
  actor_id worker_for(const actor_type_info& type);

  const type_registry& types_;
  runtime_metrics& metrics_;
  spawn_fn spawn_;
  const size_t max_activations_;
  std::atomic<size_t> live_{0};  // entries in directory_
  std::atomic<bool> stopped_{false};
  std::atomic<partition_directory*> partitions_{nullptr};
  std::atomic<uint64_t> round_robin_{0};
  std::array<directory_shard, shard_count> directory_;
  std::array<std::atomic<bool>, partition_count> closed_{};  // partitions being handed off
  pending_calls pending_;
};

}  // namespace keel
