#include "keel/runtime/hot_actors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace keel {
namespace {

void turns(hot_actors& hot, const actor_id& id, int n) {
  for (int i = 0; i < n; ++i) hot.record(std::hash<actor_id>{}(id), id);
}

std::vector<std::string> names(const std::vector<hot_actor>& hot) {
  std::vector<std::string> out;
  for (const auto& h : hot) out.push_back(h.actor);
  return out;
}

TEST(HotActors, CountsExactlyWhileEveryActorHasASlotMostTurnsFirstTiesByName) {
  hot_actors hot;
  turns(hot, {"counter", "b"}, 3);
  turns(hot, {"ride", "r-1"}, 7);
  turns(hot, {"counter", "a"}, 3);
  turns(hot, {"counter", "z"}, 1);
  auto top = hot.take(3);
  EXPECT_EQ(names(top), (std::vector<std::string>{"ride/r-1", "counter/a", "counter/b"}));
  EXPECT_EQ(top[0].turns, 7u);
  EXPECT_EQ(top[1].turns, 3u);
  EXPECT_EQ(top[2].turns, 3u);
  for (const auto& h : top) EXPECT_EQ(h.overcount, 0u) << h.actor;
}

TEST(HotActors, ANewActorPastTheSlotsTakesTheSmallestCountAsItsOvercount) {
  hot_actors hot;
  turns(hot, {"counter", "hot"}, 5);
  // One turn each for 63 more actors: every slot of this thread's stripe is taken.
  for (int i = 0; i < static_cast<int>(hot_actors::slots) - 1; ++i)
    turns(hot, {"counter", "c" + std::to_string(i)}, 1);
  // The 65th actor displaces the first of the smallest (counter/c0) and inherits its 1.
  turns(hot, {"counter", "late"}, 1);
  auto top = hot.take(3);
  ASSERT_EQ(names(top), (std::vector<std::string>{"counter/hot", "counter/late", "counter/c1"}));
  EXPECT_EQ(top[0].turns, 5u);
  EXPECT_EQ(top[0].overcount, 0u);
  EXPECT_EQ(top[1].turns, 2u);  // 1 of its own, and at most 1 that was counter/c0's
  EXPECT_EQ(top[1].overcount, 1u);
  EXPECT_EQ(top[2].turns, 1u);
  EXPECT_EQ(top[2].overcount, 0u);
}

// Many actors, a few of them hot, in an order of their own: the counters still add up to
// every turn, each count is within its overcount of the truth, and the hot ones are kept.
TEST(HotActors, PastTheSlotsEveryTurnIsCountedOnceAndEachCountBoundsTheTruth) {
  hot_actors hot;
  std::map<std::string, uint64_t> truth;
  uint64_t state = 12345, total = 0;
  for (int i = 0; i < 200000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;  // an LCG: the same run always
    auto r = state >> 33;
    // A third of the turns go to 3 hot actors, the rest to 5,000 cold ones.
    auto key = r % 3 == 0 ? "hot-" + std::to_string(r % 9 / 3) : "cold-" + std::to_string(r % 5000);
    actor_id id{"counter", key};
    turns(hot, id, 1);
    ++truth[to_string(id)];
    ++total;
  }
  auto all = hot.take(1000);
  ASSERT_LE(all.size(), hot_actors::slots);  // one thread: one stripe
  uint64_t counted = 0;
  for (const auto& h : all) {
    counted += h.turns;
    ASSERT_TRUE(truth.contains(h.actor)) << h.actor;
    EXPECT_LE(h.turns - h.overcount, truth[h.actor]) << h.actor;
    EXPECT_GE(h.turns, truth[h.actor]) << h.actor;
  }
  EXPECT_EQ(counted, total);
  auto first_three = names({all[0], all[1], all[2]});
  std::sort(first_three.begin(), first_three.end());
  EXPECT_EQ(first_three,
            (std::vector<std::string>{"counter/hot-0", "counter/hot-1", "counter/hot-2"}))
      << "the three hot actors first";
}

TEST(HotActors, TakeStartsTheNextIntervalEmpty) {
  hot_actors hot;
  turns(hot, {"counter", "a"}, 4);
  EXPECT_EQ(hot.take(10).size(), 1u);
  EXPECT_TRUE(hot.take(10).empty());
  turns(hot, {"counter", "b"}, 2);
  auto top = hot.take(10);
  ASSERT_EQ(names(top), (std::vector<std::string>{"counter/b"}));
  EXPECT_EQ(top[0].turns, 2u);
}

}  // namespace
}  // namespace keel
