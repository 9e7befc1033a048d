#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_keys.hpp"

namespace spdlog {
class logger;
}

namespace keel::etcd {
class Event;
class RangeResponse;
}  // namespace keel::etcd

namespace keel::cluster {

/// A partition record with the etcd revision it was written at (a table transaction
/// checks it, so that a record changed meanwhile is never overwritten).
struct versioned_record {
  PartitionRecord record;
  int64_t mod_revision = 0;
};

/// This node's view of `keel/<cluster>/`: the members, the coordinator, the partition
/// table, the drain marks and the rebalance progress, as of the last watch event or of
/// this node's own write, whichever is newer. Every reader gets a copy taken under one
/// lock. A partition record is never rolled back to an older revision: the watch repeats
/// this node's own writes after they were applied.
/// Thread safety: thread-safe. load() and apply() come from the watch thread; this node's
/// writers record what they wrote from their own threads; readers from anywhere.
class cluster_view {
 public:
  /// Called after a partition's record changed (either may be nullopt: never placed), on
  /// the thread that changed it, with no lock held. Must not block for long.
  using partition_listener =
      std::function<void(uint32_t, const std::optional<PartitionRecord>& before,
                         const std::optional<PartitionRecord>& after)>;

  /// What a change means for this node's lease and election.
  enum class news {
    nothing,
    office_vacant,    // the coordinator key was deleted: campaign
    own_key_deleted,  // this node's member key was deleted (at the event's revision)
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

  /// Replaces the view by a read of the whole prefix (at start, and after a compaction
  /// broke the watch), and reports every partition that changed.
  load_outcome load(const etcd::RangeResponse& res);
  /// Applies one watch event.
  news apply(const etcd::Event& ev);

  // -- this node's own writes, known at once rather than when the watch repeats them ----

  /// A record this node wrote at `revision`; reported to the listener.
  void record_partition(uint32_t p, const PartitionRecord& rec, int64_t revision);
  /// A record found placed (by this node or another) at `revision`, unless one is known.
  void adopt_partition(uint32_t p, const PartitionRecord& rec, int64_t revision);
  /// The election's outcome as etcd answered it at `revision`.
  void set_coordinator(const std::string& node_id, int64_t revision);
  /// Forgets `node_id`'s office if the view still shows it.
  void clear_coordinator(const std::string& node_id);
  void set_draining(const std::string& node_id, const std::string& reason);
  void clear_draining(const std::string& node_id);
  void set_rebalance(const RebalanceView& view);

  // -- readers --------------------------------------------------------------------------

  /// Sorted by node id.
  std::vector<Member> members() const;
  std::optional<Member> member(const std::string& node_id) const;
  /// Empty if it is not a member (down, or never was).
  std::string cluster_address_of(const std::string& node_id) const;
  /// The etcd revision the view reflects.
  int64_t revision() const;
  /// Empty while there is none.
  std::string coordinator() const;
  std::optional<PartitionRecord> partition(uint32_t p) const;
  std::map<uint32_t, PartitionRecord> partitions() const;
  std::map<uint32_t, versioned_record> partitions_versioned() const;
  /// Partitions the table gives to `node_id`.
  size_t owned_by(const std::string& node_id) const;
  /// The nodes with a drain mark (members or not), by node id.
  std::vector<std::string> draining() const;
  bool is_draining(const std::string& node_id) const;
  /// Every member not being drained, sorted.
  std::vector<std::string> placement_targets() const;
  RebalanceView rebalance() const;

 private:
  struct snapshot;
  snapshot read_snapshot(const etcd::RangeResponse& res) const;
  news apply_coordinator(const std::string& value, bool deleted, int64_t revision);
  void apply_partition_event(uint32_t p, const std::string& value, bool deleted, int64_t revision);
  news apply_member(const std::string& key, const std::string& value, bool deleted,
                    int64_t revision);
  /// Sets (or with nullptr erases) `p`'s record unless a newer one is known; returns the
  /// record before.
  std::optional<PartitionRecord> put_partition(uint32_t p, const PartitionRecord* rec,
                                               int64_t revision);
  void notify(uint32_t p, const std::optional<PartitionRecord>& before);

  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  const std::shared_ptr<spdlog::logger> log_;
  partition_listener listener_;  // set before the first load()

  mutable std::shared_mutex mutex_;
  std::map<std::string, Member> members_;            // guarded by mutex_
  std::string coordinator_;                          // guarded by mutex_
  std::map<uint32_t, PartitionRecord> partitions_;   // guarded by mutex_
  std::map<uint32_t, int64_t> partition_revisions_;  // guarded by mutex_
  std::map<std::string, std::string> draining_;      // node id -> reason; guarded by mutex_
  RebalanceView rebalance_;                          // guarded by mutex_
  int64_t revision_ = 0;                             // guarded by mutex_
};

}  // namespace keel::cluster
