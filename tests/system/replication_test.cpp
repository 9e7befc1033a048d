// Replication (DESIGN.md "Replication and failover") over a real etcd and real keel-node
// processes on loopback: copies written before a turn answers, the factor fixed at the
// cluster's creation, a dead replica leaving the in-sync set, --min-insync.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "replication_fixture.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;
using cluster::PartitionTableView;
using cluster::PartitionView;

// Every partition placed gets one replica other than its owner, in sync from the start.
TEST_F(Replication, PlacedPartitionsHaveAnInSyncReplicaOnAnotherNode) {
  start_three();
  for (int k = 0; k < 30; ++k) ASSERT_EQ(increment(*nodes_[0], "p" + std::to_string(k)), 200);
  auto table = get_json<PartitionTableView>(*nodes_[0], "/v1/cluster/partitions");
  ASSERT_GT(table.placed(), 0u);
  for (const auto& row : table.partitions()) {
    ASSERT_EQ(row.replicas_size(), 1) << row.partition();
    EXPECT_NE(row.replicas(0), row.owner()) << row.partition();
    ASSERT_EQ(row.isr_size(), 1) << row.partition();
    EXPECT_EQ(row.isr(0), row.replicas(0)) << row.partition();
  }
}

TEST_F(Replication, ReplicationFactorIsFixedWhenTheClusterIsCreated) {
  start_replicated("n1");
  std::string out;
  int rc = run_node_to_exit(
      {"--node-id=n2", "--etcd=" + etcd_->endpoint(), "--http-port=0", "--cluster-port=0",
       "--replication-factor=3", "--data-dir=" + dir_.sub("n2")},
      out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("--replication-factor=2"), std::string::npos) << out;
  EXPECT_NE(out.find("--replication-factor=3"), std::string::npos) << out;
  rc = run_node_to_exit(
      {"--node-id=n2", "--etcd=" + etcd_->endpoint(), "--http-port=0", "--cluster-port=0",
       "--replication-factor=2", "--min-insync=3", "--data-dir=" + dir_.sub("n2")},
      out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--min-insync=3 is more than --replication-factor=2"), std::string::npos)
      << out;
  // Without the flag a node adopts the cluster's; one that asks for more copies in sync
  // than the cluster keeps is refused.
  rc = run_node_to_exit({"--node-id=n2", "--etcd=" + etcd_->endpoint(), "--http-port=0",
                         "--cluster-port=0", "--min-insync=3", "--data-dir=" + dir_.sub("n2")},
                        out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("--min-insync=3 is more than cluster 'keel' keeps (--replication-factor=2)"),
            std::string::npos)
      << out;
  auto& n2 = start_node("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n2).size() == 2; }, 5s));
  for (int k = 0; k < 10; ++k) ASSERT_EQ(increment(n2, "a" + std::to_string(k)), 200);
  auto table = get_json<PartitionTableView>(n2, "/v1/cluster/partitions");
  for (const auto& row : table.partitions()) EXPECT_EQ(row.replicas_size(), 1) << row.partition();
}

// A new cluster keeps two copies unless its first node says otherwise.
TEST_F(Replication, ANewClusterKeepsTwoCopiesByDefault) {
  auto& n1 = start_node("n1");
  start_node("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  ASSERT_EQ(increment(n1, "d"), 200);
  auto row = partition_of(n1, "d");
  ASSERT_TRUE(row);
  ASSERT_EQ(row->replicas_size(), 1);
  EXPECT_NE(row->replicas(0), row->owner());
  cluster::etcd_client etcd{etcd_->endpoint()};
  auto factor = etcd.get_prefix("keel/keel/replication-factor");
  ASSERT_TRUE(factor);
  ASSERT_EQ(factor->kvs_size(), 1);
  EXPECT_EQ(factor->kvs(0).value(), "2");
}

// A replica that dies leaves the in-sync set, and its owner goes on acknowledging writes
// (--min-insync=1) while another member takes its place.
TEST_F(Replication, DeadReplicaLeavesTheInSyncSetAndItsOwnerGoesOnAcknowledging) {
  start_three();
  auto& n1 = *nodes_[0];
  auto key = counter_copied(n1, "n1", "n2", "d");
  ASSERT_FALSE(key.empty());
  nodes_[1]->stop(SIGKILL);
  int64_t acked = 1;
  for (int i = 0; i < 20; ++i) {
    auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
    ASSERT_EQ(reply.status, 200) << reply.body;
    acked = std::stoll(reply.body.substr(reply.body.find(":\"") + 2));
  }
  EXPECT_EQ(acked, 21);
  auto row = partition_of(n1, key);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->owner(), "n1");
  ASSERT_EQ(row->replicas_size(), 1);
  EXPECT_TRUE(row->isr().empty() || row->isr(0) != "n2") << "n2 is still in sync";
  // Either n1 dropped n2 from the in-sync set when a write found it gone, or the
  // coordinator had already replaced it with n3 (which n1 then catches up).
  auto shrinks = metric_value(n1.get("/metrics").body, "keel_isr_shrinks_total");
  if (row->replicas(0) == "n2") {
    EXPECT_EQ(shrinks, 1u);
  } else {
    EXPECT_EQ(row->replicas(0), "n3");
    EXPECT_TRUE(eventually([&] { return in_sync_on(n1, key, "n3"); }, 5s));
  }
}

// --min-insync=2 with two nodes: once the replica is gone, the owner acknowledges nothing;
// a write refused as `unavailable` did not happen.
TEST_F(Replication, WithMinInsyncTwoALoneOwnerRefusesWritesAndWritesNothing) {
  auto& n1 = start_replicated("n1", {"--min-insync=2"});
  start_replicated("n2", {"--min-insync=2"});
  for (auto& node : nodes_)
    ASSERT_TRUE(eventually([&] { return member_ids(*node).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "m");
  ASSERT_FALSE(key.empty());
  ASSERT_EQ(increment(n1, key), 200);  // at 2, on both copies
  nodes_[1]->stop(SIGKILL);
  // The first write after the death may be on n1's disk only: it is not acknowledged.
  auto first = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
  EXPECT_NE(first.status, 200) << first.body;
  auto before = value_of(n1, key);
  ASSERT_TRUE(before);
  EXPECT_TRUE(*before == 2 || *before == 3) << *before;
  for (int i = 0; i < 5; ++i) {
    auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
    EXPECT_EQ(reply.status, 503) << reply.body;
    EXPECT_NE(reply.body.find(R"("code":"unavailable")"), std::string::npos) << reply.body;
    EXPECT_NE(reply.body.find("--min-insync is 2"), std::string::npos) << reply.body;
  }
  EXPECT_EQ(value_of(n1, key), before) << "a refused write was applied";
}

// A replica paused past --replica-timeout leaves the in-sync set (the write that waited
// for it is acknowledged without it); resumed, it is caught up and in sync again, and a
// failover then promotes a copy with every acknowledged write.
TEST_F(Replication, ReplicaPausedPastTheTimeoutLeavesTheInSyncSetAndIsCaughtUpWhenResumed) {
  auto& n1 = start_replicated("n1");
  auto& n2 = start_replicated("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "z");
  ASSERT_FALSE(key.empty());
  ::kill(n2.pid(), SIGSTOP);
  // Waits out the 1 s timeout; resumed at once, before its 2 s lease can lapse.
  auto waited = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
  ::kill(n2.pid(), SIGCONT);
  ASSERT_EQ(waited.status, 200) << waited.body;
  for (int i = 0; i < 4; ++i) ASSERT_EQ(increment(n1, key), 200);  // at 6
  EXPECT_EQ(metric_value(n1.get("/metrics").body, "keel_isr_shrinks_total"), 1u);
  ASSERT_TRUE(eventually([&] { return in_sync_on(n1, key, "n2"); }, 5s))
      << "n2 was not caught up: " << n1.log();
  EXPECT_GE(metric_value(n1.get("/metrics").body, "keel_isr_expands_total"), 1u);
  ASSERT_EQ(increment(n1, key), 200);  // at 7, on both copies again
  nodes_[0]->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return value_of(n2, key).has_value(); }, 5s));
  EXPECT_EQ(value_of(n2, key), 7);
}

// A replica is caught up while its partition goes on serving: the writes made while its
// copy streams (n2 takes 3 s to ingest it) are answered during the catch-up, not after it,
// reach the replica after the copy, and are on it when the owner is killed.
TEST_F(Replication, WritesGoOnWhileAReplicaIsCaughtUpAndReachIt) {
  auto& n1 = start_replicated("n1");
  auto& n2 = start_replicated("n2", {"--test-handoff-delay=3s"});
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "l");
  ASSERT_FALSE(key.empty());
  ::kill(n2.pid(), SIGSTOP);
  auto waited = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
  ::kill(n2.pid(), SIGCONT);
  ASSERT_EQ(waited.status, 200) << waited.body;  // at 2, without n2
  auto running = [&] { return metric_value(n1.get("/metrics").body, "keel_catch_ups_running"); };
  ASSERT_TRUE(eventually([&] { return running() == 1; }, 5s)) << n1.log();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(increment(n1, key), 200);  // at 12
  EXPECT_EQ(running(), 1u) << "the writes waited for the catch-up to end";
  EXPECT_FALSE(in_sync_on(n1, key, "n2"));
  ASSERT_TRUE(eventually([&] { return in_sync_on(n1, key, "n2"); }, 10s))
      << "n2 was not caught up: " << n1.log();
  nodes_[0]->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return value_of(n2, key).has_value(); }, 5s));
  EXPECT_EQ(value_of(n2, key), 12);
}

// A replica whose data dir was lost comes back empty: its owner streams it the whole
// partition, and once in sync it holds every acknowledged write (it is promoted with them).
TEST_F(Replication, ReplicaBackWithAWipedDataDirIsCaughtUpWithEveryWrite) {
  auto& n1 = start_replicated("n1");
  start_replicated("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "w");
  ASSERT_FALSE(key.empty());
  for (int i = 0; i < 4; ++i) ASSERT_EQ(increment(n1, key), 200);  // at 5 on both
  nodes_[1]->stop(SIGKILL);
  std::filesystem::remove_all(dir_.sub("n2"));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(increment(n1, key), 200);  // at 10, on n1 only
  auto row = partition_of(n1, key);
  ASSERT_TRUE(row);
  ASSERT_EQ(row->isr_size(), 0) << "the dead replica is still listed in sync";
  // An empty data dir is refused while the table gives the node partitions or lists it in
  // sync: its own partitions are promoted to n1 first.
  ASSERT_TRUE(eventually(
      [&] {
        auto table = get_json<cluster::PartitionTableView>(n1, "/v1/cluster/partitions");
        return std::none_of(
            table.partitions().begin(), table.partitions().end(), [](const auto& r) {
              return r.owner() == "n2" ||
                     std::find(r.isr().begin(), r.isr().end(), "n2") != r.isr().end();
            });
      },
      5s));
  auto& back = start_replicated("n2");
  ASSERT_TRUE(eventually([&] { return in_sync_on(n1, key, "n2"); }, 10s))
      << "n2 was not caught up: " << n1.log();
  nodes_[0]->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return value_of(back, key).has_value(); }, 5s));
  EXPECT_EQ(value_of(back, key), 10);
}

// A drain moves each partition to its in-sync replica as a leadership transfer: nothing is
// streamed (n2 would wait 30 s before it ingested a stream), and the new owner serves
// every acknowledged write from the copy it kept.
TEST_F(Replication, DrainHandsPartitionsToTheirInSyncReplicaWithoutAStream) {
  auto& n1 = start_replicated("n1");
  auto& n2 = start_replicated("n2", {"--test-handoff-delay=30s"});
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "t");
  ASSERT_FALSE(key.empty());
  for (int i = 0; i < 4; ++i) ASSERT_EQ(increment(n1, key), 200);  // at 5
  ASSERT_EQ(n1.post("/v1/cluster/nodes/n1/drain", "").status, 202);
  EXPECT_EQ(n1.wait_exit(20s), 0) << "n1 did not hand its partitions over within 20 s";
  EXPECT_EQ(value_of(n2, key), 5);
  EXPECT_EQ(owner_seen_by(n2, key), "n2");
  EXPECT_EQ(increment(n2, key), 200);
}

// A drain never hands a partition to a hung in-sync replica without hearing from it: the
// paused target cannot answer that it holds every write, the stream to it fails, the move
// waits, and once its lease has lapsed the partition goes to a node that is up.
TEST_F(Replication, DrainNeverHandsAPartitionToAHungReplica) {
  start_three();
  auto& n1 = *nodes_[0];
  auto& n2 = *nodes_[1];
  auto& n3 = *nodes_[2];
  auto key = counter_copied(n3, "n1", "n2", "h");
  ASSERT_FALSE(key.empty());
  for (int i = 0; i < 4; ++i) ASSERT_EQ(increment(n3, key), 200);  // at 5 on n1 and n2
  ::kill(n2.pid(), SIGSTOP);
  ASSERT_EQ(n1.post("/v1/cluster/nodes/n1/drain", "").status, 202);
  EXPECT_EQ(n1.wait_exit(30s), 0) << n1.log();
  EXPECT_EQ(owner_seen_by(n3, key), "n3") << "the partition went to the paused node";
  EXPECT_EQ(value_of(n3, key), 5);
  ::kill(n2.pid(), SIGCONT);
}

}  // namespace
}  // namespace keel::test
