// Replicas caught up while their partition serves (DESIGN.md "Replication and failover",
// catch-up): what is kept, sent, awaited and when a learner may join `isr`. The sends are
// recorded and answered by the test.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "keel/cluster/replica_learners.hpp"

namespace keel::cluster {
namespace {

using namespace std::chrono_literals;

struct sent_batch {
  std::string replica;
  uint64_t seq = 0;
  std::function<void(std::string)> answer;
};

class ReplicaLearners : public ::testing::Test {
 protected:
  ReplicaLearners() { make(64 << 20); }

  void make(size_t limit) {
    learners_ = replica_learners::make(
        "n1",
        [this](const std::string& replica, wire_replicate msg,
               std::function<void(std::string)> answered) {
          EXPECT_EQ(msg.from, "n1");
          EXPECT_EQ(msg.parts.size(), 1u);
          sent_.push_back({replica, msg.parts.at(0).seq, std::move(answered)});
        },
        limit);
  }

  // Batch `seq` of partition 7 at epoch 3, under a record last changed at `revision`.
  std::vector<std::string> take(uint64_t seq, uint64_t epoch = 3, int64_t revision = 10) {
    wire_partition_writes part{7, epoch, seq, {"key"}, {"value"}, {0}};
    versioned_record rec;
    rec.record.set_owner("n1");
    rec.record.set_epoch(epoch);
    rec.mod_revision = revision;
    std::vector<std::string> gated;
    learners_->take(part, rec, gated);
    return gated;
  }

  std::vector<uint64_t> sent_seqs() const {
    std::vector<uint64_t> out;
    for (const auto& s : sent_) out.push_back(s.seq);
    return out;
  }

  void answer_all(const std::string& why = {}) {
    for (auto& s : sent_)
      if (s.answer) std::exchange(s.answer, nullptr)(why);
  }

  // A learner of partition 7 on n2, live and gated: about to join `isr`.
  replica_learners::handle gated_learner() {
    auto l = learners_->add(7, 3, "n2");
    take(5);
    EXPECT_EQ(learners_->go_live(l), "");
    answer_all();
    EXPECT_EQ(learners_->gate(l, 1s), "");
    return l;
  }

  std::shared_ptr<replica_learners> learners_;
  std::vector<sent_batch> sent_;
};

TEST_F(ReplicaLearners, BatchesMadeWhileTheCopyStreamsAreSentInOrderOnceItIsIn) {
  auto l = learners_->add(7, 3, "n2");
  EXPECT_TRUE(take(5).empty());
  EXPECT_TRUE(take(6).empty());
  EXPECT_TRUE(sent_.empty()) << "sent before the copy was in";
  EXPECT_EQ(learners_->go_live(l), "");
  EXPECT_EQ(sent_seqs(), (std::vector<uint64_t>{5, 6}));
  EXPECT_TRUE(take(7).empty()) << "a turn waits for a learner that is still behind";
  EXPECT_EQ(sent_seqs(), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(sent_.back().replica, "n2");
}

TEST_F(ReplicaLearners, OnceCaughtUpLaterBatchesWaitForTheLearner) {
  auto l = learners_->add(7, 3, "n2");
  take(5);
  ASSERT_EQ(learners_->go_live(l), "");
  take(6);
  answer_all();
  ASSERT_EQ(learners_->gate(l, 1s), "");
  EXPECT_EQ(take(7), std::vector<std::string>{"n2"});
  EXPECT_EQ(sent_.size(), 2u) << "an awaited batch goes with the gate's own message";
}

TEST_F(ReplicaLearners, ALearnerThatRefusesABatchNeverJoins) {
  auto l = learners_->add(7, 3, "n2");
  take(5);
  ASSERT_EQ(learners_->go_live(l), "");
  answer_all("out of sequence");
  EXPECT_EQ(learners_->gate(l, 1s), "out of sequence");
  EXPECT_FALSE(learners_->begin_isr_write(l));
  learners_->remove(l);
  EXPECT_FALSE(learners_->any());
  EXPECT_TRUE(take(6).empty());
}

TEST_F(ReplicaLearners, ALearnerThatDoesNotAnswerInTimeNeverJoins) {
  auto l = learners_->add(7, 3, "n2");
  take(5);
  ASSERT_EQ(learners_->go_live(l), "");
  EXPECT_NE(learners_->gate(l, 0ms).find("did not acknowledge commit 5"), std::string::npos);
  EXPECT_FALSE(learners_->begin_isr_write(l));
}

TEST_F(ReplicaLearners, AnEpochChangeFailsTheLearner) {
  auto l = learners_->add(7, 3, "n2");
  take(1, 4);
  EXPECT_NE(learners_->go_live(l).find("epoch is now 4"), std::string::npos);
  EXPECT_FALSE(learners_->any()) << "a failed learner is forgotten by the next batch";
}

TEST_F(ReplicaLearners, TooManyWritesWhileTheCopyStreamsFailTheLearner) {
  make(8);  // bytes; one batch of this test holds "key" and "value" and one erase flag
  auto l = learners_->add(7, 3, "n2");
  take(5);
  EXPECT_NE(learners_->go_live(l).find("while its copy streamed"), std::string::npos);
}

TEST_F(ReplicaLearners, AMoveCancelsALearnerNotYetInTheInSyncSet) {
  auto l = learners_->add(7, 3, "n2");
  learners_->cancel(7);
  EXPECT_EQ(learners_->go_live(l), "the partition is being handed off");
  learners_->remove(l);
  EXPECT_FALSE(learners_->any());
}

TEST_F(ReplicaLearners, ANewCatchUpReplacesTheEarlierOne) {
  auto first = learners_->add(7, 3, "n2");
  auto second = learners_->add(7, 3, "n2");
  EXPECT_EQ(learners_->go_live(first), "a new catch-up replaced it");
  EXPECT_EQ(learners_->go_live(second), "");
}

// In `isr` from revision 100 on: a batch numbered under an older view of the record still
// waits for the learner; one under the new record leaves that to the in-sync set.
TEST_F(ReplicaLearners, StaysAwaitedUntilTheGateSeesTheRecordThatListsIt) {
  auto l = gated_learner();
  ASSERT_TRUE(learners_->begin_isr_write(l));
  learners_->end_isr_write(l, 100);
  learners_->remove(l);  // the catch-up ended: a learner in `isr` stays until seen there
  EXPECT_EQ(take(6, 3, 99), std::vector<std::string>{"n2"});
  EXPECT_TRUE(take(7, 3, 100).empty());
  EXPECT_FALSE(learners_->any());
}

TEST_F(ReplicaLearners, AFailedIsrWriteLeavesTheLearnerOut) {
  auto l = gated_learner();
  ASSERT_TRUE(learners_->begin_isr_write(l));
  learners_->end_isr_write(l, 0);
  learners_->remove(l);
  EXPECT_FALSE(learners_->any());
}

// The gate's shrink for a learner that failed while it was being written into `isr` waits
// for that write, so that the view it reads next shows whether to remove it.
TEST_F(ReplicaLearners, AFailureDuringTheIsrWriteWaitsForTheWrite) {
  auto l = gated_learner();
  ASSERT_TRUE(learners_->begin_isr_write(l));
  std::atomic<bool> returned{false};
  std::thread shrinker{[&] {
    learners_->failed(7, "n2", "no answer in time");
    returned = true;
  }};
  EXPECT_FALSE(returned.load());
  learners_->end_isr_write(l, 100);
  shrinker.join();
  EXPECT_TRUE(returned.load());
  // Written in: awaited until the gate's record shows it, then the shrink removes it.
  EXPECT_EQ(take(6, 3, 99), std::vector<std::string>{"n2"});
}

// Failed while its isr write is under way: the write may still land, so every batch until
// it ended waits for the learner (a turn answered without it could be missing on a replica
// etcd then lists in sync).
TEST_F(ReplicaLearners, AFailedLearnerIsAwaitedWhileItsIsrWriteIsUnderWay) {
  auto l = gated_learner();
  ASSERT_TRUE(learners_->begin_isr_write(l));
  std::thread shrinker{[&] { learners_->failed(7, "n2", "no answer in time"); }};
  // failed() records the failure, then waits for the write: seen through gate(), which
  // reports a failed learner (everything it was sent is acknowledged, so nothing else can).
  std::string why;
  while (why.empty()) why = learners_->gate(l, 0ms);
  EXPECT_EQ(why, "no answer in time");
  EXPECT_EQ(take(6), std::vector<std::string>{"n2"}) << "a batch numbered meanwhile";
  learners_->end_isr_write(l, 0);
  shrinker.join();
  EXPECT_TRUE(take(7).empty()) << "not written: forgotten once the write ended";
}

// An isr write of unknown outcome compared against revision 10: the learner stays awaited
// while the view still shows that record, and is left to the in-sync set once the view
// shows any later one (the write can no longer land, and the record says whether it did).
TEST_F(ReplicaLearners, AnIsrWriteOfUnknownOutcomeIsAwaitedUntilTheRecordChanges) {
  auto l = gated_learner();
  ASSERT_TRUE(learners_->begin_isr_write(l));
  learners_->end_isr_write(l, 11);
  learners_->remove(l);
  auto again = learners_->add(7, 3, "n2");  // a catch-up begun on a view that lags
  EXPECT_NE(learners_->go_live(again), "a new catch-up replaced it");
  EXPECT_EQ(learners_->failed(7, "n2", "refused"), 11) << "the shrink must not trust a view at 10";
  EXPECT_EQ(take(6, 3, 10), std::vector<std::string>{"n2"});
  EXPECT_TRUE(take(7, 3, 11).empty());
}

TEST_F(ReplicaLearners, AFailureBeforeTheIsrWriteKeepsTheLearnerOut) {
  auto l = gated_learner();
  learners_->failed(7, "n2", "no answer in time");
  EXPECT_FALSE(learners_->begin_isr_write(l));
  EXPECT_TRUE(take(6).empty());
}

TEST_F(ReplicaLearners, StoppingEndsEveryWait) {
  auto l = learners_->add(7, 3, "n2");
  take(5);
  ASSERT_EQ(learners_->go_live(l), "");
  learners_->stop();
  EXPECT_EQ(learners_->gate(l, 1h), "the node is stopping");
}

}  // namespace
}  // namespace keel::cluster
