// What a replica refuses to apply (DESIGN.md "Replication and failover"): writes that are
// malformed, from anyone but the partition's owner at its current epoch, to a node that is
// not its replica, or out of sequence. A pure function of the record and the writes.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "keel/cluster/replica_check.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::cluster {
namespace {

class ReplicaCheck : public ::testing::Test {
 protected:
  ReplicaCheck() {
    rec_.set_owner("n1");
    rec_.set_epoch(4);
    rec_.set_state(PartitionRecord::active);
    rec_.add_replicas("n2");
    rec_.add_isr("n2");
    writes_.partition = 7;
    writes_.epoch = 4;
    writes_.seq = 3;
    add_write(partition_prefix(7, record_kind::state) + "counter/a");
  }

  void add_write(std::string key) {
    writes_.keys.push_back(std::move(key));
    writes_.values.push_back("v");
    writes_.erase.push_back(0);
  }

  static ReplicaSequence at(uint64_t epoch, uint64_t seq) {
    ReplicaSequence out;
    out.set_epoch(epoch);
    out.set_seq(seq);
    return out;
  }

  // The refusal's code and message; {0, ""} if the writes may be applied.
  std::pair<int, std::string> check(std::optional<ReplicaSequence> last,
                                    const std::string& from = "n1",
                                    const std::string& self = "n2") {
    auto err = check_replicated(known_ ? &rec_ : nullptr, self, from, writes_, last);
    if (!err) return {0, ""};
    return {static_cast<int>(code_of(err)), message_of(err)};
  }

  static constexpr int conflict = static_cast<int>(errc::conflict);
  static constexpr int bad_payload = static_cast<int>(errc::bad_payload);
  PartitionRecord rec_;
  bool known_ = true;
  wire_partition_writes writes_;
};

TEST_F(ReplicaCheck, TheOwnersNextCommitAtTheCurrentEpochIsApplied) {
  EXPECT_EQ(check(at(4, 2)).first, 0);
}

TEST_F(ReplicaCheck, TheFirstCommitOfAnEpochFollowsAnyOlderEpochOrNothing) {
  writes_.seq = 1;
  EXPECT_EQ(check(at(3, 90)).first, 0);
  EXPECT_EQ(check(std::nullopt).first, 0);
  writes_.seq = 2;
  EXPECT_EQ(check(std::nullopt),
            std::make_pair(conflict, std::string{"commit 2 of partition 7 at epoch 4 is not the "
                                                 "next after none"}));
}

TEST_F(ReplicaCheck, AMissedOrRepeatedCommitIsRefused) {
  EXPECT_EQ(check(at(4, 1)),
            std::make_pair(conflict, std::string{"commit 3 of partition 7 at epoch 4 is not the "
                                                 "next after 1 at epoch 4"}));
  EXPECT_EQ(check(at(4, 3)).first, conflict);
  EXPECT_EQ(check(at(5, 1)).first, conflict) << "an epoch later than the writes' was seen";
}

TEST_F(ReplicaCheck, WritesFromAnOlderEpochAreRefused) {
  rec_.set_epoch(5);
  EXPECT_EQ(check(at(4, 2)),
            std::make_pair(conflict, std::string{"partition 7 is at epoch 5, the writes at 4"}));
}

TEST_F(ReplicaCheck, WritesAheadOfTheTableOrFromANonOwnerAreRefused) {
  EXPECT_EQ(check(at(4, 2), "n3"),
            std::make_pair(conflict,
                           std::string{"the table does not give partition 7 to n3 at epoch 4"}));
  rec_.set_epoch(3);
  EXPECT_EQ(check(at(4, 2)).first, conflict);
}

TEST_F(ReplicaCheck, AnUnknownPartitionOrANodeThatIsNotAReplicaRefuses) {
  EXPECT_EQ(check(at(4, 2), "n1", "n3"),
            std::make_pair(conflict, std::string{"node n3 is not a replica of partition 7"}));
  known_ = false;
  EXPECT_EQ(check(at(4, 2)),
            std::make_pair(conflict, std::string{"partition 7 has no owner in this node's table"}));
}

TEST_F(ReplicaCheck, MalformedWritesAreRefusedAsBadPayload) {
  auto refused = [&](const std::string& message) {
    EXPECT_EQ(check(at(4, 2)), std::make_pair(bad_payload, message));
  };
  auto good = writes_;
  writes_.partition = partition_count;
  refused("partition 4096 does not exist");
  writes_ = good;
  writes_.values.push_back("extra");
  refused("writes for partition 7 have 1 keys, 2 values and 1 erase flags");
  writes_ = good;
  writes_.seq = 0;
  refused("writes for partition 7 carry sequence 0");
  writes_ = good;
  add_write(partition_prefix(8, record_kind::state) + "counter/b");
  refused("writes for partition 7 touch a key outside its actors' records");
  writes_ = good;
  add_write(replica_sequence_key(7));
  refused("writes for partition 7 touch a key outside its actors' records");
  writes_ = good;
  add_write("meta/partition_count");
  refused("writes for partition 7 touch a key outside its actors' records");
}

}  // namespace
}  // namespace keel::cluster
