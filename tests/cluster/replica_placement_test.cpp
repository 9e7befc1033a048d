// Who keeps the copies, and who is promoted when an owner dies: pure functions of a
// cluster snapshot (DESIGN.md "Replication and failover").
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/failover.hpp"
#include "keel/cluster/partition_placement.hpp"
#include "keel/cluster/replica_placement.hpp"

namespace keel::cluster {
namespace {

std::vector<std::string> ids(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

class Replicas : public ::testing::Test {
 protected:
  void member(const std::string& id) { now_.members[id].set_node_id(id); }
  void place(uint32_t p, const std::string& owner, std::vector<std::string> replicas,
             std::vector<std::string> isr, uint64_t epoch = 3, int64_t revision = 40) {
    auto rec = std::make_shared<versioned_record>();
    rec->record.set_owner(owner);
    rec->record.set_epoch(epoch);
    rec->record.set_state(PartitionRecord::active);
    for (auto& id : replicas) rec->record.add_replicas(id);
    for (auto& id : isr) rec->record.add_isr(id);
    rec->mod_revision = revision;
    now_.partitions.set(p, rec);
  }
  cluster_snapshot now_;
};

TEST_F(Replicas, ReplicasFollowTheOwnerInRendezvousOrderAndNeverNameIt) {
  std::vector<std::string> nodes{"n1", "n2", "n3", "n4", "n5"};
  for (uint32_t p = 0; p < 200; ++p) {
    auto owner = partition_placement::rendezvous_owner(p, nodes);
    auto copies = partition_placement::rendezvous_replicas(p, owner, nodes, 2);
    ASSERT_EQ(copies.size(), 2u);
    EXPECT_NE(copies[0], owner);
    EXPECT_NE(copies[1], owner);
    EXPECT_NE(copies[0], copies[1]);
    // The first replica is the owner among the others: who takes over if the owner goes.
    std::vector<std::string> others;
    for (const auto& n : nodes)
      if (n != owner) others.push_back(n);
    EXPECT_EQ(copies[0], partition_placement::rendezvous_owner(p, others)) << p;
  }
  EXPECT_TRUE(partition_placement::rendezvous_replicas(1, "n1", {"n1"}, 2).empty());
}

TEST_F(Replicas, DeadOwnerIsReplacedByItsFirstInSyncReplicaThatIsUpAtTheNextEpoch) {
  member("n2");
  member("n3");
  place(7, "n1", {"n2", "n3"}, {"n2", "n3"}, 3, 40);
  place(8, "n1", {"n2", "n3"}, {"n3"}, 5, 41);  // n2 fell out of sync
  place(9, "n2", {"n3"}, {"n3"});               // its owner is up: left alone
  auto plan = plan_promotions(now_);
  ASSERT_EQ(plan.size(), 2u);
  const auto& p7 = plan.at(7);
  EXPECT_EQ(p7.record.owner(), "n2");
  EXPECT_EQ(p7.record.epoch(), 4u);
  EXPECT_EQ(p7.record.state(), PartitionRecord::active);
  EXPECT_EQ(ids(p7.record.replicas()), std::vector<std::string>{"n3"});
  EXPECT_TRUE(p7.record.isr().empty()) << "the survivors must be caught up by the new owner";
  EXPECT_EQ(p7.mod_revision, 40) << "written only over the record it was planned from";
  EXPECT_EQ(plan.at(8).record.owner(), "n3");
  EXPECT_EQ(plan.at(8).record.epoch(), 6u);
}

TEST_F(Replicas, OfSeveralInSyncReplicasTheOneThatAppliedTheLatestCommitIsPromoted) {
  for (auto id : {"n2", "n3", "n4"}) member(id);
  place(7, "n1", {"n2", "n3", "n4"}, {"n2", "n3", "n4"});
  place(8, "n1", {"n2", "n3"}, {"n2", "n3"});
  place(9, "n1", {"n2", "n5"}, {"n2", "n5"});  // n5 is down: one candidate, nobody is asked
  auto asked = contested_promotions(now_);
  EXPECT_EQ(asked.at("n2"), (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(asked.at("n3"), (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(asked.at("n4"), (std::vector<uint32_t>{7}));
  EXPECT_EQ(asked.count("n5"), 0u);
  auto seq = [](uint64_t epoch, uint64_t n) {
    ReplicaSequence out;
    out.set_epoch(epoch);
    out.set_seq(n);
    return out;
  };
  applied_sequences applied{{{"n2", 7}, seq(3, 40)},
                            {{"n3", 7}, seq(3, 42)},
                            {{"n4", 7}, seq(3, 41)},
                            {{"n3", 8}, seq(2, 90)}};  // n2 did not answer about 8
  auto plan = plan_promotions(now_, applied);
  EXPECT_EQ(plan.at(7).record.owner(), "n3");
  EXPECT_EQ(ids(plan.at(7).record.replicas()), (std::vector<std::string>{"n2", "n4"}));
  EXPECT_EQ(plan.at(8).record.owner(), "n3") << "one that answered before one that did not";
  EXPECT_EQ(plan.at(9).record.owner(), "n2");
  EXPECT_EQ(plan_promotions(now_).at(7).record.owner(), "n2") << "no answers: isr order";
}

TEST_F(Replicas, AnOwnerWithNoInSyncReplicaUpIsNeverReplaced) {
  member("n3");
  place(7, "n1", {"n2", "n3"}, {"n2"});  // n3 is up but out of sync; n2 is down
  place(8, "n1", {"n2"}, {});
  EXPECT_TRUE(plan_promotions(now_).empty());
}

TEST_F(Replicas, DeadOrDrainingReplicasAreReplacedAndTheOthersKept) {
  for (auto id : {"n1", "n2", "n3", "n4"}) member(id);
  now_.draining["n4"] = "maintenance";
  place(1, "n1", {"n2", "n5"}, {"n2", "n5"});  // n5 is down
  place(2, "n1", {"n4"}, {"n4"});              // n4 is leaving
  place(3, "n1", {"n1", "n2"}, {"n2"});        // the owner is no copy of its own
  auto plan = plan_replica_changes(now_, 2);
  ASSERT_EQ(plan.count(1), 1u);
  auto r1 = ids(plan.at(1).record.replicas());
  ASSERT_EQ(r1.size(), 2u);
  EXPECT_EQ(r1[0], "n2");
  EXPECT_EQ(r1[1], "n3");
  EXPECT_EQ(ids(plan.at(1).record.isr()), std::vector<std::string>{"n2"})
      << "a new replica is in sync only after its catch-up";
  auto r2 = ids(plan.at(2).record.replicas());
  EXPECT_EQ(std::count(r2.begin(), r2.end(), "n4"), 0);
  EXPECT_TRUE(plan.at(2).record.isr().empty());
  auto r3 = ids(plan.at(3).record.replicas());
  EXPECT_EQ(std::count(r3.begin(), r3.end(), "n1"), 0);
  EXPECT_EQ(r3.size(), 2u);
}

TEST_F(Replicas, ACompleteCopySetIsLeftAlone) {
  for (auto id : {"n1", "n2", "n3"}) member(id);
  place(1, "n1", {"n3"}, {"n3"});
  place(2, "n2", {"n1"}, {});  // out of sync: its owner catches it up, nothing to choose
  EXPECT_TRUE(plan_replica_changes(now_, 1).empty());
}

}  // namespace
}  // namespace keel::cluster
