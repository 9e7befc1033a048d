// keelctl top against real keel-node processes: the frame names the actor types and the
// hottest actors the test drove, with the counts of the node's last closed interval
// (GET /v1/stats), and asks every member of a cluster.
#include <regex>
#include <string>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "cluster_fixture.hpp"
#include "keel/runtime/stats.pb.h"
#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

constexpr int hot_turns = 120;
constexpr int warm_turns = 40;
constexpr int cold_actors = 10;  // one turn each
constexpr int refusals = 6;      // thrower/t Refuse: a turn answered with an error (409)
// ...after one Bump, so that thrower/t holds a state and stays active: an activation
// holding nothing (its failed turns write nothing) leaves after a second.
constexpr int thrower_turns = refusals + 1;

runtime::NodeStats stats_of(node_process& node) {
  auto reply = node.get("/v1/stats");
  runtime::NodeStats out;
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply.body, &out).ok()) << reply.body;
  return out;
}

TEST(KeelctlTop, OnceShowsTheTypesAndHottestActorsOfTheLastIntervalWithItsCounts) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--test-actors"}};
  for (int i = 0; i < hot_turns; ++i)
    ASSERT_EQ(node.post("/v1/actors/counter/hot/Increment", R"({"by":1})").status, 200);
  for (int i = 0; i < warm_turns; ++i)
    ASSERT_EQ(node.post("/v1/actors/counter/warm/Increment", R"({"by":1})").status, 200);
  for (int i = 0; i < cold_actors; ++i)
    ASSERT_EQ(
        node.post("/v1/actors/counter/cold-" + std::to_string(i) + "/Increment", R"({"by":1})")
            .status,
        200);
  ASSERT_EQ(node.post("/v1/actors/thrower/t/Bump", "{}").status, 200);
  for (int i = 0; i < refusals; ++i)
    ASSERT_EQ(node.post("/v1/actors/thrower/t/Refuse", "{}").status, 409);
  // The node closes its first interval 5 s after it started: the load must be inside it
  // for the counts below to be the test's.
  ASSERT_EQ(stats_of(node).interval_end_ms(), 0)
      << "phase load: the node's first 5 s interval closed before the load ended";
  ASSERT_TRUE(eventually([&] { return stats_of(node).interval_end_ms() != 0; }, 10s, 20ms))
      << "phase wait: no interval closed within 10 s";
  auto stats = stats_of(node);
  std::string out;
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY,
                        {"--node=127.0.0.1:" + std::to_string(node.port()), "top", "--once"}, out),
            0)
      << out;
  ASSERT_EQ(stats_of(node).interval_end_ms(), stats.interval_end_ms())
      << "phase top: another interval closed while keelctl ran";

  const double seconds = stats.interval_length_ms() / 1000.0;
  EXPECT_TRUE(std::regex_search(
      out, std::regex{R"(^keel top: 1 of 1 node\(s\) answered \(n1\); last 5 s intervals, )"
                      R"(the latest ending \d\d:\d\d:\d\d UTC\n)"}))
      << out;
  const int counter_turns = hot_turns + warm_turns + cold_actors;
  // counter: every turn ok, 12 live activations; thrower: all but the Bump failed.
  // The other test types ran nothing and hold no activation: not shown.
  const std::string counter_row = fmt::format(R"(\ncounter +{:.1f} +{} +0 +[0-9.]+ +[0-9.]+ +{}\n)",
                                              counter_turns / seconds, counter_turns, 12);
  EXPECT_TRUE(std::regex_search(out, std::regex{counter_row})) << counter_row << "\n" << out;
  const std::string thrower_row = fmt::format(R"(\nthrower +{:.1f} +{} +{} +[0-9.]+ +[0-9.]+ +1\n)",
                                              thrower_turns / seconds, thrower_turns, refusals);
  EXPECT_TRUE(std::regex_search(out, std::regex{thrower_row})) << thrower_row << "\n" << out;
  EXPECT_EQ(out.find("\necho "), std::string::npos) << out;
  // The hottest first, all on n1, exact (fewer actors than the sketch has slots); ten rows.
  const std::string hot_rows = fmt::format(
      "HOT ACTOR +TURNS/S +TURNS +NODE\n"
      "counter/hot +{:.1f} +{} +n1\n"
      "counter/warm +{:.1f} +{} +n1\n"
      "thrower/t +{:.1f} +{} +n1\n"
      "counter/cold-0 +{:.1f} +1 +n1\n",
      hot_turns / seconds, hot_turns, warm_turns / seconds, warm_turns, thrower_turns / seconds,
      thrower_turns, 1 / seconds);
  EXPECT_TRUE(std::regex_search(out, std::regex{hot_rows})) << hot_rows << "\n" << out;
  EXPECT_NE(out.find("counter/cold-6 "), std::string::npos) << out;
  EXPECT_EQ(out.find("counter/cold-7 "), std::string::npos) << "more than ten hot actors\n" << out;
  // The p50 and p99 printed are the node's.
  for (const auto& row : stats.types())
    if (row.type() == "counter") {
      EXPECT_NE(out.find(fmt::format(" {:.3f} ", row.p50_ms())), std::string::npos) << out;
      EXPECT_NE(out.find(fmt::format(" {:.3f} ", row.p99_ms())), std::string::npos) << out;
    }

  // --json: the node's own answer, in an array.
  ASSERT_EQ(
      run_to_exit(KEELCTL_BINARY,
                  {"--node=127.0.0.1:" + std::to_string(node.port()), "--json", "top", "--once"},
                  out),
      0)
      << out;
  EXPECT_EQ(out.rfind("[{\"nodeId\":\"n1\",\"intervalMs\":5000,", 0), 0u) << out;
  EXPECT_EQ(out.substr(out.size() - 3), "}]\n") << out;
}

TEST_F(Cluster, KeelctlTopAsksEveryMemberAndNamesTheNodeOfEachHotActor) {
  auto [n1, n2] = start_pair();
  auto on_n2 = counter_owned_by(n1, "n2", "top");
  ASSERT_FALSE(on_n2.empty());
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(n1.post("/v1/actors/counter/" + on_n2 + "/Increment", R"({"by":1})").status, 200);
  // Until an interval holding the turns closed on n2.
  auto n2_counted = [&] {
    auto stats = stats_of(n2);  // a loop over stats_of(n2).hot_actors() would outlive it
    for (const auto& a : stats.hot_actors())
      if (a.actor() == "counter/" + on_n2) return true;
    return false;
  };
  ASSERT_TRUE(eventually(n2_counted, 15s, 20ms)) << "phase wait: n2 never showed counter/" << on_n2;
  std::string out;
  ASSERT_EQ(run_to_exit(KEELCTL_BINARY,
                        {"--node=127.0.0.1:" + std::to_string(n1.port()), "top", "--once"}, out),
            0)
      << out;
  EXPECT_NE(out.find("keel top: 2 of 2 node(s) answered (n1, n2)"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex{"\ncounter/" + on_n2 + R"( +[0-9.]+ +\d+ +n2\n)"}))
      << out;
}

}  // namespace
}  // namespace keel::test
