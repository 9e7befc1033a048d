#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "keel/cluster/cluster_tls.hpp"
#include "keel/cluster/etcd_tls.hpp"
#include "keel/runtime/clock.hpp"

namespace keel::cluster {

class cluster_event_log;

/// The copies of each partition a new cluster keeps unless its first node says otherwise.
inline constexpr size_t default_replication_factor = 2;

/// How a node takes part in its cluster: where etcd is, under which names, and how long its
/// lease lasts. Immutable once the membership is made.
struct membership_options {
  std::string etcd;            // host:port of etcd's client (JSON gateway) port
  cluster::etcd_tls etcd_tls;  // HTTPS to etcd when enabled
  // Mutual TLS between nodes; claim_data() checks it against the cluster's, recorded in
  // etcd by its first node, so a node that could not talk to the others never joins.
  cluster::cluster_tls transport_tls;
  std::string cluster_name = "keel";
  std::string node_id = "n1";
  std::chrono::seconds lease_ttl{2};
  // The fence closes this long before the lease could have expired in etcd, so a node
  // never acts after another node may have seen it gone.
  std::chrono::milliseconds fence_margin{300};
  // What the fence, join's retries and placement's give-up are decided by: the runtime's
  // clock (runtime_options::monotonic; the membership is made before the runtime), so a
  // test that advances it moves both. Null: a clock of the membership's own.
  std::shared_ptr<const monotonic_clock> clock;
  // Where a registration's start time comes from (the node's wall_clock seam); null: the
  // system clock.
  std::shared_ptr<const wall_clock> wall;
  // Copies of each partition, its owner's included (DESIGN.md "Replication and failover"):
  // cluster-wide, recorded in etcd by the cluster's first node. 0 until claim_data() set it
  // to the cluster's (a node started without --replication-factor adopts it).
  size_t replication_factor = 0;
  // Copies (the owner's included) a write must be on before its turn answers; fewer in
  // sync, and writes to the partition answer `unavailable`.
  size_t min_insync = 1;
  // Where the changes this node's view sees are kept as events (GET /v1/cluster/events);
  // null: not kept. Shared with the routes that show it.
  std::shared_ptr<cluster_event_log> events;
  // A replica that has not acknowledged a write this long is removed from the in-sync set.
  std::chrono::milliseconds replica_timeout{1000};
};

}  // namespace keel::cluster
