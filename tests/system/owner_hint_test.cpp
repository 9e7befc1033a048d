// Keel-Owner and Keel-Owner-Address: every answer to an actor call names the node that
// owns the actor, so a client or load balancer can send its next requests there and spare
// the entry node a forward (docs/api.md "Which node owns an actor").
#include "cluster_fixture.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace keel::test {
namespace {

// keel_cluster_calls_sent_total of `node`: calls it forwarded to their owner's node.
uint64_t forwarded(node_process& node) {
  return metric_value(node.get("/metrics").body, "keel_cluster_calls_sent_total");
}

// POSTs `node` served on `route` (keel_http_requests_total summed over statuses).
double served(node_process& node, const std::string& route) {
  std::istringstream lines{node.get("/metrics").body};
  double total = 0;
  std::string needle = "keel_http_requests_total{method=\"POST\",route=\"" + route + "\"";
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with(needle)) total += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  return total;
}

TEST_F(Cluster, AnAnswerNamesTheOwnerAndItsAddressWhichServesTheNextCallItself) {
  auto [n1, n2] = start_pair();
  auto key = counter_owned_by(n1, "n2", "hint");
  ASSERT_FALSE(key.empty());
  auto n2_address = "127.0.0.1:" + std::to_string(n2.port());

  auto before = forwarded(n1);
  auto via_n1 = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
  ASSERT_EQ(via_n1.status, 200) << via_n1.body;
  EXPECT_EQ(via_n1.headers["keel-owner"], "n2");
  EXPECT_EQ(via_n1.headers["keel-owner-address"], n2_address);
  EXPECT_EQ(forwarded(n1), before + 1);  // n1 forwarded it

  // Sent where the hint says, the call runs there without crossing, and says so again.
  auto n2_before = forwarded(n2);
  auto direct = n2.post("/v1/actors/counter/" + key + "/Get", "");
  ASSERT_EQ(direct.status, 200) << direct.body;
  EXPECT_EQ(direct.body, counter_body(2));
  EXPECT_EQ(direct.headers["keel-owner"], "n2");
  EXPECT_EQ(direct.headers["keel-owner-address"], n2_address);
  EXPECT_EQ(forwarded(n2), n2_before);

  // A call the actor refuses names the owner too: the client may still go there next.
  auto refused =
      n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":"9223372036854775807"})");
  EXPECT_EQ(refused.status, 409) << refused.body;  // the counter would overflow
  EXPECT_EQ(refused.headers["keel-owner"], "n2");
  // One refused before any call (its JSON does not parse) names nobody.
  auto malformed = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":"x"})");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.headers.count("keel-owner"), 0u);

  // The location shows the address beside the node.
  auto where = n1.get("/v1/actors/counter/" + key).body;
  EXPECT_NE(where.find(R"("node":"n2","nodeAddress":")" + n2_address + "\""), std::string::npos)
      << where;
}

// A 5xx answer names no owner: the owner may be down, and a client must not be sent there.
TEST_F(Cluster, AnAnswerWhileTheOwnerIsDownNamesNoOwner) {
  auto [n1, n2] = start_pair();
  auto key = counter_owned_by(n1, "n2", "down");
  ASSERT_FALSE(key.empty());
  n2.stop(SIGKILL);
  // Within n2's lease (still registered, its address known) and after it (gone): the call
  // fails either way, and names nobody.
  for (int i = 0; i < 2; ++i) {
    auto reply = n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
    EXPECT_GE(reply.status, 500) << reply.body;
    EXPECT_EQ(reply.headers.count("keel-owner"), 0u) << reply.status;
    EXPECT_EQ(reply.headers.count("keel-owner-address"), 0u) << reply.status;
    std::this_thread::sleep_for(2500ms);  // past the 2 s lease
  }
}

// A single node's clients know where they are: no header costs its answers anything.
TEST_F(Cluster, ASingleNodeNamesNoOwner) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--node-id=solo"}};
  auto reply = node.post("/v1/actors/counter/a/Increment", R"({"by":1})");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.count("keel-owner"), 0u);
  EXPECT_EQ(reply.headers.count("keel-owner-address"), 0u);
}

// rideshare-sim --follow-owner sends a ride's steps to the ride's owner: with every
// dispatcher's connection on n1, n2 and n3 serve accepts themselves; without the flag
// every request reaches n1 and nothing else serves one.
TEST_F(Cluster, TheSimFollowingOwnersSendsRideStepsToTheirNodes) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  auto& n3 = start_node("n3");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 3; }, 5s));
  auto sim = [&](bool follow) {
    std::vector<std::string> args{"--node=127.0.0.1:" + std::to_string(n1.port()),
                                  "--drivers=20",
                                  "--riders=20",
                                  "--rides=60",
                                  "--concurrency=4",
                                  "--cancel-rate=0",
                                  "--settle-timeout=15s"};
    if (follow) args.push_back("--follow-owner");
    std::string out;
    EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY, args, out), 0) << out;
  };
  const std::string accept = "/v1/rides/{id}/accept";
  sim(false);
  EXPECT_GT(served(n1, accept), 0);
  EXPECT_EQ(served(n2, accept) + served(n3, accept), 0);
  sim(true);
  EXPECT_GT(served(n2, accept), 0);
  EXPECT_GT(served(n3, accept), 0);
}

}  // namespace
}  // namespace keel::test
