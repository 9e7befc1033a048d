#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/registry.hpp"

namespace keel {

/// This node's live activations: actor id → CAF actor, in one locked shard per partition,
/// activating on first message up to a limit, and the partitions closed for a handoff.
///
/// Passivation cannot lose a message: a message is enqueued at its activation while the
/// shard's lock is held, and an activation leaves the table only under that lock and only
/// with an empty mailbox.
/// Thread safety: thread-safe.
class activation_table {
 public:
  /// When an activation's last turn ended (steady_clock nanoseconds): written by the
  /// activation, read by oldest_idle().
  using idle_since_ptr = std::shared_ptr<std::atomic<int64_t>>;
  using spawn_fn =
      std::function<caf::actor(const actor_id&, const actor_type_info&, idle_since_ptr)>;

  /// Requires: `types` outlives the table; `spawn` creates one activation;
  /// `max_activations` > 0.
  activation_table(const type_registry& types, spawn_fn spawn, size_t max_activations);

  enum class delivery {
    delivered,  // in the activation's mailbox (spawned if it was not live)
    closed,     // the partition is closed for its handoff
    full,       // no activation for it, and the table is at its limit
    stopped,    // stop() was called
  };

  /// Enqueues `env` at the activation of `key` (of `type`), spawning it if needed, under
  /// the shard's lock. `host`: the sender's execution unit, if it runs in a CAF actor.
  /// REQUIRES: the caller holds `env` beyond the call: if the activation just died, CAF
  /// destroys the message inside the enqueue, and the envelope's answer must not run
  /// under the lock.
  delivery deliver(const actor_id& key, const actor_type_info& type, const envelope_ptr& env,
                   caf::execution_unit* host);

  /// Closes `partition` (deliver answers `closed` for its stateful ids), takes its
  /// activations out of the table and sends each a drain behind the messages it holds;
  /// `drained` runs once, on any thread, when the last one has quit.
  void close_partition(uint32_t partition, std::function<void()> drained);
  void open_partition(uint32_t partition) noexcept {
    closed_[partition].store(false, std::memory_order_release);
  }
  bool is_closed(uint32_t partition) const noexcept {
    return closed_[partition].load(std::memory_order_acquire);
  }

  /// Removes `who` if `mailbox_empty()` holds under the shard lock. Called by the
  /// activation itself; on true it must quit.
  bool try_passivate(const actor_id& id, const caf::actor_addr& who,
                     const std::function<bool()>& mailbox_empty);
  /// Drops `id` if it still maps to `who` (an activation that died without passivating).
  void forget(const actor_id& id, const caf::actor_addr& who);

  /// Sends `m` to every activation; handles are copied under each shard's lock and the
  /// messages sent outside it.
  void send_to_all(const caf::message& m);
  /// The `count` activations idle the longest, with the time each became idle; those in
  /// their first turn are not among them.
  std::vector<std::pair<caf::actor, int64_t>> oldest_idle(size_t count) const;
  /// Refuses every later delivery and empties the table; returns what it held.
  std::vector<caf::actor> stop();

  bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }
  bool is_active(const actor_id& id) const;
  /// Live activations; one atomic read.
  size_t size() const noexcept { return live_.load(std::memory_order_relaxed); }
  size_t max_size() const noexcept { return max_activations_; }

 private:
  // One shard per partition: closing a partition for its handoff visits only its own
  // activations, not a 64th of all of them.
  static constexpr size_t shard_count = partition_count;

  struct entry {
    caf::actor handle;
    idle_since_ptr idle_since;
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<actor_id, entry> activations;
  };

  shard& shard_of(const actor_id& id) { return shards_[id.partition() % shard_count]; }
  const shard& shard_of(const actor_id& id) const { return shards_[id.partition() % shard_count]; }

  const type_registry& types_;
  spawn_fn spawn_;
  const size_t max_activations_;
  std::atomic<size_t> live_{0};
  std::atomic<bool> stopped_{false};
  std::array<shard, shard_count> shards_;
  std::array<std::atomic<bool>, partition_count> closed_{};
};

}  // namespace keel
