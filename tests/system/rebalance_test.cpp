// Rebalancing (DESIGN.md "Handoff") over a real etcd and real keel-node processes: joins,
// graceful leaves and drains under load lose no request and no increment; a move whose new
// owner or coordinator dies is aborted or resumed; reminders fire across a move.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <random>

#include "cluster_fixture.hpp"
#include "keel/rideshare/ride_id.hpp"
#include "keel/runtime/actor_id.hpp"

namespace keel::test {
namespace {

using cluster::PartitionTableView;

class Rebalance : public Cluster {
 protected:
  // The first `count` keys `prefix<k>` whose actor (`id_of(key)`) rendezvous places on n4
  // once n4 joins n1–n3: their partitions will move there.
  static std::vector<std::string> keys_moving_to_n4(
      const std::string& prefix, size_t count,
      const std::function<actor_id(const std::string&)>& id_of) {
    std::vector<std::string> keys;
    for (int k = 0; keys.size() < count && k < 1000; ++k) {
      auto key = prefix + std::to_string(k);
      if (cluster::membership::rendezvous_owner(id_of(key).partition(), {"n1", "n2", "n3", "n4"}) ==
          "n4")
        keys.push_back(key);
    }
    return keys;
  }

  // Whether `node` places every one of `actors` ("type/key") on n4.
  static bool all_on_n4(node_process& node, const std::vector<std::string>& actors) {
    for (const auto& actor : actors)
      if (node.get("/v1/actors/" + actor).body.find(R"("node":"n4")") == std::string::npos)
        return false;
    return true;
  }

  static PartitionTableView table(node_process& node) {
    return get_json<PartitionTableView>(node, "/v1/cluster/partitions");
  }

  // Whether `node`'s table has every placed partition active on its rendezvous owner among
  // `owners`, and no rebalance runs.
  static bool balanced(node_process& node, const std::vector<std::string>& owners) {
    auto rows = table(node);  // a loop over table(node).partitions() would outlive it
    for (const auto& row : rows.partitions())
      if (row.state() != "active" ||
          row.owner() != cluster::membership::rendezvous_owner(row.partition(), owners))
        return false;
    return !view(node).rebalance().running();
  }

  // Partitions owned by `owner` in `node`'s table.
  static int owned_by(node_process& node, const std::string& owner) {
    int n = 0;
    auto rows = table(node);
    for (const auto& row : rows.partitions()) n += row.owner() == owner;
    return n;
  }

  static int64_t counter_value(node_process& node, const std::string& key) {
    auto reply = node.post("/v1/actors/counter/" + key + "/Get", "{}");
    EXPECT_EQ(reply.status, 200) << key << ": " << reply.body;
    auto at = reply.body.find("\"value\":\"");
    return reply.status == 200 && at != std::string::npos ? std::stoll(reply.body.substr(at + 9))
                                                          : -1;
  }

  // Sets counters c0..c<n-1> to 1 through `via`.
  static void seed_counters(node_process& via, int n) {
    for (int c = 0; c < n; ++c) ASSERT_EQ(increment(via, "c" + std::to_string(c)), 200) << "c" << c;
  }

  // Starts n1..n3 (with `extra` flags), sets `counters` counters to 1 through n1 and waits
  // until every partition they use is on its owner among the three. Call it through
  // ASSERT_NO_FATAL_FAILURE.
  void start_three_with_counters(int counters, const std::vector<std::string>& extra = {}) {
    for (const auto* id : {"n1", "n2", "n3"}) three_.push_back(&start_node(id, extra));
    ASSERT_TRUE(eventually([&] { return member_ids(*three_[0]).size() == 3; }, 5s));
    seed_counters(*three_[0], counters);
    ASSERT_TRUE(eventually([&] { return balanced(*three_[0], {"n1", "n2", "n3"}); }, 30s));
  }

  std::vector<node_process*> three_;  // n1, n2, n3 once started
};

// Clients increment random counters through random nodes among `entries`, counting what
// was acknowledged, while the cluster changes under them. A node is taken out of the
// entries before it leaves, as a load balancer following /readyz would.
class counter_load {
 public:
  counter_load(std::vector<node_process*> entries, int counters, int clients = 4)
      : entries_(std::move(entries)), acked_(static_cast<size_t>(counters)) {
    for (int t = 0; t < clients; ++t)
      clients_.emplace_back([this, t, counters] {
        std::mt19937 rng{static_cast<unsigned>(t)};
        // Bounded: stops by itself after 10 minutes' worth of requests at most.
        for (int i = 0; !stop_.load() && i < 1'000'000; ++i) {
          auto c = static_cast<size_t>(rng() % static_cast<unsigned>(counters));
          node_process* via = nullptr;
          {
            std::lock_guard lock{mutex_};
            via = entries_[rng() % entries_.size()];
          }
          auto reply =
              via->post("/v1/actors/counter/c" + std::to_string(c) + "/Increment", R"({"by":1})");
          if (reply.status == 200) {
            acked_[c].fetch_add(1);
            ok_.fetch_add(1);
          } else {
            std::lock_guard lock{mutex_};
            failures_.push_back(std::to_string(reply.status) + " " + reply.body);
          }
        }
      });
  }
  ~counter_load() { stop(); }

  void add_entry(node_process* node) {
    std::lock_guard lock{mutex_};
    entries_.push_back(node);
  }
  void remove_entry(node_process* node) {
    std::lock_guard lock{mutex_};
    std::erase(entries_, node);
  }
  void stop() {
    stop_ = true;
    for (auto& c : clients_)
      if (c.joinable()) c.join();
  }
  int64_t acked(int c) const { return acked_[static_cast<size_t>(c)].load(); }
  int ok() const { return ok_.load(); }
  std::vector<std::string> failures() {
    std::lock_guard lock{mutex_};
    return failures_;
  }

 private:
  std::mutex mutex_;
  std::vector<node_process*> entries_;  // guarded by mutex_
  std::vector<std::string> failures_;   // guarded by mutex_
  std::vector<std::atomic<int64_t>> acked_;
  std::atomic<int> ok_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> clients_;
};

TEST_F(Rebalance, JoinLeaveAndDrainUnderLoadLoseNoRequestAndNoIncrement) {
  constexpr int counters = 100;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto& n1 = *three_[0];
  auto& n2 = *three_[1];
  auto& n3 = *three_[2];
  auto placed = table(n1).placed();
  ASSERT_GT(placed, 60u) << "100 counters should use ~100 partitions";

  // Sixteen clients through every node; n2 and n3 are taken out before they leave.
  counter_load load{{&n1, &n2, &n3}, counters, 16};
  std::this_thread::sleep_for(500ms);

  auto started = std::chrono::steady_clock::now();
  auto& n4 = start_node("n4");
  load.add_entry(&n4);
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3", "n4"}); }, 30s)) << n1.log();
  auto join_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  // Its share: rendezvous gives it about a quarter, and only what it gets moved.
  EXPECT_GT(owned_by(n1, "n4"), static_cast<int>(placed) / 8);
  EXPECT_GT(view(n1).rebalance().done(), 0u);

  load.remove_entry(&n2);
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(n2.stop(SIGTERM), 0) << n2.log();  // graceful: moves its partitions, then exits
  auto leave_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  EXPECT_EQ(owned_by(n1, "n2"), 0);
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n3", "n4"}); }, 30s));

  load.remove_entry(&n3);
  auto drain = n1.post("/v1/cluster/nodes/n3/drain", "");
  EXPECT_EQ(drain.status, 202) << drain.body;
  EXPECT_EQ(n3.wait_exit(30s), 0) << "a drained node leaves and exits 0";
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n4"}); }, 30s));
  EXPECT_EQ(member_ids(n1), (std::set<std::string>{"n1", "n4"}));

  std::this_thread::sleep_for(300ms);
  load.stop();
  auto failures = load.failures();
  EXPECT_TRUE(failures.empty()) << failures.size()
                                << " failed requests, the first: " << failures.front();
  EXPECT_GT(load.ok(), 500) << "the load was too light to mean anything";
  for (int c = 0; c < counters; ++c)
    EXPECT_EQ(counter_value(c % 2 ? n1 : n4, "c" + std::to_string(c)), 1 + load.acked(c))
        << "c" << c;
  EXPECT_LT(join_ms, 30000);
  EXPECT_LT(leave_ms, 30000);
  std::cout << "join of n4 balanced in " << join_ms << " ms, n2 left in " << leave_ms << " ms, "
            << load.ok() << " increments acknowledged meanwhile\n";
}

// A partition that moves to a joining node and back when it is drained is served by its
// first owner at the versions written meanwhile: every cached version of the range agrees
// with the disk after an ingest or a drop (the owner answered 409 "stale version" before).
TEST_F(Rebalance, PartitionMovedAwayAndBackTakesWritesAtOnce) {
  constexpr int counters = 60;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto& n1 = *three_[0];
  auto moving = keys_moving_to_n4("c", 5, [](const std::string& key) {
    return actor_id{"counter", key};
  });
  ASSERT_FALSE(moving.empty());
  auto& n4 = start_node("n4");
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3", "n4"}); }, 30s)) << n1.log();
  for (const auto& key : moving) ASSERT_EQ(increment(n1, key), 200) << key;  // now at 2, on n4
  auto drain = n1.post("/v1/cluster/nodes/n4/drain", "");
  ASSERT_EQ(drain.status, 202) << drain.body;
  EXPECT_EQ(n4.wait_exit(30s), 0) << "a drained node leaves and exits 0";
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3"}); }, 30s)) << n1.log();
  for (const auto& key : moving)
    for (auto* via : three_) {
      auto reply = via->post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
      EXPECT_EQ(reply.status, 200) << key << " through " << via->port() << ": " << reply.body;
    }
  for (const auto& key : moving) EXPECT_EQ(counter_value(n1, key), 5) << key;
}

// An operator's drain outlives a crash of the drained node: killed mid-drain, it is shown
// as draining while down, and when it returns it goes on draining and leaves; the counters
// keep every increment. A drain can be withdrawn.
TEST_F(Rebalance, DrainOfANodeKilledMidDrainResumesWhenItReturns) {
  constexpr int counters = 60;
  // Moves onto n1..n3 pause before they ingest, so the drain is still running at the kill.
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters, {"--test-handoff-delay=1s"}));
  auto& n1 = *three_[0];
  auto& n4 = start_node("n4");
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3", "n4"}); }, 30s)) << n1.log();
  auto on_n4 = owned_by(n1, "n4");
  ASSERT_GT(on_n4, 0);
  ASSERT_EQ(n1.post("/v1/cluster/nodes/n4/drain", "").status, 202);
  std::this_thread::sleep_for(200ms);
  n4.stop(SIGKILL);
  // Gone from the members (a leaving member is not "up", so member_ids() cannot tell).
  ASSERT_TRUE(eventually(
      [&] {
        auto now = view(n1);
        for (const auto& m : now.members())
          if (m.node_id() == "n4" && m.status() != "down") return false;
        return true;
      },
      5s));
  auto v = view(n1);
  ASSERT_EQ(v.draining_size(), 1);
  EXPECT_EQ(v.draining(0), "n4");
  EXPECT_GT(owned_by(n1, "n4"), 0) << "the drain finished before the kill: nothing to resume";
  std::string out;
  auto node = "--node=127.0.0.1:" + std::to_string(n1.port());
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "status"}, out), 0) << out;
  EXPECT_NE(out.find("draining     n4 (down: the drain resumes when it returns"), std::string::npos)
      << out;

  auto& back = start_node("n4");
  EXPECT_EQ(back.wait_exit(30s), 0) << "the returning node resumes its drain and leaves";
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3"}); }, 30s));
  EXPECT_EQ(view(n1).draining_size(), 0) << "a finished drain leaves no mark";
  for (int c = 0; c < counters; ++c) EXPECT_EQ(counter_value(n1, "c" + std::to_string(c)), 1);

  // Withdrawn before it finishes, a drain stops: the node stays and takes partitions again.
  auto& again = start_node("n4");
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3", "n4"}); }, 30s));
  ASSERT_EQ(n1.post("/v1/cluster/nodes/n4/drain", "").status, 202);
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "undrain", "n4"}, out), 0) << out;
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3", "n4"}); }, 30s));
  EXPECT_EQ(again.wait_exit(500ms), -1) << "a withdrawn drain does not end the node";
  EXPECT_EQ(view(n1).draining_size(), 0);
}

// A leaving coordinator resigns first; the next one moves its partitions away while
// clients keep incrementing through the nodes that stay.
TEST_F(Rebalance, CoordinatorLeavingGracefullyHandsItsOfficeAndItsPartitionsOn) {
  constexpr int counters = 60;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto old = view(*three_[0]).coordinator();
  ASSERT_FALSE(old.empty());
  auto index = static_cast<size_t>(old[1] - '1');
  auto& leaver = *three_[index];
  auto& stayer = *three_[(index + 1) % 3];
  std::vector<std::string> rest{"n1", "n2", "n3"};
  std::erase(rest, old);
  ASSERT_GT(owned_by(stayer, old), 0);
  {
    // Eight clients through both nodes that stay.
    counter_load load{{&stayer, three_[(index + 2) % 3]}, counters, 8};
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(leaver.stop(SIGTERM), 0) << leaver.log();
    std::this_thread::sleep_for(300ms);
    load.stop();
    auto failures = load.failures();
    EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures.front();
    ASSERT_TRUE(eventually([&] { return balanced(stayer, rest); }, 30s));
    EXPECT_EQ(owned_by(stayer, old), 0);
    auto next = view(stayer).coordinator();
    EXPECT_TRUE(next == rest[0] || next == rest[1]) << next;
    for (int c = 0; c < counters; ++c)
      EXPECT_EQ(counter_value(stayer, "c" + std::to_string(c)), 1 + load.acked(c)) << "c" << c;
  }
}

TEST_F(Rebalance, KillingTheNewOwnerMidMoveLeavesThePartitionsWithTheOldOnes) {
  constexpr int counters = 60;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto& n1 = *three_[0];
  // The hook pauses n4 before it writes what it was sent: it dies holding a stream.
  auto moving = keys_moving_to_n4("c", 1, [](const std::string& key) {
    return actor_id{"counter", key};
  });
  ASSERT_EQ(moving.size(), 1u);
  auto& n4 = start_node("n4", {"--test-handoff-delay=5s"});
  ASSERT_TRUE(eventually([&] { return n4.log().find("pausing") != std::string::npos; }, 10s))
      << n4.log();
  EXPECT_EQ(n4.stop(SIGKILL), 128 + SIGKILL);
  // A call held for a partition moving to the dead node is served as soon as the move is
  // aborted: the stream fails with the link, not after a retry or a deadline.
  auto killed_at = std::chrono::steady_clock::now();
  auto held = n1.post("/v1/actors/counter/" + moving[0] + "/Increment", R"({"by":1})",
                      {{"X-Request-Timeout", "10s"}});
  auto waited = std::chrono::steady_clock::now() - killed_at;
  EXPECT_EQ(held.status, 200) << held.body;
  EXPECT_LT(waited, 1500ms) << "the held call waited for the move's abort that long";
  std::cout << "a call held for a partition moving to the killed node was served after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms\n";
  // Every move is aborted back to its old owner, which serves it again with its data.
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3"}); }, 15s)) << n1.log();
  EXPECT_EQ(owned_by(n1, "n4"), 0);
  EXPECT_GT(view(n1).rebalance().failed(), 0u);
  for (int c = 0; c < counters; ++c) {
    auto key = "c" + std::to_string(c);
    EXPECT_EQ(counter_value(n1, key), key == moving[0] ? 2 : 1) << key;
  }
}

// A call to a moving partition waits; past its deadline it answers 503 `unavailable`
// (nothing ran), and it never runs later.
TEST_F(Rebalance, CallHeldPastItsDeadlineWhileItsPartitionMovesIs503AndNeverRuns) {
  constexpr int counters = 60;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto& n1 = *three_[0];
  auto& n4 = start_node("n4", {"--test-handoff-delay=5s"});
  ASSERT_TRUE(eventually([&] { return n4.log().find("pausing") != std::string::npos; }, 10s));
  // A counter whose partition is moving now, as n1 sees it: n4 pausing is news from n4,
  // and n1's watch may show the move a moment later.
  std::string key;
  auto moving_counter = [&] {
    std::set<uint32_t> moving;
    auto rows = table(n1);
    for (const auto& row : rows.partitions())
      if (row.state() == "moving") moving.insert(row.partition());
    for (int c = 0; c < counters; ++c)
      if (moving.count(actor_id{"counter", "c" + std::to_string(c)}.partition())) {
        key = "c" + std::to_string(c);
        return true;
      }
    return false;
  };
  ASSERT_TRUE(eventually(moving_counter, 5s)) << "no seeded counter is in a moving partition";
  auto started = std::chrono::steady_clock::now();
  auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})",
                       {{"X-Request-Timeout", "300ms"}});
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_NE(reply.body.find(R"("code":"unavailable")"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("was moving between nodes past the call's deadline"), std::string::npos)
      << reply.body;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 2s);
  // The move is aborted (n4 dies holding it); the held increment was never applied.
  EXPECT_EQ(n4.stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2", "n3"}); }, 15s));
  EXPECT_EQ(counter_value(n1, key), 1);
}

TEST_F(Rebalance, KillingTheCoordinatorMidRebalanceTheNextOneFinishesIt) {
  constexpr int counters = 60;
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(counters));
  auto& n1 = *three_[0];
  auto& n2 = *three_[1];
  auto& n3 = *three_[2];
  auto old = view(n1).coordinator();
  ASSERT_FALSE(old.empty());
  auto& n4 = start_node("n4", {"--test-handoff-delay=300ms"});
  ASSERT_TRUE(eventually([&] { return view(n4).rebalance().moving() > 0; }, 10s));
  node_process* victim = old == "n1" ? &n1 : old == "n2" ? &n2 : &n3;
  node_process& survivor = old == "n1" ? n2 : n1;
  victim->stop(SIGKILL);
  std::vector<std::string> live{"n1", "n2", "n3", "n4"};
  std::erase(live, old);
  // A new coordinator resumes the moves recorded in etcd. The victim's own partitions stay
  // with it (unavailable until it returns); every other one ends on its owner among the
  // live nodes.
  ASSERT_TRUE(eventually(
      [&] {
        auto v = view(survivor);
        if (v.coordinator().empty() || v.coordinator() == old || v.rebalance().running())
          return false;
        auto rows = table(survivor);
        for (const auto& row : rows.partitions()) {
          if (row.state() != "active") return false;
          if (row.owner() != old &&
              row.owner() != cluster::membership::rendezvous_owner(row.partition(), live))
            return false;
        }
        return true;
      },
      30s))
      << survivor.log();
  EXPECT_GT(owned_by(survivor, "n4"), 0);
  // The victim returns with its data; its share then moves on as planned.
  auto& back = start_node(old);
  ASSERT_TRUE(eventually(
      [&] {
        return balanced(n4, {"n1", "n2", "n3", "n4"});
      },
      30s))
      << back.log();
  for (int c = 0; c < counters; ++c)
    EXPECT_EQ(counter_value(n4, "c" + std::to_string(c)), 1) << "c" << c;
}

TEST_F(Rebalance, ReminderDueDuringAMoveFiresOnceOnTheNewOwner) {
  auto& n1 = start_node("n1", {"--test-actors"});
  start_node("n2", {"--test-actors"});
  start_node("n3", {"--test-actors"});
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  // Actors whose partitions will move to n4: the only partitions placed in this test.
  auto keys = keys_moving_to_n4("r", 4, [](const std::string& key) {
    return actor_id{"remind", key};
  });
  ASSERT_EQ(keys.size(), 4u);
  std::vector<std::string> actors;
  for (const auto& key : keys) actors.push_back("remind/" + key);
  constexpr int due_ms = 2500;
  for (const auto& key : keys) {
    auto reply = n1.post("/v1/actors/remind/" + key + "/Remind",
                         R"({"inMs":)" + std::to_string(due_ms) + "}");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  auto registered = std::chrono::steady_clock::now();
  // n4 waits 3 s before it writes each partition: the reminders fall due while theirs move.
  auto& n4 = start_node("n4", {"--test-actors", "--test-handoff-delay=3s"});
  ASSERT_TRUE(eventually([&] { return all_on_n4(n1, actors); }, 30s)) << n4.log();
  EXPECT_GT(std::chrono::steady_clock::now() - registered, std::chrono::milliseconds{due_ms})
      << "the moves ended before the reminders were due";
  auto fired = [&](const std::string& key) {
    auto reply = n1.post("/v1/actors/remind/" + key + "/GetReminders", "{}");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.body.find(R"("fired":"1")") != std::string::npos;
  };
  for (const auto& key : keys)
    EXPECT_TRUE(eventually([&] { return fired(key); }, 10s)) << key << ": " << n4.log();
  std::this_thread::sleep_for(1s);  // a duplicate firing would show now
  for (const auto& key : keys) EXPECT_TRUE(fired(key)) << key << " fired more than once";
}

// An old owner that died after the table flipped but before it dropped its copy: at its
// next start the later epoch says the partition was handed off, so the copy is dropped (a
// table that gives it away at the same epoch is still refused: see Cluster tests).
// An alert inbox keeps its alerts as entries, one record each beside its state: they move
// with the partition, and the inbox goes on numbering after them on the new owner.
TEST_F(Rebalance, AlertInboxEntriesMoveWithTheirPartition) {
  auto& n1 = start_node("n1");
  start_node("n2");
  start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  // Inboxes whose partitions will move to n4.
  // An inbox lives with its rider's group (the app's partition key, placement.hpp), which
  // this process did not declare: its partition is the group's.
  auto riders = keys_moving_to_n4("m", 3, [](const std::string& rider) {
    return actor_id{"rider-group", rideshare::rider_group_of(rider)};
  });
  ASSERT_EQ(riders.size(), 3u);
  std::vector<std::string> inboxes;
  for (const auto& rider : riders) inboxes.push_back("alerts/rider:" + rider);
  auto add = [&](const std::string& rider, const std::string& text) {
    auto reply = n1.post("/v1/actors/alerts/rider:" + rider + "/AddAlert",
                         R"({"alert":{"kind":"test","text":")" + text + R"("}})");
    ASSERT_EQ(reply.status, 200) << reply.body;
  };
  auto texts = [&](const std::string& rider) {
    auto reply = n1.get("/v1/riders/" + rider + "/alerts");
    EXPECT_EQ(reply.status, 200) << reply.body;
    std::vector<std::string> out;
    for (size_t at = 0; (at = reply.body.find(R"("text":")", at)) != std::string::npos;) {
      at += 8;
      out.push_back(reply.body.substr(at, reply.body.find('"', at) - at));
    }
    return out;
  };
  for (const auto& rider : riders)
    for (const auto* text : {"a", "b", "c"}) add(rider, text);
  auto& n4 = start_node("n4");
  ASSERT_TRUE(eventually([&] { return all_on_n4(n1, inboxes); }, 30s)) << n4.log();
  for (const auto& rider : riders) {
    EXPECT_EQ(texts(rider), (std::vector<std::string>{"c", "b", "a"})) << rider;
    add(rider, "d");
    EXPECT_EQ(texts(rider), (std::vector<std::string>{"d", "c", "b", "a"})) << rider;
  }
}

TEST_F(Rebalance, StaleCopyOfAPartitionHandedOffMeanwhileIsDroppedAtStart) {
  auto& n1 = start_node("n1");
  ASSERT_EQ(increment(n1, "moved"), 200);
  ASSERT_EQ(increment(n1, "moved"), 200);
  auto p = actor_id{"counter", "moved"}.partition();
  ASSERT_EQ(n1.stop(SIGKILL), 128 + SIGKILL);
  cluster::etcd_client etcd{etcd_->endpoint()};
  cluster::PartitionRecord handed;
  handed.set_owner("n2");
  handed.set_epoch(2);
  handed.set_state(cluster::PartitionRecord::active);
  ASSERT_TRUE(
      etcd.put(cluster::membership::partition_key("keel", p), cluster::to_etcd_json(handed)));
  auto& again = start_node("n1");  // starts: the table is newer than its copy
  EXPECT_EQ(owner_seen_by(again, "moved"), "n2");
  // Handed back (as a later handoff would), n1 has nothing of it any more.
  again.stop(SIGTERM);
  handed.set_owner("n1");
  handed.set_epoch(3);
  ASSERT_TRUE(
      etcd.put(cluster::membership::partition_key("keel", p), cluster::to_etcd_json(handed)));
  auto& third = start_node("n1");
  EXPECT_EQ(third.post("/v1/actors/counter/moved/Get", "{}").body, R"({"value":"0"})");
}

// A whole cluster stopping (make cluster-stop): every node is leaving, so there is nowhere
// to move partitions to; each leaves at once instead of waiting out --leave-timeout, and
// nothing is lost.
TEST_F(Rebalance, EveryNodeStoppingAtOnceLeavesAtOnceAndLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(40));
  auto started = std::chrono::steady_clock::now();
  for (auto* node : three_) kill(node->pid(), SIGTERM);
  for (auto* node : three_) EXPECT_EQ(node->wait_exit(10s), 0) << node->log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  auto& back = start_node("n1");
  start_node("n2");
  start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(back).size() == 3; }, 10s));
  ASSERT_TRUE(eventually([&] { return balanced(back, {"n1", "n2", "n3"}); }, 30s));
  for (int c = 0; c < 40; ++c) EXPECT_EQ(counter_value(back, "c" + std::to_string(c)), 1);
}

// The showcase under change: rideshare-sim runs rides through n1 while n4 joins, n2 stops
// (SIGTERM) and n3 is drained; every request succeeds and every invariant holds (one
// capture per completed ride, fees, voids, no driver on two rides, money adds up).
TEST_F(Rebalance, RideSharingKeepsItsInvariantsWhileNodesJoinLeaveAndAreDrained) {
  ASSERT_NO_FATAL_FAILURE(start_three_with_counters(0));
  auto& n1 = *three_[0];
  auto out_path = dir_.sub("sim.out");
  auto sim = spawn_process(RIDESHARE_SIM_BINARY,
                           {"--node=127.0.0.1:" + std::to_string(n1.port()), "--duration=12s",
                            "--concurrency=8", "--json"},
                           {}, out_path, dir_.sub("sim.err"));
  std::this_thread::sleep_for(3s);
  start_node("n4");
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(three_[1]->stop(SIGTERM), 0) << three_[1]->log();
  EXPECT_EQ(n1.post("/v1/cluster/nodes/n3/drain", "").status, 202);
  EXPECT_EQ(three_[2]->wait_exit(30s), 0) << three_[2]->log();
  auto sim_status = wait_process_exit(sim, 90s);
  std::ifstream in{out_path};
  std::string report{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  ASSERT_EQ(sim_status, 0) << "rideshare-sim found a broken invariant: " << report << "\n--- n1:\n"
                           << n1.log();
  EXPECT_NE(report.find(R"("error_count":0,)"), std::string::npos) << report << "\n--- n1:\n"
                                                                   << n1.log();
  EXPECT_EQ(report.find(R"("pass":false)"), std::string::npos) << report;
  EXPECT_EQ(member_ids(n1), (std::set<std::string>{"n1", "n4"}));
}

TEST_F(Rebalance, KeelctlDrainFollowsTheNodeUntilItLeftAndStatusShowsTheRebalance) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  seed_counters(n1, 40);
  ASSERT_TRUE(eventually([&] { return balanced(n1, {"n1", "n2"}); }, 30s));
  auto owned = owned_by(n1, "n2");
  ASSERT_GT(owned, 0);
  auto node = "--node=127.0.0.1:" + std::to_string(n1.port());
  std::string out;
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "drain", "n2"}, out), 0) << out;
  EXPECT_NE(out.find("n2 drained and left the cluster"), std::string::npos) << out;
  EXPECT_EQ(n2.wait_exit(10s), 0) << n2.log();
  // The coordinator publishes its progress a moment after the last flip.
  auto idle = "rebalance    idle; the last one moved " + std::to_string(owned) + " of " +
              std::to_string(owned) + " partitions (0 aborted)";
  EXPECT_TRUE(eventually(
      [&] {
        return run_to_exit(KEELCTL_BINARY, {node, "status"}, out) == 0 &&
               out.find(idle) != std::string::npos;
      },
      5s))
      << out << "\n--- n1:\n"
      << n1.log();
  // A node that is no member cannot be drained; the error names it.
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {node, "drain", "n9"}, out), 1) << out;
  EXPECT_NE(out.find("node 'n9' is not a member"), std::string::npos) << out;
  for (int c = 0; c < 40; ++c) EXPECT_EQ(counter_value(n1, "c" + std::to_string(c)), 1);
}

}  // namespace
}  // namespace keel::test
