#pragma once

#include <cstdint>
#include <string>

#include "keel/cluster/partition_table.hpp"

namespace keel::cluster {

/// Where one cluster keeps its state in etcd: everything under `keel/<cluster>/`, which is
/// what the watch follows. Immutable; safe to share between threads.
struct cluster_keys {
  explicit cluster_keys(const std::string& cluster_name)
      : root("keel/" + cluster_name + "/"),
        members(root + "members/"),
        coordinator(root + "coordinator"),
        partitions(root + "partitions/"),
        drain(root + "drain/"),
        rebalance(root + "rebalance") {}

  std::string member(const std::string& node_id) const { return members + node_id; }
  std::string partition(uint32_t p) const { return partitions + partition_digits(p); }
  std::string drain_mark(const std::string& node_id) const { return drain + node_id; }

  const std::string root;         // keel/<cluster>/
  const std::string members;      // keel/<cluster>/members/<node-id>: a Member, under its lease
  const std::string coordinator;  // keel/<cluster>/coordinator: the elected node's id
  const std::string partitions;   // keel/<cluster>/partitions/<pppp>: a PartitionRecord
  const std::string drain;        // keel/<cluster>/drain/<node-id>: why it leaves
  const std::string rebalance;    // keel/<cluster>/rebalance: a RebalanceView
};

}  // namespace keel::cluster
