#pragma once

#include <caf/error.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_keys.hpp"

namespace keel::cluster {

class cluster_view;
class coordinator_election;
class shared_etcd_client;

/// The rebalance's progress, `keel/<cluster>/rebalance`: the coordinator publishes it, and
/// every node follows it in its cluster view (GET /v1/cluster shows it).
/// Thread safety: thread-safe; publish() blocks on etcd through the shared client.
class rebalance_progress {
 public:
  /// Requires: everything referenced outlives this object.
  rebalance_progress(const cluster_keys& keys, std::string node_id, cluster_view& view,
                     const coordinator_election& election, shared_etcd_client& writer);

  /// Written only while this node holds the office, so a deposed coordinator's progress
  /// never overwrites its successor's.
  caf::error publish(const RebalanceView& view);

 private:
  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  cluster_view& view_;
  const coordinator_election& election_;
  shared_etcd_client& writer_;
};

}  // namespace keel::cluster
