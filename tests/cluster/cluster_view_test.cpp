#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd.pb.h"

namespace keel::cluster {
namespace {

using namespace std::chrono_literals;

class ClusterView : public ::testing::Test {
 protected:
  void put(etcd::WatchResponse& res, const std::string& key, const std::string& value,
           int64_t revision) {
    auto* ev = res.add_events();
    ev->set_type(etcd::Event::PUT);
    ev->mutable_kv()->set_key(key);
    ev->mutable_kv()->set_value(value);
    ev->mutable_kv()->set_mod_revision(revision);
  }
  void put_partition(etcd::WatchResponse& res, uint32_t p, const std::string& owner, uint64_t epoch,
                     int64_t revision) {
    put(res, keys_.partition(p),
        R"({"owner":")" + owner + R"(","epoch":")" + std::to_string(epoch) +
            R"(","state":"active"})",
        revision);
  }
  void put_member(etcd::WatchResponse& res, const std::string& id, int64_t revision) {
    put(res, keys_.member(id), R"({"nodeId":")" + id + R"("})", revision);
  }

  cluster_keys keys_{"c"};
  cluster_view view_{
      keys_, "n1",
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>())};
};

TEST_F(ClusterView, OneWatchResponseIsPublishedAsOneSnapshot) {
  auto before = view_.current();
  etcd::WatchResponse res;
  put_member(res, "n1", 5);
  put_member(res, "n2", 5);
  put_partition(res, 7, "n2", 1, 5);
  put(res, keys_.coordinator, "n2", 5);
  std::vector<uint32_t> notified;
  view_.set_partition_listener([&](uint32_t p, const auto& was, const auto& now) {
    // Told after the whole response is visible: the listener sees the members too.
    EXPECT_EQ(view_.current()->members.size(), 2u);
    EXPECT_FALSE(was);
    ASSERT_TRUE(now);
    EXPECT_EQ(now->owner(), "n2");
    notified.push_back(p);
  });
  view_.apply(res);
  auto after = view_.current();
  ASSERT_NE(after, before);
  EXPECT_EQ(after->revision, 5);
  EXPECT_EQ(after->coordinator, "n2");
  ASSERT_NE(after->partition(7), nullptr);
  EXPECT_EQ(after->partition(7)->owner(), "n2");
  EXPECT_EQ(after->owned_by("n2"), 1u);
  EXPECT_EQ(notified, std::vector<uint32_t>{7});
  // The snapshot a reader held is immutable: it still shows the cluster before.
  EXPECT_TRUE(before->members.empty());
  EXPECT_EQ(before->partition(7), nullptr);
  EXPECT_EQ(before->revision, 0);
}

TEST_F(ClusterView, AnOwnWriteIsNotRolledBackByTheWatchRepeatingAnOlderRecord) {
  PartitionRecord mine;
  mine.set_owner("n1");
  mine.set_epoch(4);
  view_.record_partition(9, mine, 12);
  etcd::WatchResponse late;
  put_partition(late, 9, "n2", 3, 10);
  view_.apply(late);
  ASSERT_NE(view_.current()->partition(9), nullptr);
  EXPECT_EQ(view_.current()->partition(9)->owner(), "n1");
  EXPECT_EQ(view_.current()->partitions.find(9)->mod_revision, 12);
}

TEST_F(ClusterView, ChangingOnePartitionSharesTheOthersWithTheSnapshotBefore) {
  etcd::WatchResponse res;
  for (uint32_t p = 0; p < 200; ++p) put_partition(res, p, "n1", 1, 3);
  view_.apply(res);
  auto before = view_.current();
  etcd::WatchResponse one;
  put_partition(one, 150, "n2", 2, 4);
  view_.apply(one);
  auto after = view_.current();
  EXPECT_EQ(after->partition(150)->owner(), "n2");
  EXPECT_EQ(before->partition(150)->owner(), "n1");
  // Unchanged records are the same objects in both, not copies.
  EXPECT_EQ(after->partitions.find(3), before->partitions.find(3));
  EXPECT_EQ(after->partitions.find(199), before->partitions.find(199));
  size_t placed = 0;
  after->partitions.for_each([&](uint32_t, const versioned_record&) { ++placed; });
  EXPECT_EQ(placed, 200u);
}

TEST_F(ClusterView, DrainMarksLeaveTheMemberOutOfPlacementTargets) {
  etcd::WatchResponse res;
  put_member(res, "n1", 2);
  put_member(res, "n2", 2);
  put(res, keys_.drain_mark("n2"), "keelctl drain", 3);
  view_.apply(res);
  EXPECT_EQ(view_.current()->placement_targets(), std::vector<std::string>{"n1"});
  EXPECT_TRUE(view_.is_draining("n2"));
}

TEST_F(ClusterView, WaitForChangeReturnsWhenASnapshotIsPublished) {
  auto seen = view_.current();
  EXPECT_EQ(view_.wait_for_change(seen, 0ms), seen) << "nothing was published";
  std::promise<snapshot_ptr> woke;
  std::thread waiter{[&] { woke.set_value(view_.wait_for_change(seen, 60s)); }};
  view_.set_draining("n3", "test");
  auto got = woke.get_future().get();
  waiter.join();
  EXPECT_NE(got, seen);
  EXPECT_TRUE(got->is_draining("n3"));
}

TEST_F(ClusterView, TwoChangesOfOnePartitionInOneResponseAreReportedAsTheyHappened) {
  etcd::WatchResponse placed;
  put_partition(placed, 4, "n2", 1, 2);
  view_.apply(placed);
  // A flip to n1 and, in the same response, the next move marked: the listener must see
  // the flip (n1 opens the partition and releases its held calls) before the mark.
  etcd::WatchResponse res;
  put_partition(res, 4, "n1", 2, 3);
  put(res, keys_.partition(4), R"({"owner":"n1","epoch":"2","state":"moving","to":"n3"})", 4);
  std::vector<std::string> seen;
  view_.set_partition_listener([&](uint32_t, const auto& was, const auto& now) {
    ASSERT_TRUE(was);
    ASSERT_TRUE(now);
    seen.push_back(was->owner() + "@" + std::to_string(was->epoch()) + " -> " + now->owner() + "@" +
                   std::to_string(now->epoch()) +
                   (now->state() == PartitionRecord::moving ? " moving to " + now->to() : ""));
  });
  view_.apply(res);
  EXPECT_EQ(seen, (std::vector<std::string>{"n2@1 -> n1@2", "n1@2 -> n1@2 moving to n3"}));
}

TEST_F(ClusterView, AReloadReportsRecordsThatAreGone) {
  etcd::WatchResponse res;
  put_partition(res, 1, "n1", 1, 2);
  put_partition(res, 2, "n2", 1, 2);
  view_.apply(res);
  etcd::RangeResponse reload;  // after a compaction: partition 2's record was deleted
  reload.mutable_header()->set_revision(9);
  auto* kv = reload.add_kvs();
  kv->set_key(keys_.partition(1));
  kv->set_value(R"({"owner":"n1","epoch":"1","state":"active"})");
  kv->set_mod_revision(2);
  std::vector<std::pair<uint32_t, bool>> seen;  // (partition, still placed)
  view_.set_partition_listener(
      [&](uint32_t p, const auto&, const auto& now) { seen.emplace_back(p, now.has_value()); });
  view_.load(reload);
  EXPECT_EQ(seen, (std::vector<std::pair<uint32_t, bool>>{{2, false}}));
  EXPECT_EQ(view_.current()->partition(2), nullptr);
  EXPECT_EQ(view_.watched_revision(), 9);
}

TEST_F(ClusterView, OwnWritesDoNotMoveWhereTheWatchResumes) {
  etcd::WatchResponse res;
  put_member(res, "n2", 5);
  view_.apply(res);
  EXPECT_EQ(view_.watched_revision(), 5);
  PartitionRecord mine;
  mine.set_owner("n1");
  mine.set_epoch(1);
  view_.record_partitions({{7, mine}, {8, mine}}, 20);
  EXPECT_EQ(view_.current()->revision, 20);
  EXPECT_EQ(view_.watched_revision(), 5) << "events 6..19 of other nodes would be skipped";
}

TEST_F(ClusterView, NothingIsPublishedWhenNothingChanged) {
  PartitionRecord rec;
  rec.set_owner("n1");
  view_.adopt_partitions({{3, {rec, 4}}});
  auto before = view_.current();
  view_.adopt_partitions({{3, {rec, 6}}});  // known already
  view_.clear_coordinator("n9");            // not the coordinator
  view_.clear_draining("n9");               // not draining
  etcd::WatchResponse empty;                // the watch's "created" response
  view_.apply(empty);
  EXPECT_EQ(view_.current(), before);
  EXPECT_EQ(view_.current()->partitions.find(3)->mod_revision, 4);
}

}  // namespace
}  // namespace keel::cluster
