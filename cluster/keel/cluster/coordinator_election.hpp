#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "keel/cluster/cluster_keys.hpp"

namespace spdlog {
class logger;
}

namespace keel::etcd {
class TxnRequest;
}

namespace keel::cluster {

class cluster_view;
class etcd_client;
class lease_keeper;
class shared_etcd_client;

/// The coordinator's office, `keel/<cluster>/coordinator`: whenever it is vacant, a
/// registered node campaigns by creating the key (only if absent) under its own lease, so
/// the office ends with the lease. Every write that only the coordinator may make checks
/// the key still names it (require_coordinator), so a deposed coordinator's writes fail.
/// Thread safety: thread-safe. campaign_if_vacant() runs on the lease keeper's thread (or
/// the joining thread before it starts); the rest from any thread.
class coordinator_election {
 public:
  /// Requires: `keys`, `view`, `lease` and `writer` outlive the election.
  coordinator_election(const cluster_keys& keys, std::string node_id, std::string cluster_name,
                       cluster_view& view, const lease_keeper& lease, shared_etcd_client& writer,
                       std::shared_ptr<spdlog::logger> log);

  /// Campaigns if the view shows no coordinator, this node's fence is open and it has not
  /// resigned. The outcome goes to the view at once, so placement need not wait for the
  /// watch.
  void campaign_if_vacant(etcd_client& etcd);
  /// Whether this node holds the office (as the view shows) and its fence is open.
  bool is_coordinator() const;
  /// Gives up the office (if held) and never campaigns again: a node that leaves resigns
  /// first, so that another coordinator moves its partitions away. Blocks on etcd.
  void resign();
  /// The coordinator as etcd says now (empty if none, or if etcd did not answer), for a
  /// node whose watch lags. Blocks on etcd.
  std::string coordinator_in_etcd(etcd_client& etcd) const;
  /// Adds to `txn` the condition that the office is still `node_id`'s.
  void require_coordinator(etcd::TxnRequest& txn, const std::string& node_id) const;

 private:
  bool campaign(etcd_client& etcd);

  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  const std::string cluster_name_;
  cluster_view& view_;
  const lease_keeper& lease_;
  shared_etcd_client& writer_;
  const std::shared_ptr<spdlog::logger> log_;

  std::atomic<bool> resigned_{false};  // never campaign again
};

}  // namespace keel::cluster
