#pragma once
// The fixture of the replication and failover tests: a Cluster whose nodes keep copies.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cluster_fixture.hpp"
#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/actor_id.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"

namespace keel::test {

/// Nodes started with start_replicated() keep two copies of each partition.
class Replication : public Cluster {
 protected:
  Replication() { copies_.clear(); }

  node_process& start_replicated(const std::string& id, std::vector<std::string> extra = {}) {
    extra.push_back("--replication-factor=2");
    return start_node(id, extra);
  }

  // `type`/`key`'s partition as `node` reports it; nullopt if it is not placed.
  static std::optional<cluster::PartitionView> partition_of(node_process& node,
                                                            const std::string& key,
                                                            const std::string& type = "counter") {
    auto p = actor_id{type, key}.partition();
    auto table = get_json<cluster::PartitionTableView>(node, "/v1/cluster/partitions");
    for (const auto& row : table.partitions())
      if (row.partition() == p) return row;
    return std::nullopt;
  }

  static std::optional<int64_t> value_of(node_process& node, const std::string& key) {
    auto reply = node.post("/v1/actors/counter/" + key + "/Get", "{}");
    if (reply.status != 200) return std::nullopt;
    return std::stoll(reply.body.substr(reply.body.find(":\"") + 2));
  }

  // Whether `via` shows `key`'s partition with `replica` as its one in-sync replica.
  static bool in_sync_on(node_process& via, const std::string& key, const std::string& replica) {
    auto row = partition_of(via, key);
    return row && row->isr_size() == 1 && row->isr(0) == replica;
  }

  // A counter at 1 whose partition `owner` owns with `replica` as its in-sync replica.
  std::string counter_copied(node_process& via, const std::string& owner,
                             const std::string& replica, const std::string& prefix) {
    for (int k = 0; k < 1000; ++k) {
      auto key = prefix + std::to_string(k);
      if (increment(via, key) != 200) {
        ADD_FAILURE() << "increment of " << key << " failed";
        return {};
      }
      if (owner_seen_by(via, key) == owner && in_sync_on(via, key, replica)) return key;
    }
    return {};
  }

  void start_three(const std::vector<std::string>& extra = {}) {
    for (auto id : {"n1", "n2", "n3"}) start_replicated(id, extra);
    for (auto& node : nodes_)
      ASSERT_TRUE(
          eventually([&] { return member_ids(*node).size() == 3; }, std::chrono::seconds{5}));
  }
};

}  // namespace keel::test
