#pragma once

#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_snapshot.hpp"

namespace keel::cluster {

/// What changed from `before` to `after`, two snapshots of one node's view published one
/// after the other, with `changed` the partition records each etcd event (or this node's
/// write) changed on the way, in order, as cluster events (unnumbered, unstamped:
/// cluster_event_log does that). Partition changes are counted, one event per kind and pair
/// of nodes, so a rebalance that moves a thousand partitions in one transaction is one
/// event, not a thousand. Each change is read on its own, since one watch response may hold
/// both the `moving` and the `active` record of a move:
/// - `moving(o -> n)` to `active(n)`: partitions_handed_off from o to n;
/// - `moving(o -> n)` to `active(o)`: handoffs_aborted of o (to n);
/// - `active(o)` to `active(r)`, r not o: partitions_failed_over from o to r;
/// - a replica leaving a partition's `isr` while the owner stays: replicas_out_of_sync.
/// Members, drain marks, the coordinator and the rebalance's progress are compared whole
/// (a rebalance that began and finished between the two is one rebalance_finished). A pure
/// function: thread-safe.
std::vector<ClusterEvent> events_between(const cluster_snapshot& before,
                                         const cluster_snapshot& after,
                                         const std::vector<partition_change>& changed);

}  // namespace keel::cluster
