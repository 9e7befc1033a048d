// Cluster membership over a real etcd: real keel-node processes with --etcd on loopback.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "cluster_fixture.hpp"
#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/etcd_process.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/tcp_proxy.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;
using cluster::ClusterView;

TEST_F(Cluster, ThreeNodesConvergeOnThreeUpMembers) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  auto& n3 = start_node("n3");
  const std::set<std::string> all{"n1", "n2", "n3"};
  for (auto* node : {&n1, &n2, &n3})
    ASSERT_TRUE(eventually([&] { return member_ids(*node) == all; }, 5s))
        << "phase: waiting for node on port " << node->port() << " to see all three members";
  auto v = view(n2);
  EXPECT_EQ(v.node_id(), "n2");
  EXPECT_EQ(v.cluster_name(), "keel");
  EXPECT_FALSE(v.fenced());
  std::map<std::string, int> ports{{"n1", n1.port()}, {"n2", n2.port()}, {"n3", n3.port()}};
  for (const auto& m : v.members()) {
    EXPECT_EQ(m.status(), "up") << m.node_id();
    EXPECT_EQ(m.http_address(), "127.0.0.1:" + std::to_string(ports[m.node_id()]));
  }
  for (auto* node : {&n1, &n2, &n3}) EXPECT_EQ(node->get("/readyz").status, 200);
}

TEST_F(Cluster, SecondProcessWithTheSameNodeIdIsRefused) {
  auto& n1 = start_node("n1");
  std::string out;
  int rc = run_node_to_exit({"--node-id=n1", "--etcd=" + etcd_->endpoint(), "--http-port=0",
                             "--data-dir=" + dir_.sub("dup")},
                            out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("node id 'n1' is already registered"), std::string::npos) << out;
  EXPECT_NE(out.find("127.0.0.1:" + std::to_string(n1.port())), std::string::npos) << out;
  // The first one is untouched.
  EXPECT_EQ(increment(n1, "a"), 200);
  EXPECT_EQ(member_ids(n1), std::set<std::string>{"n1"});
}

TEST_F(Cluster, GracefulStopDeregistersAtOnceAndKilledNodeGoesWithItsLease) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  auto& n3 = start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_EQ(n2.stop(SIGTERM), 0);
  ASSERT_TRUE(eventually(
      [&] {
        return member_ids(n1) == std::set<std::string>{"n1", "n3"};
      },
      1s))
      << "phase: a node that left must be gone at once (its lease revoked), not after the TTL";
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 2s);
  n3.stop(SIGKILL);
  // At the latest when its 2 s lease expires (failure detection is usually much faster:
  // KilledNodeIsDeclaredDownWithinOneSecondAndAHungOneWithinFive).
  ASSERT_TRUE(eventually([&] { return member_ids(n1) == std::set<std::string>{"n1"}; }, 4s))
      << "phase: a killed node's key must go by the time its lease expires";
}

// A node that cannot reach etcd must assume its lease expired: it starts no turn and commits
// nothing until it has registered again; nothing acknowledged is lost.
TEST_F(Cluster, NodeCutOffFromEtcdFencesItselfAndCommitsNothing) {
  auto& n1 = start_node("n1");
  int acknowledged = 0;
  for (int i = 0; i < 20; ++i) acknowledged += increment(n1, "c") == 200;
  ASSERT_EQ(acknowledged, 20);
  etcd_->signal(SIGSTOP);
  // Increments go on succeeding until the fence closes (≤ TTL − margin after the last
  // keepalive): those are acknowledged too.
  ASSERT_TRUE(eventually(
      [&] {
        int status = increment(n1, "c");
        acknowledged += status == 200;
        return status == 503;
      },
      2500ms))
      << "phase: waiting for the fence to close without etcd";
  auto reply = n1.post("/v1/actors/counter/c/Increment", R"({"by":1})");
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find(R"("code":"unavailable")"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("fenced"), std::string::npos) << reply.body;
  EXPECT_EQ(n1.get("/readyz").status, 503);
  EXPECT_TRUE(view(n1).fenced());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(increment(n1, "c"), 503);
  etcd_->signal(SIGCONT);
  ASSERT_TRUE(eventually([&] { return n1.get("/readyz").status == 200; }, 8s))
      << "phase: waiting for the node to register again after etcd came back";
  auto value = n1.post("/v1/actors/counter/c/Get", "{}");
  ASSERT_EQ(value.status, 200) << value.body;
  // Exactly the acknowledged increments: none of the refused ones slipped in.
  EXPECT_EQ(value.body, R"({"value":")" + std::to_string(acknowledged) + R"("})");
}

// One node loses etcd (its own link only: a proxy the test cuts) while the others keep it:
// that node fences itself and commits nothing; the others see its lease lapse and answer
// 503 for its partitions; every acknowledged write is still there afterwards.
TEST_F(Cluster, NodeCutOffFromEtcdAloneFencesItselfWhileTheOthersServe) {
  auto& n1 = start_node("n1");
  tcp_proxy proxy{std::stoi(etcd_->endpoint().substr(etcd_->endpoint().rfind(':') + 1))};
  auto& n2 = start_node_via(proxy.endpoint(), "n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  // One counter owned by each node.
  auto n2_key = counter_owned_by(n1, "n2", "x"), n1_key = counter_owned_by(n1, "n1", "y");
  ASSERT_FALSE(n2_key.empty() || n1_key.empty());
  proxy.cut();
  ASSERT_TRUE(eventually([&] { return n2.get("/readyz").status == 503; }, 2500ms))
      << "phase: n2 must fence itself without etcd";
  auto refused = n2.post("/v1/actors/counter/" + n2_key + "/Increment", R"({"by":1})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("fenced"), std::string::npos) << refused.body;
  // The others go on; n2's partitions are unavailable there too, never served empty.
  ASSERT_TRUE(eventually([&] { return member_ids(n1).count("n2") == 0; }, 4s));
  EXPECT_EQ(increment(n1, n1_key), 200);
  EXPECT_EQ(n1.post("/v1/actors/counter/" + n2_key + "/Get", "{}").status, 503);
  EXPECT_EQ(n1.post("/v1/actors/counter/" + n1_key + "/Get", "{}").body, counter_body(2));
  // n2 restarted with a working link: its value is exactly what was acknowledged.
  n2.stop(SIGKILL);
  auto& back = start_node("n2");
  ASSERT_TRUE(eventually(
      [&] {
        return back.post("/v1/actors/counter/" + n2_key + "/Get", "{}").body == counter_body(1);
      },
      5s));
}

// A paused node (SIGSTOP, long enough for its lease to expire) must not serve on resume
// before it has registered again.
TEST_F(Cluster, ResumedNodeStartsNoTurnBeforeItHasRegisteredAgain) {
  auto& n1 = start_node("n1");
  ASSERT_EQ(increment(n1, "s"), 200);
  auto before = registration_of("n1");
  ASSERT_GT(before, 0);
  kill(n1.pid(), SIGSTOP);
  ASSERT_TRUE(eventually([&] { return registration_of("n1") == 0; }, 5s))
      << "phase: waiting for the paused node's lease to expire";
  kill(n1.pid(), SIGCONT);
  // Whatever the node answers from now on, a 200 proves a new registration exists.
  for (int i = 0; i < 50; ++i) {
    int status = increment(n1, "s");
    if (status == 200) {
      EXPECT_GT(registration_of("n1"), before) << "a turn ran without a registration";
      break;
    }
    EXPECT_EQ(status, 503);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(eventually([&] { return increment(n1, "s") == 200; }, 5s));
  EXPECT_GT(registration_of("n1"), before);
}

// A node paused past its lease registers again once and keeps that registration: the
// watch's report of its old key's deletion, arriving while it registered anew, must not
// make it register a second time (that failed against its own new key, no keepalive ran,
// and the key lapsed again and again). The race needs luck: two pauses catch it sometimes,
// and check every time that a resumed node stays registered.
TEST_F(Cluster, ResumedNodeRegistersAgainOnceAndStaysRegistered) {
  auto& n1 = start_node("n1");
  for (int round = 0; round < 2; ++round) {
    auto before = registration_of("n1");
    ASSERT_GT(before, 0) << "round " << round;
    kill(n1.pid(), SIGSTOP);
    ASSERT_TRUE(eventually([&] { return registration_of("n1") != before; }, 5s))
        << "round " << round << ": the paused node's lease did not expire";
    kill(n1.pid(), SIGCONT);
    ASSERT_TRUE(eventually([&] { return registration_of("n1") > before; }, 5s))
        << "round " << round << ": no new registration";
    auto again = registration_of("n1");
    std::this_thread::sleep_for(3s);  // more than the 2 s lease: a lapse would show
    EXPECT_EQ(registration_of("n1"), again) << "round " << round << ": " << n1.log();
  }
  EXPECT_EQ(n1.log().find("cannot register again"), std::string::npos) << n1.log();
}

// A node paused past its lease and resumed forwards to its peers again: a link that ended
// while it was paused is replaced, never kept (calls to the peer failed within 1 ms with
// "stopped before answering" for as long as the node ran), and it reports its links.
TEST_F(Cluster, ResumedNodeForwardsToItsPeersAgainAndReportsItsLinks) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  auto& n3 = start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  std::map<std::string, std::string> key_on;  // a counter owned by each peer
  for (auto* peer : {"n2", "n3"})
    key_on[peer] = counter_owned_by(n1, peer, std::string{peer} + "-");
  ASSERT_FALSE(key_on["n2"].empty());
  ASSERT_FALSE(key_on["n3"].empty());
  kill(n1.pid(), SIGSTOP);
  // One hung member is its own trouble: the others stay ready while they suspect it.
  std::this_thread::sleep_for(1900ms);
  for (auto* peer : {&n2, &n3}) EXPECT_EQ(peer->get("/readyz").status, 200);
  ASSERT_TRUE(eventually([&] { return registration_of("n1") == 0; }, 5s))
      << "phase: waiting for the paused node's lease to expire";
  std::this_thread::sleep_for(2s);  // the peers' connections to it time out (2 s) as well
  kill(n1.pid(), SIGCONT);
  ASSERT_TRUE(eventually([&] { return n1.get("/readyz").status == 200; }, 10s))
      << "phase: waiting for the resumed node to be ready: " << n1.get("/readyz").body;
  for (const auto& [peer, key] : key_on)
    for (int i = 0; i < 20; ++i) {
      auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
      ASSERT_EQ(reply.status, 200)
          << "call " << i << " to " << key << " on " << peer << ": " << reply.body;
    }
  auto v = view(n1);
  for (const auto& m : v.members())
    EXPECT_EQ(m.link(), m.node_id() == "n1" ? "self" : "connected") << m.node_id();
  for (auto* peer : {&n2, &n3}) EXPECT_EQ(peer->get("/readyz").status, 200);
}

// Any node takes any request: each actor lives on exactly one owner, which every node
// agrees on, and its state is the same whichever node a read comes through.
TEST_F(Cluster, CountersIncrementedThroughRandomNodesAreExactThroughOthers) {
  std::vector<node_process*> nodes{&start_node("n1"), &start_node("n2"), &start_node("n3")};
  for (auto* node : nodes)
    ASSERT_TRUE(eventually([&] { return member_ids(*node).size() == 3; }, 5s));
  constexpr int counters = 300;
  std::mt19937 rng{7};
  std::vector<int> expected(counters, 0);
  std::vector<std::pair<size_t, int>> requests;  // (node index, counter)
  for (int round = 0; round < 3; ++round)
    for (int c = 0; c < counters; ++c) {
      if (round > 0 && rng() % 2) continue;
      auto via_index = rng() % nodes.size();
      requests.emplace_back(via_index, c);
      auto& via = *nodes[via_index];
      auto reply =
          via.post("/v1/actors/counter/c" + std::to_string(c) + "/Increment", R"({"by":1})");
      ASSERT_EQ(reply.status, 200) << "c" << c << ": " << reply.body;
      ++expected[c];
      EXPECT_EQ(reply.body, counter_body(expected[c])) << "c" << c;
    }
  std::map<std::string, int> owned;
  std::vector<std::string> owner_of(counters);
  for (int c = 0; c < counters; ++c) {
    auto key = "c" + std::to_string(c);
    requests.emplace_back((c + 1) % nodes.size(), c);
    auto& via = *nodes[(c + 1) % nodes.size()];
    auto reply = via.post("/v1/actors/counter/" + key + "/Get", "{}");
    ASSERT_EQ(reply.status, 200) << key << ": " << reply.body;
    EXPECT_EQ(reply.body, counter_body(expected[c])) << key;
    std::set<std::string> owners;
    for (auto* node : nodes) owners.insert(owner_seen_by(*node, key));
    ASSERT_EQ(owners.size(), 1u) << key << ": nodes disagree on the owner";
    ++owned[*owners.begin()];
    owner_of[c] = *owners.begin();
  }
  // Rendezvous hashing spreads first placements over the members up at the time.
  EXPECT_EQ(owned.size(), 3u);
  for (const auto& [owner, n] : owned) EXPECT_GT(n, counters / 6) << owner;
  // A request through a node that does not own its counter crosses exactly once: counted
  // as sent where it entered and received where it ran, and never otherwise.
  std::map<std::string, uint64_t> sent;
  std::map<std::string, uint64_t> received;
  for (auto [via, c] : requests)
    if (auto id = "n" + std::to_string(via + 1); id != owner_of[c]) {
      ++sent[id];
      ++received[owner_of[c]];
    }
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto id = "n" + std::to_string(i + 1);
    auto metrics = nodes[i]->get("/metrics").body;
    EXPECT_EQ(metric_value(metrics, "keel_cluster_calls_sent_total"), sent[id]) << id;
    EXPECT_EQ(metric_value(metrics, "keel_cluster_calls_received_total"), received[id]) << id;
    EXPECT_EQ(metric_value(metrics, "keel_cluster_members"), 3u) << id;
  }
}

// A client told a call did not happen (503 `unavailable`) can trust it: calls forwarded to
// an owner that is killed while they are in flight answer 504 `unknown_outcome` (the owner
// may have committed them), and every one answered 503 left its counter unchanged. Each
// key has one client that waits for each answer, so the final value must lie between the
// acknowledged increments and those plus the ones whose outcome is unknown.
TEST_F(Cluster, KillingAnOwnerWithCallsInFlightAppliesNoCallAnswered503) {
  auto& n1 = start_node("n1");
  start_node("n2");
  start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  constexpr int clients = 6;
  std::vector<std::string> keys;  // counters owned by n2, at 1
  for (int c = 0; c < clients; ++c)
    keys.push_back(counter_owned_by(n1, "n2", "f" + std::to_string(c) + "-"));
  for (const auto& key : keys) ASSERT_FALSE(key.empty());
  struct tally {
    int acked = 1, unknown = 0, refused = 0, other = 0;
  };
  std::vector<tally> tallies(clients);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; !stop.load() && i < 100000; ++i) {
        auto reply = n1.post("/v1/actors/counter/" + keys[c] + "/Increment", R"({"by":1})");
        auto& t = tallies[c];
        if (reply.status == 200)
          t.acked = std::stoi(reply.body.substr(reply.body.find(":\"") + 2));
        else if (reply.body.find(R"("code":"unknown_outcome")") != std::string::npos)
          ++t.unknown;
        else if (reply.body.find(R"("code":"unavailable")") != std::string::npos)
          ++t.refused;
        else
          ++t.other;
      }
    });
  std::this_thread::sleep_for(500ms);
  nodes_[1]->stop(SIGKILL);
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& t : threads) t.join();
  auto& n2 = start_node("n2");  // the same data dir: every acknowledged write is there
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 10s));
  int refused = 0;
  for (int c = 0; c < clients; ++c) {
    const auto& t = tallies[c];
    refused += t.refused;
    EXPECT_EQ(t.other, 0) << keys[c];
    auto reply = n2.post("/v1/actors/counter/" + keys[c] + "/Get", "{}");
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto value = std::stoi(reply.body.substr(reply.body.find(":\"") + 2));
    EXPECT_GE(value, t.acked) << keys[c] << ": an acknowledged increment was lost";
    EXPECT_LE(value, t.acked + t.unknown) << keys[c] << ": a call answered 503 was applied ("
                                          << t.refused << " refused, " << t.unknown << " unknown)";
  }
  EXPECT_GT(refused, 0) << "no call reached the dead owner's partitions";
}

// A partition whose owner died answers 503 at once and is never restarted empty elsewhere;
// the owner's return brings back every acknowledged value.
TEST_F(Cluster, KilledOwnersPartitionsAreUnavailableNotEmptyUntilItReturns) {
  std::map<std::string, node_process*> nodes{
      {"n1", &start_node("n1")}, {"n2", &start_node("n2")}, {"n3", &start_node("n3")}};
  for (auto& [id, node] : nodes)
    ASSERT_TRUE(eventually([&] { return member_ids(*node).size() == 3; }, 5s));
  constexpr int counters = 60;
  std::map<std::string, std::string> owner;
  for (int c = 0; c < counters; ++c) {
    auto key = "k" + std::to_string(c);
    for (int i = 0; i <= c % 3; ++i) ASSERT_EQ(increment(*nodes["n1"], key), 200) << key;
    owner[key] = owner_seen_by(*nodes["n1"], key);
  }
  nodes["n2"]->stop(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  for (int c = 0; c < counters; ++c) {
    auto key = "k" + std::to_string(c);
    auto& via = *nodes[c % 2 ? "n1" : "n3"];
    auto reply = via.post("/v1/actors/counter/" + key + "/Get", "{}");
    if (owner[key] == "n2") {
      // Refused (503 unavailable); or, for a call its node sent on the link just before the
      // link saw the connection drop, 504 unknown_outcome: it may have run. Never a value.
      bool refused =
          reply.status == 503 && reply.body.find(R"("code":"unavailable")") != std::string::npos;
      bool unknown = reply.status == 504 &&
                     reply.body.find(R"("code":"unknown_outcome")") != std::string::npos;
      EXPECT_TRUE(refused || unknown) << key << ": " << reply.status << " " << reply.body;
    } else {
      EXPECT_EQ(reply.status, 200) << key << ": " << reply.body;
      EXPECT_EQ(reply.body, counter_body(c % 3 + 1)) << key;
    }
  }
  // Refusals were immediate, not timeouts.
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 3s);
  // The cluster view lists the dead owner as down, with the partitions that wait for it.
  ASSERT_TRUE(eventually(
      [&] {
        auto v = view(*nodes["n1"]);
        for (const auto& m : v.members())
          if (m.node_id() == "n2") return m.status() == "down" && m.partitions() > 0;
        return false;
      },
      3s));
  // n2 comes back on its data dir (new ports); its partitions serve their values again.
  nodes["n2"] = &start_node("n2");
  for (int c = 0; c < counters; ++c) {
    auto key = "k" + std::to_string(c);
    if (owner[key] != "n2") continue;
    ASSERT_TRUE(eventually(
        [&] {
          return nodes["n3"]->post("/v1/actors/counter/" + key + "/Get", "{}").body ==
                 counter_body(c % 3 + 1);
        },
        5s))
        << key << " after n2 returned";
  }
}

// Data belongs to one node of one cluster: not served under another node id, nor handed to
// a fresh etcd's cluster (DESIGN.md "Identity of data").
TEST_F(Cluster, DataDirIsRefusedUnderAnotherNodeIdOrByAFreshEtcd) {
  auto& n1 = start_node("n1");
  ASSERT_EQ(increment(n1, "mine"), 200);
  ASSERT_EQ(n1.stop(SIGTERM), 0);
  auto args = [&](const std::string& id, const std::string& etcd) {
    return std::vector<std::string>{"--node-id=" + id, "--etcd=" + etcd, "--http-port=0",
                                    "--cluster-port=0", "--data-dir=" + dir_.sub("n1")};
  };
  std::string out;
  EXPECT_EQ(run_node_to_exit(args("n2", etcd_->endpoint()), out), 1) << out;
  EXPECT_NE(out.find("the data dir belongs to node 'n1' of cluster 'keel'"), std::string::npos)
      << out;
  temp_dir other;
  etcd_process fresh{other.path()};
  EXPECT_EQ(run_node_to_exit(args("n1", fresh.endpoint()), out), 1) << out;
  EXPECT_NE(out.find("the data dir belongs to node 'n1'"), std::string::npos) << out;
  // Its own identity still starts, with its data.
  auto& again = start_node("n1");
  EXPECT_EQ(again.post("/v1/actors/counter/mine/Get", "{}").body, counter_body(1));
}

// Every node of a cluster places an actor in the same partition: the first node records
// each type's partition key in etcd, and a node whose types declare another is refused
// before it joins, even with an empty data dir, naming both.
TEST_F(Cluster, ANodeThatWouldPlaceActorsOtherwiseThanTheClusterIsRefused) {
  auto& n1 = start_node("n1");
  cluster::etcd_client etcd{etcd_->endpoint()};
  auto recorded = [&](const std::string& type) {
    auto kv = etcd.get("keel/keel/partition-keys/" + type);
    EXPECT_TRUE(kv && *kv) << type;
    return kv && *kv ? (*kv)->value() : std::string{};
  };
  EXPECT_EQ(recorded("alerts"), "rideshare.with-owner.v2");
  EXPECT_EQ(recorded("ride"), "rideshare.with-rider.v1");
  EXPECT_EQ(recorded("rider"), "rideshare.rider-group.v1");
  EXPECT_EQ(recorded("payment"), "rideshare.with-ride.v2");
  EXPECT_EQ(recorded("counter"), "id");
  // A payment is placed with its ride, and so its rider, by every node's reckoning.
  auto payment = n1.get("/v1/actors/payment/pay-r-0000002a-0000000000000007").body;
  EXPECT_NE(payment.find(R"("partitionKey":"rider-group/0000002a")"), std::string::npos) << payment;
  auto where = actor_id{"rider-group", "0000002a"}.partition();
  EXPECT_NE(payment.find(R"("partition":)" + std::to_string(where) + ","), std::string::npos)
      << payment;

  ASSERT_TRUE(etcd.put("keel/keel/partition-keys/alerts", "rideshare.with-owner.v0"));
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--node-id=n2", "--etcd=" + etcd_->endpoint(), "--http-port=0",
                              "--cluster-port=0", "--data-dir=" + dir_.sub("n2")},
                             out),
            1)
      << out;
  EXPECT_NE(out.find("actor type 'alerts' declares partition key 'rideshare.with-owner.v2' but "
                     "cluster 'keel' places its actors by 'rideshare.with-owner.v0'"),
            std::string::npos)
      << out;
  EXPECT_EQ(member_ids(n1).size(), 1u);
}

// A cluster made before partition keys placed every actor by its id: with placed
// partitions and no record, a node whose types declare partition keys is refused, and so
// is one whose data dir refuses them; neither records anything in etcd.
TEST_F(Cluster, ARefusedNodeRecordsNoPartitionKeyInEtcd) {
  cluster::etcd_client etcd{etcd_->endpoint()};
  auto records = [&] {
    auto listed = etcd.get_prefix("keel/keel/partition-keys/");
    EXPECT_TRUE(listed);
    return listed ? listed->kvs_size() : -1;
  };
  // A data dir whose record says alerts were placed by another key: checked before etcd.
  {
    auto store = open_leveldb_store({dir_.sub("n1"), true});
    ASSERT_TRUE(store);
    ASSERT_FALSE(
        (*store)->write({{meta_key("partition_key/alerts"), "rideshare.with-owner.v0", false}}));
  }
  auto args = [&](const std::string& id) {
    return std::vector<std::string>{"--node-id=" + id, "--etcd=" + etcd_->endpoint(),
                                    "--http-port=0", "--cluster-port=0",
                                    "--data-dir=" + dir_.sub(id)};
  };
  std::string out;
  EXPECT_EQ(run_node_to_exit(args("n1"), out), 1) << out;
  EXPECT_NE(out.find("this data dir placed its actors by 'rideshare.with-owner.v0'"),
            std::string::npos)
      << out;
  EXPECT_EQ(records(), 0);
  // A partition placed by a build before partition keys, and no record.
  ASSERT_TRUE(etcd.put(cluster::membership::partition_key("keel", 7),
                       R"({"owner":"n0","epoch":"1","state":"active"})"));
  EXPECT_EQ(run_node_to_exit(args("n2"), out), 1) << out;
  EXPECT_NE(out.find("but cluster 'keel' places its actors by 'id'"), std::string::npos) << out;
  EXPECT_EQ(records(), 0);
}

// A node whose data dir is empty (a wiped or unmounted disk, a wrong --data-dir) must not
// come up owning the partitions the table gives it: it would serve them empty.
TEST_F(Cluster, EmptyDataDirIsRefusedForANodeThatOwnsPartitions) {
  auto& n1 = start_node("n1");
  ASSERT_EQ(increment(n1, "mine"), 200);
  ASSERT_EQ(n1.stop(SIGKILL), 128 + SIGKILL);
  std::string out;
  auto args = std::vector<std::string>{"--node-id=n1",   "--etcd=" + etcd_->endpoint(),
                                       "--http-port=0",  "--cluster-port=0",
                                       "--lease-ttl=2s", "--data-dir=" + dir_.sub("empty")};
  EXPECT_EQ(run_node_to_exit(args, out), 1) << out;
  EXPECT_NE(out.find("the cluster's table gives node 'n1' 1 partitions, but data dir holds none"),
            std::string::npos)
      << out;
  // Its own dir still starts, with its data.
  auto& again = start_node("n1");
  EXPECT_EQ(again.post("/v1/actors/counter/mine/Get", "{}").body, counter_body(1));
}

// Failure detection: a killed node is gone from every member list within 1 s (its link
// breaks, its port refuses, the coordinator revokes its lease); a hung one within 5 s.
TEST_F(Cluster, KilledNodeIsDeclaredDownWithinOneSecondAndAHungOneWithinFive) {
  std::map<std::string, node_process*> nodes{{"n1", &start_node("n1")},
                                             {"n2", &start_node("n2")},
                                             {"n3", &start_node("n3")},
                                             {"n4", &start_node("n4")}};
  std::string coordinator;
  ASSERT_TRUE(eventually(
      [&] {
        for (auto& [id, node] : nodes)
          if (member_ids(*node).size() != 4) return false;
        coordinator = view(*nodes["n1"]).coordinator();
        return !coordinator.empty();
      },
      5s));
  std::vector<std::string> others;
  for (auto& [id, node] : nodes)
    if (id != coordinator) others.push_back(id);
  auto killed = others[0], hung = others[1], observer = others[2];
  std::this_thread::sleep_for(600ms);  // the links between members are up
  nodes[killed]->stop(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return member_ids(*nodes[observer]).count(killed) == 0; }, 1s))
      << "phase: " << killed << " was not declared down within 1 s";
  auto took = std::chrono::steady_clock::now() - killed_at;
  // Each member learns it from its own etcd watch, a few milliseconds apart: the
  // coordinator too within the second.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(1s - took);
  EXPECT_TRUE(eventually([&] { return member_ids(*nodes[coordinator]).count(killed) == 0; },
                         std::max(left, 0ms)));
  std::cout << "killed node gone from the member list after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  kill(nodes[hung]->pid(), SIGSTOP);
  auto hung_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return member_ids(*nodes[observer]).count(hung) == 0; }, 5s))
      << "phase: " << hung << " was not declared down within 5 s";
  std::cout << "hung node gone after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - hung_at)
                   .count()
            << " ms\n";
  kill(nodes[hung]->pid(), SIGCONT);
  // Nobody else was declared down meanwhile.
  EXPECT_EQ(member_ids(*nodes[observer]).count(coordinator), 1u);
  ASSERT_TRUE(eventually([&] { return member_ids(*nodes[observer]).count(hung) == 1; }, 5s))
      << "phase: the resumed node registers again";
}

// Load is not failure: while clients hammer every node (most calls crossing nodes), no
// member is declared down, the coordinator stays, and no call fails.
TEST_F(Cluster, NoMemberIsDeclaredDownUnderLoad) {
  std::vector<node_process*> nodes{&start_node("n1"), &start_node("n2"), &start_node("n3")};
  std::string coordinator;
  ASSERT_TRUE(eventually(
      [&] {
        for (auto* node : nodes)
          if (member_ids(*node).size() != 3) return false;
        coordinator = view(*nodes[0]).coordinator();
        return !coordinator.empty();
      },
      5s));
  // A fixed amount of work, however fast the machine: the views are watched until it is done.
  constexpr int clients = 4, per_client = 400;
  std::atomic<int> ok{0}, failed{0}, member_changes{0}, running{clients};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_client; ++i) {
        auto& via = *nodes[(t + i) % nodes.size()];
        auto reply = via.post("/v1/actors/counter/load" + std::to_string(i % 200) + "/Increment",
                              R"({"by":1})");
        (reply.status == 200 ? ok : failed).fetch_add(1);
      }
      running.fetch_sub(1);
    });
  auto give_up = std::chrono::steady_clock::now() + 120s;
  while (running.load() > 0 && std::chrono::steady_clock::now() < give_up) {
    for (auto* node : nodes) {
      auto v = view(*node);
      if (v.members_size() != 3 || v.coordinator() != coordinator) member_changes.fetch_add(1);
    }
    std::this_thread::sleep_for(100ms);
  }
  for (auto& c : threads) c.join();
  EXPECT_EQ(member_changes.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok.load(), clients * per_client);
}

// A trace crosses nodes with the call; GET /v1/traces on any node gathers its turns from
// every node.
TEST_F(Cluster, TraceOfACrossNodeCallIsGatheredFromEveryNode) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  ASSERT_TRUE(
      eventually([&] { return member_ids(n1).size() == 2 && member_ids(n2).size() == 2; }, 5s));
  auto key = counter_owned_by(n1, "n2", "t");
  ASSERT_FALSE(key.empty());
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4737";
  auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":5})",
                       {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  for (auto* asked : {&n1, &n2}) {
    auto turns = asked->get("/v1/traces/" + trace);
    ASSERT_EQ(turns.status, 200);
    EXPECT_NE(turns.body.find(R"("actor":"counter/)" + key +
                              R"(","message":"Increment","caller":"http","node":"n2")"),
              std::string::npos)
        << turns.body;
  }
}

// keelctl trace draws one request across nodes: a relay asking a slow actor (each on
// either node) hangs the slow turn under the relay's.
TEST_F(Cluster, KeelctlTraceDrawsARequestAcrossNodesAsATree) {
  auto& n1 = start_node("n1", {"--test-actors"});
  auto& n2 = start_node("n2", {"--test-actors"});
  ASSERT_TRUE(
      eventually([&] { return member_ids(n1).size() == 2 && member_ids(n2).size() == 2; }, 5s));
  const std::string key = "r1";
  const std::string nested = "5bf92f3577b34da6a3ce929d0e0e4738";
  auto reply = n1.post("/v1/actors/relay/" + key + "/Relay",
                       R"({"targetType":"slow","targetKey":"s1","sleepMs":20})",
                       {{"traceparent", "00-" + nested + "-00f067aa0ba902b7-01"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  std::string out;
  std::regex tree{"trace " + nested +
                  ": 2 turns on [12] node\\(s\\)\n"
                  "relay/" +
                  key +
                  " Relay \\(from http\\)  n[12]  [0-9.]+ ms  ok\n"
                  "`- slow/s1 Sleep  n[12]  [0-9.]+ ms  ok\n"};
  // Either node gathers the other's turns, whether or not it ever called it.
  for (auto* node : {&n1, &n2}) {
    auto asked = "--node=127.0.0.1:" + std::to_string(node->port());
    ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {asked, "trace", nested}, out), 0) << out;
    EXPECT_TRUE(std::regex_search(out, tree)) << asked << "\n" << out;
  }
  auto asked = "--node=127.0.0.1:" + std::to_string(n1.port());
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY,
                        {"--node=127.0.0.1:" + std::to_string(n2.port()), "trace",
                         "00000000000000000000000000000001"},
                        out),
            1)
      << out;
  EXPECT_NE(out.find("no turn of trace"), std::string::npos) << out;
}

// A hung owner (SIGSTOP) is noticed by the caller's link (phi-accrual over its heartbeats,
// and CAF's connection timeout): calls to it fail with 503 in about a second or two, not at
// their 10 s deadline; once it resumes and registers again it serves them.
TEST_F(Cluster, CallsToAHungOwnerFailFastNotAtTheirDeadline) {
  auto [n1, n2] = start_pair();
  auto key = counter_owned_by(n1, "n2", "h");
  ASSERT_FALSE(key.empty());
  std::this_thread::sleep_for(1s);  // the link has a heartbeat history
  kill(n2.pid(), SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  auto reply = n1.post("/v1/actors/counter/" + key + "/Get", "{}", {{"X-Request-Timeout", "10s"}});
  auto took = std::chrono::steady_clock::now() - start;
  kill(n2.pid(), SIGCONT);
  // It was sent before the owner was suspected, so it may have run there.
  EXPECT_EQ(reply.status, 504) << reply.body;
  EXPECT_NE(reply.body.find(R"("code":"unknown_outcome")"), std::string::npos) << reply.body;
  EXPECT_LT(took, 3500ms) << "the call waited for its deadline instead of failing fast";
  std::cout << "call to the hung owner failed after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms: " << reply.body << "\n";
  ASSERT_TRUE(eventually(
      [&] { return n1.post("/v1/actors/counter/" + key + "/Get", "{}").body == counter_body(1); },
      8s))
      << "phase: the resumed owner serves its partition again";
}

// The DB remembers which partitions it owns: a table that lost one (or gave it away) is
// refused rather than served, since another node could then start that partition empty.
TEST_F(Cluster, TableThatContradictsTheDataIsRefused) {
  auto& n1 = start_node("n1");
  ASSERT_EQ(increment(n1, "kept"), 200);
  auto p = actor_id{"counter", "kept"}.partition();
  ASSERT_EQ(n1.stop(SIGTERM), 0);
  cluster::etcd_client etcd{etcd_->endpoint()};
  ASSERT_TRUE(etcd.erase(cluster::membership::partition_key("keel", p)));
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--node-id=n1", "--etcd=" + etcd_->endpoint(), "--http-port=0",
                              "--cluster-port=0", "--data-dir=" + dir_.sub("n1")},
                             out),
            1)
      << out;
  EXPECT_NE(out.find("partition " + std::to_string(p) +
                     ": this data dir holds it at epoch 1, but the cluster's table has no owner"),
            std::string::npos)
      << out;
}

// One coordinator at a time, the same on every node; its death elects one of the others.
TEST_F(Cluster, CoordinatorIsElectedOnceAndReplacedWhenItDies) {
  std::map<std::string, node_process*> nodes{
      {"n1", &start_node("n1")}, {"n2", &start_node("n2")}, {"n3", &start_node("n3")}};
  auto agreed = [&](const std::set<std::string>& among) {
    std::set<std::string> seen;
    for (const auto& id : among) seen.insert(view(*nodes[id]).coordinator());
    return seen.size() == 1 && among.count(*seen.begin()) ? *seen.begin() : std::string{};
  };
  std::string first;
  ASSERT_TRUE(eventually(
      [&] {
        return !(first = agreed({"n1", "n2", "n3"})).empty();
      },
      5s))
      << "phase: waiting for the three nodes to agree on a coordinator";
  std::this_thread::sleep_for(600ms);  // the links between members are up
  nodes[first]->stop(SIGKILL);
  std::set<std::string> survivors{"n1", "n2", "n3"};
  survivors.erase(first);
  std::string second;
  // Declared down within milliseconds by a member whose link saw its port refuse, not when
  // its lease (2 s) lapses.
  ASSERT_TRUE(eventually([&] { return !(second = agreed(survivors)).empty(); }, 1500ms))
      << "phase: waiting for a new coordinator after " << first << " was killed\n"
      << nodes[*survivors.begin()]->log() << "\n"
      << nodes[*survivors.rbegin()]->log();
  EXPECT_NE(second, first);
  // A coordinator that leaves revokes its lease: the office is vacant at once.
  ASSERT_EQ(nodes[second]->stop(SIGTERM), 0);
  survivors.erase(second);
  auto last = *survivors.begin();
  EXPECT_TRUE(eventually([&] { return agreed(survivors) == last; }, 1500ms))
      << "phase: waiting for " << last << " to take over from " << second << ", who left";
}

// The tools work against a node that wants an API key: keelctl and rideshare-sim send
// `--api-key` (or KEEL_API_KEY) as a bearer token, and say 401 without it.
TEST_F(Cluster, KeelctlAndTheSimSendAnApiKey) {
  auto keys = dir_.sub("keys");
  {
    std::ofstream out{keys};
    out << "tool-key\n";
  }
  auto& n1 = start_node("n1", {"--api-keys-file=" + keys});
  auto node = "--node=127.0.0.1:" + std::to_string(n1.port());
  std::string out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {node, "status"}, out), 1) << out;
  EXPECT_NE(out.find("answered 401"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {node, "--api-key=tool-key", "status"}, out), 0) << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {node, "members"}, out, {{"KEEL_API_KEY", "tool-key"}}), 0)
      << out;
  EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        {node, "--api-key=tool-key", "--drivers=5", "--riders=5", "--rides=5",
                         "--concurrency=2", "--settle-timeout=8s"},
                        out),
            0)
      << out;
}

TEST_F(Cluster, KeelctlShowsMembersAndLocatesActorsAndNamesAnUnreachableNode) {
  auto [n1, n2] = start_pair();
  auto node = "--node=127.0.0.1:" + std::to_string(n1.port());
  std::string out;
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "members"}, out), 0) << out;
  EXPECT_NE(out.find("NODE"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex{R"(n2\s+up\s+127\.0\.0\.1:)" + std::to_string(n2.port()) + R"(\s)"}))
      << out;
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "status"}, out), 0) << out;
  EXPECT_NE(out.find("members      2 up of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("fenced       no"), std::string::npos) << out;
  // --json prints the node's own JSON, parseable as the cluster view.
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "members", "--json"}, out), 0) << out;
  ClusterView parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &parsed).ok()) << out;
  EXPECT_EQ(parsed.members_size(), 2);
  ASSERT_EQ(increment(n1, "where"), 200);
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY, {node, "locate", "counter", "where"}, out), 0) << out;
  EXPECT_NE(out.find("counter/where: partition "), std::string::npos) << out;
  EXPECT_NE(out.find("node n1 at 127.0.0.1:" + std::to_string(n1.port()) + ", epoch 1, active"),
            std::string::npos)
      << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {"--node=127.0.0.1:1", "status"}, out), 1);
  EXPECT_NE(out.find("keelctl: cannot reach keel-node at 127.0.0.1:1"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {node, "locate", "counter"}, out), 2) << out;
}

}  // namespace
}  // namespace keel::test
