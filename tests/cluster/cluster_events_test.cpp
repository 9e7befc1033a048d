// Cluster events as a node's view derives them from the etcd history it follows: one watch
// response at a time, through cluster_view's publish listener, into a bounded log.
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_event_log.hpp"
#include "keel/cluster/cluster_events.hpp"
#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd.pb.h"

namespace keel::cluster {
namespace {

class fixed_wall : public wall_clock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = 1'800'000'000'000;
};

// "kind node to partitions detail" per event, in order.
std::vector<std::string> lines(const ClusterEvents& v) {
  std::vector<std::string> out;
  for (const auto& e : v.events())
    out.push_back(e.kind() + " " + e.node() + " " + e.to() + " " + std::to_string(e.partitions()) +
                  " " + e.detail());
  return out;
}

class ClusterEventsFromTheView : public ::testing::Test {
 protected:
  ClusterEventsFromTheView() {
    view_.set_publish_listener([this](const cluster_snapshot& before, const cluster_snapshot& after,
                                      const std::vector<partition_change>& changed) {
      log_.record(events_between(before, after, changed));
    });
    etcd::RangeResponse start;  // n1 and n2, partitions 1..3 on n1 with n2 in sync
    start.mutable_header()->set_revision(10);
    kv(start.add_kvs(), keys_.member("n1"), R"({"nodeId":"n1","httpAddress":"h1"})", 2);
    kv(start.add_kvs(), keys_.member("n2"), R"({"nodeId":"n2","httpAddress":"h2"})", 3);
    for (uint32_t p = 1; p <= 3; ++p)
      kv(start.add_kvs(), keys_.partition(p), record("n1", 1, "active", "", "n2"), 4);
    view_.load(start);
  }
  static void kv(etcd::KeyValue* kv, const std::string& key, const std::string& value,
                 int64_t revision) {
    kv->set_key(key);
    kv->set_value(value);
    kv->set_mod_revision(revision);
  }
  static std::string record(const std::string& owner, int epoch, const std::string& state,
                            const std::string& to, const std::string& isr) {
    std::string r = R"({"owner":")" + owner + R"(","epoch":")" + std::to_string(epoch) +
                    R"(","state":")" + state + '"';
    if (!to.empty()) r += R"(,"to":")" + to + '"';
    if (!isr.empty()) r += R"(,"replicas":[")" + isr + R"("],"isr":[")" + isr + R"("])";
    return r + "}";
  }
  void put(etcd::WatchResponse& res, const std::string& key, const std::string& value) {
    auto* ev = res.add_events();
    ev->set_type(etcd::Event::PUT);
    kv(ev->mutable_kv(), key, value, ++revision_);
  }
  void erase(etcd::WatchResponse& res, const std::string& key) {
    auto* ev = res.add_events();
    ev->set_type(etcd::Event::DELETE);
    kv(ev->mutable_kv(), key, "", ++revision_);
  }

  cluster_keys keys_{"c"};
  cluster_view view_{
      keys_, "n1",
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>())};
  std::shared_ptr<fixed_wall> wall_ = std::make_shared<fixed_wall>();
  cluster_event_log log_{4, wall_};
  int64_t revision_ = 10;
};

TEST_F(ClusterEventsFromTheView, TheFirstLoadIsNoEventAJoinAndADrainAre) {
  EXPECT_TRUE(log_.view("n1").events().empty());
  etcd::WatchResponse res;
  put(res, keys_.member("n3"), R"({"nodeId":"n3","httpAddress":"h3"})");
  put(res, keys_.drain_mark("n2"), "drain requested over HTTP");
  view_.apply(res);
  auto v = log_.view("n1");
  EXPECT_EQ(lines(v), (std::vector<std::string>{"member_joined n3  0 h3",
                                                "drain_started n2  0 drain requested over HTTP"}));
  EXPECT_EQ(v.events(0).seq(), 1u);
  EXPECT_EQ(v.events(1).seq(), 2u);
  EXPECT_EQ(v.events(1).time_ms(), wall_->now);
}

// One response may hold a move's `moving` and `active` records: each change is read on its
// own, so that is a handoff, never a failover.
TEST_F(ClusterEventsFromTheView, MovesInOneResponseAreOneHandoffEventPerPairOfNodes) {
  etcd::WatchResponse res;
  for (uint32_t p = 1; p <= 2; ++p)
    put(res, keys_.partition(p), record("n1", 1, "moving", "n2", ""));
  for (uint32_t p = 1; p <= 2; ++p) put(res, keys_.partition(p), record("n2", 2, "active", "", ""));
  put(res, keys_.partition(3), record("n1", 1, "moving", "n2", ""));
  put(res, keys_.partition(3), record("n1", 1, "active", "", ""));
  view_.apply(res);
  EXPECT_EQ(lines(log_.view("n1")), (std::vector<std::string>{"handoffs_aborted n1 n2 1 ",
                                                              "partitions_handed_off n1 n2 2 "}));
}

// A rebalance moves partitions one transaction at a time: moves between the same nodes
// within a second read as one event, stamped when the first was seen.
TEST_F(ClusterEventsFromTheView, HandoffsWithinASecondAddUpInOneEvent) {
  auto move = [&](uint32_t p, const std::string& to) {
    etcd::WatchResponse res;
    put(res, keys_.partition(p), record("n1", 1, "moving", to, ""));
    put(res, keys_.partition(p), record(to, 2, "active", "", ""));
    view_.apply(res);
  };
  const auto first = wall_->now;
  move(1, "n2");
  wall_->now += 600;
  move(2, "n3");
  move(3, "n2");
  wall_->now += 401;  // 1001 ms after the first n1 -> n2 event
  move(4, "n2");
  auto v = log_.view("n1");
  EXPECT_EQ(lines(v), (std::vector<std::string>{"partitions_handed_off n1 n2 2 ",
                                                "partitions_handed_off n1 n3 1 ",
                                                "partitions_handed_off n1 n2 1 "}));
  EXPECT_EQ(v.events(0).time_ms(), first);
  EXPECT_EQ(v.events(2).seq(), 3u);
}

TEST_F(ClusterEventsFromTheView, APromotionIsAFailoverAndAShrunkIsrIsOutOfSync) {
  etcd::WatchResponse res;
  erase(res, keys_.member("n1"));
  put(res, keys_.partition(1), record("n2", 2, "active", "", ""));
  put(res, keys_.partition(2), record("n2", 2, "active", "", ""));
  put(res, keys_.partition(3), R"({"owner":"n1","epoch":"1","state":"active","replicas":["n2"]})");
  view_.apply(res);
  EXPECT_EQ(
      lines(log_.view("n1")),
      (std::vector<std::string>{"member_left n1  0 deregistered or lease expired",
                                "partitions_failed_over n1 n2 2 ", "replicas_out_of_sync n2  1 "}));
}

// The coordinator publishes its progress when a rebalance starts and when it ends; one that
// did both between two responses this node saw is still one rebalance_finished.
TEST_F(ClusterEventsFromTheView, ARebalanceIsStartedAndFinishedOrFinishedAlone) {
  const std::string start =
      R"({"running":true,"planned":3,"reason":"why","coordinator":"n1","updatedMs":"5"})";
  const std::string end = R"({"running":false,"planned":3,"done":2,"failed":1,"reason":"why",)"
                          R"("coordinator":"n1","updatedMs":"9"})";
  for (const auto& value : {start, end}) {
    etcd::WatchResponse res;
    put(res, keys_.rebalance, value);
    view_.apply(res);
  }
  etcd::WatchResponse whole;  // the next rebalance, started and finished
  put(whole, keys_.rebalance, start);
  put(whole, keys_.rebalance, std::regex_replace(end, std::regex{"\"9\""}, "\"12\""));
  view_.apply(whole);
  EXPECT_EQ(lines(log_.view("n1")),
            (std::vector<std::string>{"rebalance_started n1  3 why",
                                      "rebalance_finished n1  2 2 moved, 1 aborted: why",
                                      "rebalance_finished n1  2 2 moved, 1 aborted: why"}));
}

// The log keeps its capacity's worth: the oldest go, and the numbering shows the gap.
TEST_F(ClusterEventsFromTheView, TheLogKeepsOnlyItsCapacityNewestLast) {
  for (int i = 0; i < 3; ++i) {
    etcd::WatchResponse res;
    put(res, keys_.member("n" + std::to_string(5 + i)), R"({"nodeId":"x"})");
    put(res, keys_.drain_mark("n" + std::to_string(5 + i)), "r");
    view_.apply(res);
  }
  auto v = log_.view("n1");
  EXPECT_EQ(v.capacity(), 4u);
  ASSERT_EQ(v.events_size(), 4);
  EXPECT_EQ(v.events(0).seq(), 3u);
  EXPECT_EQ(v.events(3).seq(), 6u);
  EXPECT_EQ(v.events(3).kind(), "drain_started");
  EXPECT_EQ(v.events(3).node(), "n7");
}

}  // namespace
}  // namespace keel::cluster
