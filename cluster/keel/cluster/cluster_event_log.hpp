#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/clock.hpp"

namespace keel::cluster {

/// The node's most recent cluster events (members joining and leaving, drains, elections,
/// rebalances, handoffs, failovers), numbered and stamped as they are recorded, for GET
/// /v1/cluster/events and the dashboard's timeline. A ring of `capacity` events: memory is
/// bounded however busy the cluster; the oldest go first. An event that only counts
/// partitions (`partitions` set, no `detail`) is added to one of the same kind and nodes
/// recorded within the last second, if there is one: a rebalance's moves, one etcd
/// transaction each, read as one event per pair of nodes, stamped when the first was seen.
/// Thread safety: thread-safe; record() comes from the membership's watch thread and from
/// this node's etcd writers, view() from HTTP threads, each under one short lock.
class cluster_event_log {
 public:
  /// Requires: `wall` is not null.
  cluster_event_log(size_t capacity, std::shared_ptr<const wall_clock> wall);

  /// Stamps each event with the next number and the wall clock's time and keeps it, or adds
  /// its count to a recent one of its kind and nodes.
  void record(std::vector<ClusterEvent> events);
  void record(ClusterEvent event);
  /// The events kept, oldest first.
  ClusterEvents view(const std::string& node_id) const;

  /// How close a count must follow one of its kind and nodes to be added to it.
  static constexpr int64_t merge_window_ms = 1000;

 private:
  /// The kept event `ev` would be added to; null if none. Requires: mutex_ held.
  ClusterEvent* mergeable(const ClusterEvent& ev, int64_t now);

  const size_t capacity_;
  const std::shared_ptr<const wall_clock> wall_;
  mutable std::mutex mutex_;
  std::deque<ClusterEvent> events_;  // guarded by mutex_; oldest first
  uint64_t next_seq_ = 1;            // guarded by mutex_
};

}  // namespace keel::cluster
