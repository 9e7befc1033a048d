#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_keys.hpp"
#include "keel/cluster/cluster_snapshot.hpp"

namespace spdlog {
class logger;
}

namespace keel::etcd {
class Event;
class RangeResponse;
class WatchResponse;
}  // namespace keel::etcd

namespace keel::cluster {

/// This node's view of `keel/<cluster>/`: the members, the coordinator, the partition
/// table, the drain marks and the rebalance progress, as of the last watch response or of
/// this node's own write, whichever is newer. Each change publishes a new immutable
/// cluster_snapshot (one per watch response, so never half of an etcd revision); readers
/// take the current one with one atomic load and read it whole. A partition record is
/// never rolled back to an older revision: the watch repeats this node's own writes after
/// they were applied.
/// Thread safety: thread-safe. load() and apply() come from the watch thread; this node's
/// writers record what they wrote from their own threads (writers are serialized); readers
/// from anywhere, with one atomic load (libstdc++ guards it with a spin bit, not a mutex).
class cluster_view {
 public:
  /// Called after a partition's record changed (either may be nullopt: never placed), on
  /// the thread that changed it, once per change, in the order the changes were
  /// published. Must not block for long and must not call this view's writers.
  using partition_listener =
      std::function<void(uint32_t, const std::optional<PartitionRecord>& before,
                         const std::optional<PartitionRecord>& after)>;

  /// Called after each snapshot published from a watch response or this node's own write
  /// (not the first load), with the snapshot before, the one published and the partition
  /// records each etcd event changed, in order; on the publishing thread, in publish order.
  /// Must not block for long and must not call this view's writers.
  using publish_listener =
      std::function<void(const cluster_snapshot& before, const cluster_snapshot& after,
                         const std::vector<partition_change>& changed)>;

  /// What a change means for this node's lease and election.
  enum class news {
    nothing,
    office_vacant,  // the coordinator key was deleted: campaign
  };

  struct load_outcome {
    bool own_key_missing = false;
    bool office_vacant = false;
  };

  cluster_view(const cluster_keys& keys, std::string node_id, std::shared_ptr<spdlog::logger> log);
  cluster_view(const cluster_view&) = delete;
  cluster_view& operator=(const cluster_view&) = delete;

  /// Set once, before the first load().
  void set_partition_listener(partition_listener fn) { listener_ = std::move(fn); }
  /// Set once, before the first load().
  void set_publish_listener(publish_listener fn) { published_ = std::move(fn); }

  /// Replaces the view by a read of the whole prefix (at start, and after a compaction
  /// broke the watch), and reports every partition that changed.
  load_outcome load(const etcd::RangeResponse& res);
  /// Applies one watch response's events and publishes one snapshot; the news of each
  /// event, in order.
  std::vector<news> apply(const etcd::WatchResponse& res);

  // -- this node's own writes, known at once rather than when the watch repeats them ----

  /// Records this node wrote in one transaction at `revision`, published as one snapshot;
  /// reported to the listener.
  void record_partitions(const std::vector<std::pair<uint32_t, PartitionRecord>>& recs,
                         int64_t revision);
  void record_partition(uint32_t p, const PartitionRecord& rec, int64_t revision) {
    record_partitions({{p, rec}}, revision);
  }
  /// Records found placed (by this node or another), each unless one is known; one
  /// snapshot. Not reported: placement is no change of owner.
  void adopt_partitions(const std::vector<std::pair<uint32_t, versioned_record>>& recs);
  /// The election's outcome as etcd answered it at `revision`.
  void set_coordinator(const std::string& node_id, int64_t revision);
  /// Forgets `node_id`'s office if the view still shows it.
  void clear_coordinator(const std::string& node_id);
  void set_draining(const std::string& node_id, const std::string& reason);
  void clear_draining(const std::string& node_id);
  void set_rebalance(const RebalanceView& view);

  // -- readers --------------------------------------------------------------------------

  /// The current snapshot: one atomic load, never null.
  snapshot_ptr current() const noexcept { return current_.load(std::memory_order_acquire); }
  /// Waits until a snapshot other than `seen` is published or `timeout` passes; returns the
  /// current one.
  snapshot_ptr wait_for_change(const snapshot_ptr& seen, std::chrono::milliseconds timeout) const;

  /// Sorted by node id.
  std::vector<Member> members() const;
  std::optional<Member> member(const std::string& node_id) const;
  /// Empty if it is not a member (down, or never was).
  std::string cluster_address_of(const std::string& node_id) const;
  int64_t revision() const { return current()->revision; }
  /// The newest revision read by load() or seen in a watch event: where a broken watch
  /// resumes (+1). Unlike revision(), never moved by this node's own writes, which may be
  /// newer than events of other nodes not yet seen.
  int64_t watched_revision() const noexcept { return watched_.load(std::memory_order_acquire); }
  /// Empty while there is none.
  std::string coordinator() const { return current()->coordinator; }
  std::optional<PartitionRecord> partition(uint32_t p) const;
  std::map<uint32_t, PartitionRecord> partitions() const;
  size_t owned_by(const std::string& node_id) const { return current()->owned_by(node_id); }
  /// The nodes with a drain mark (members or not), by node id.
  std::vector<std::string> draining() const;
  bool is_draining(const std::string& node_id) const { return current()->is_draining(node_id); }
  std::vector<std::string> placement_targets() const { return current()->placement_targets(); }
  RebalanceView rebalance() const { return current()->rebalance; }

 private:
  using changed_partitions = std::vector<partition_change>;

  cluster_snapshot read_snapshot(const etcd::RangeResponse& res) const;
  /// Changes a copy of the current snapshot under the writers' lock and, if `change`
  /// returns true, publishes it; then tells the listener of each change it reported, in
  /// publish order, with only notify_mutex_ held.
  template <class F>
  void update(F&& change);
  void publish(std::shared_ptr<cluster_snapshot> next);
  news apply_event(cluster_snapshot& draft, const etcd::Event& ev, changed_partitions& changed);
  news apply_coordinator(cluster_snapshot& draft, const std::string& value, bool deleted);
  void apply_member(cluster_snapshot& draft, const std::string& key, const std::string& value,
                    bool deleted);
  /// Sets (or with nullptr erases) `p`'s record in `draft` unless a newer one is known;
  /// adds the change, with the records before and after, to `changed`.
  void put_partition(cluster_snapshot& draft, uint32_t p, const PartitionRecord* rec,
                     int64_t revision, changed_partitions& changed);
  void notify(const changed_partitions& changed);

  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  const std::shared_ptr<spdlog::logger> log_;
  partition_listener listener_;  // set before the first load()
  publish_listener published_;   // set before the first load()

  std::mutex write_mutex_;   // serializes writers: each copies, changes and publishes
  std::mutex notify_mutex_;  // held while the listener runs: changes reported in order
  std::atomic<snapshot_ptr> current_;
  std::atomic<int64_t> watched_{0};
  mutable std::mutex changed_mutex_;  // with changed_: wait_for_change()
  mutable std::condition_variable changed_;
};

}  // namespace keel::cluster
