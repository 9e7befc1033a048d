#include "keel/keelctl/cluster_top.hpp"

#include <gtest/gtest.h>

namespace keel::keelctl {
namespace {

runtime::ActorTypeStats type(std::string name, uint32_t turns, double per_second, uint32_t failures,
                             double p50, double p99, uint32_t activations) {
  runtime::ActorTypeStats t;
  t.set_type(std::move(name));
  t.set_turns(turns);
  t.set_turns_per_second(per_second);
  t.set_failures(failures);
  t.set_p50_ms(p50);
  t.set_p99_ms(p99);
  t.set_activations(activations);
  return t;
}

runtime::HotActor actor(std::string name, uint32_t turns, double per_second,
                        uint32_t overcount = 0) {
  runtime::HotActor a;
  a.set_actor(std::move(name));
  a.set_turns(turns);
  a.set_turns_per_second(per_second);
  a.set_overcount(overcount);
  return a;
}

member_stats member(std::string id, int64_t end_ms) {
  member_stats m;
  m.node_id = std::move(id);
  m.address = "127.0.0.1:1";
  m.stats.emplace();
  m.stats->set_interval_ms(5000);
  m.stats->set_interval_end_ms(end_ms);
  return m;
}

TEST(ClusterTop, SumsTheMembersTypesAndActorsTakesTheHighestQuantilesAndNamesTheSilent) {
  // 2026-01-01 00:00:05 and :07 UTC.
  auto n1 = member("n1", 1'767'225'605'000);
  *n1.stats->add_types() = type("counter", 100, 20, 0, 0.3, 0.9, 4);
  *n1.stats->add_types() = type("idle", 0, 0, 0, 0, 0, 0);  // left out: nothing to show
  *n1.stats->add_types() = type("ride", 10, 2, 1, 1.5, 4.0, 3);
  *n1.stats->add_hot_actors() = actor("counter/a", 60, 12);
  *n1.stats->add_hot_actors() = actor("ride/r1", 10, 2);
  auto n2 = member("n2", 1'767'225'607'000);
  *n2.stats->add_types() = type("counter", 50, 10, 2, 0.4, 0.7, 1);
  *n2.stats->add_hot_actors() = actor("counter/b", 50, 10, 3);
  member_stats n3;
  n3.node_id = "n3";
  n3.address = "127.0.0.1:3";
  n3.error = "cannot reach keel-node at 127.0.0.1:3: connection refused";

  EXPECT_EQ(
      render_top({n1, n2, n3}),
      "keel top: 2 of 3 node(s) answered (n1, n2); last 5 s intervals, the latest ending "
      "00:00:07 UTC\n"
      "  not counted: n3 (127.0.0.1:3): cannot reach keel-node at 127.0.0.1:3: connection "
      "refused\n"
      "\n"
      "ACTOR TYPE                  TURNS/S    TURNS FAILURES    P50 MS    P99 MS "
      "ACTIVATIONS\n"
      "counter                        30.0      150        2     0.400     0.900           5\n"
      "ride                            2.0       10        1     1.500     4.000           3\n"
      "\n"
      "HOT ACTOR                                   TURNS/S    TURNS  NODE\n"
      "counter/a                                      12.0       60  n1\n"
      "counter/b                                      10.0       50  n2 (counted up to 3 "
      "too high)\n"
      "ride/r1                                         2.0       10  n1\n");
}

TEST(ClusterTop, KeepsTheHottestActorsOnlyAndSaysWhenNoIntervalClosed) {
  auto n1 = member("n1", 0);
  for (int i = 0; i < 5; ++i)
    *n1.stats->add_hot_actors() = actor("counter/" + std::to_string(i), 10 + i, 1);
  auto frame = render_top({n1}, 2);
  EXPECT_NE(frame.find("no 5 s interval has closed yet"), std::string::npos) << frame;
  EXPECT_NE(frame.find("(no turns and no activations)"), std::string::npos) << frame;
  EXPECT_NE(frame.find("counter/4 "), std::string::npos) << frame;
  EXPECT_NE(frame.find("counter/3 "), std::string::npos) << frame;
  EXPECT_EQ(frame.find("counter/2 "), std::string::npos) << frame;
}

}  // namespace
}  // namespace keel::keelctl
