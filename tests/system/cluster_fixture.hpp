#pragma once

// What the cluster system tests share: a real etcd on free loopback ports, keel-node
// processes joined to it, and helpers that read their views over HTTP.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/test/etcd_process.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {

using namespace std::chrono_literals;
using cluster::ClusterView;

// The owner of `type`/`key`'s partition as `node` reports it.
inline std::string owner_seen_by(node_process& node, const std::string& key,
                                 const std::string& type = "counter") {
  auto body = node.get("/v1/actors/" + type + "/" + key).body;
  cluster::ActorLocation where;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, &where).ok()) << body;
  return where.node();
}

inline std::string counter_body(int64_t value) {
  return R"({"value":")" + std::to_string(value) + R"("})";
}

class Cluster : public ::testing::Test {
 protected:
  Cluster() : etcd_(std::make_unique<etcd_process>(dir_.path())) {}

  node_process& start_node(const std::string& id, const std::vector<std::string>& extra = {}) {
    return start_node_via(etcd_->endpoint(), id, extra);
  }

  // A node that reaches etcd at `etcd` (a proxy the test may cut), not at etcd_ itself.
  node_process& start_node_via(const std::string& etcd, const std::string& id,
                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"--node-id=" + id, "--etcd=" + etcd, "--cluster-port=0",
                                  "--lease-ttl=2s", "--log-level=info"};
    if (!copies_.empty()) args.push_back("--replication-factor=" + copies_);
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(std::make_unique<node_process>(dir_.sub(id), std::move(args)));
    return *nodes_.back();
  }

  // Starts n1 and n2 and waits (at most 5 s) until n1 sees both; a failure is added if it
  // does not. `auto [n1, n2] = start_pair();` binds references to the two nodes.
  std::pair<node_process&, node_process&> start_pair() {
    auto& n1 = start_node("n1");
    auto& n2 = start_node("n2");
    EXPECT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s)) << n1.log();
    return {n1, n2};
  }

  // GETs `path` and parses its JSON as a `View`, expecting a 200.
  template <class View>
  static View get_json(node_process& node, const std::string& path) {
    auto reply = node.get(path);
    View out;
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply.body, &out).ok()) << reply.body;
    return out;
  }

  static ClusterView view(node_process& node) { return get_json<ClusterView>(node, "/v1/cluster"); }

  // The members up, as `node` sees them (a down owner is listed too, with status "down").
  static std::set<std::string> member_ids(node_process& node) {
    std::set<std::string> ids;
    auto v = view(node);  // a loop over view(node).members() would outlive the view
    for (const auto& m : v.members())
      if (m.status() == "up") ids.insert(m.node_id());
    return ids;
  }

  static int increment(node_process& node, const std::string& key) {
    return node.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})").status;
  }

  // Increments counters `<prefix>0`, `<prefix>1`, … once each through `via` until one is
  // owned by `owner` and stays there, and returns its key: a counter at 1 on that node.
  // Empty if none was. "Stays": `owner` is also its rendezvous owner among the members
  // `via` sees, so no rebalance moves it. A coordinator whose watch had not yet shown it
  // a member placed partitions among the others, and the rebalance then moved them.
  static std::string counter_owned_by(node_process& via, const std::string& owner,
                                      const std::string& prefix) {
    auto up = member_ids(via);
    std::vector<std::string> members{up.begin(), up.end()};
    for (int k = 0; k < 1000; ++k) {
      auto key = prefix + std::to_string(k);
      if (increment(via, key) != 200) {
        ADD_FAILURE() << "increment of " << key << " failed";
        return {};
      }
      auto p = actor_id{"counter", key}.partition();
      if (owner_seen_by(via, key) == owner &&
          cluster::membership::rendezvous_owner(p, members) == owner)
        return key;
    }
    return {};
  }

  // The create revision of the node's membership key in etcd; 0 if it has none.
  int64_t registration_of(const std::string& node_id) {
    cluster::etcd_client etcd{etcd_->endpoint()};
    auto res = etcd.get_prefix(cluster::membership::member_key("keel", node_id));
    EXPECT_TRUE(res) << keel::message_of(res.error());
    return res && res->kvs_size() == 1 ? res->kvs(0).create_revision() : 0;
  }

  // The copies every node is started with: one, since these tests check what a cluster
  // without replicas does (a dead owner's partitions wait for it); replication_test.cpp
  // clears it. Empty: the cluster's default.
  std::string copies_ = "1";
  temp_dir dir_;
  std::unique_ptr<etcd_process> etcd_;
  std::vector<std::unique_ptr<node_process>> nodes_;
};

}  // namespace keel::test
