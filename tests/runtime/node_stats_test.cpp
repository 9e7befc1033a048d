#include "keel/runtime/node_stats.hpp"

#include <gtest/gtest.h>

#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/registry.hpp"

namespace keel {
namespace {

// What a turn's end does (detail/turn.cpp): the node's histogram, then the type's and the
// sketch's counts.
struct node {
  type_registry types;
  runtime_metrics metrics;
  std::unique_ptr<node_stats> stats;

  explicit node(node_stats::options opts, int64_t start_ms) {
    register_counter(types);
    register_test_actors(types);
    stats = std::make_unique<node_stats>(types, metrics, opts, start_ms);
  }
  type_counters& of(const std::string& type) { return stats->of(*types.find(type)); }
  void turns(const actor_id& id, int n, double seconds, bool ok = true) {
    for (int i = 0; i < n; ++i) {
      auto bucket = histogram::bucket_of(seconds);
      metrics.turn_seconds.observe_in(bucket, seconds);
      stats->record_turn(of(id.type()), std::hash<actor_id>{}(id), id, bucket, ok);
    }
  }
  const runtime::ActorTypeStats& row(const runtime::NodeStats& view, const std::string& type) {
    for (const auto& r : view.types())
      if (r.type() == type) return r;
    throw std::runtime_error("no row for type " + type);
  }
};

node_stats::options options(size_t history) {
  node_stats::options o;
  o.interval = std::chrono::milliseconds{5000};
  o.history = history;
  o.hot = 2;
  return o;
}

TEST(NodeStats, BeforeTheFirstCloseEveryTypeIsListedWithNothingCounted) {
  node n{options(3), 1000};
  n.turns({"counter", "a"}, 3, 0.0003);
  auto view = n.stats->view("n1");
  EXPECT_EQ(view.node_id(), "n1");
  EXPECT_EQ(view.interval_ms(), 5000u);
  EXPECT_EQ(view.interval_end_ms(), 0);
  std::vector<std::string> types;
  for (const auto& r : view.types()) {
    types.push_back(r.type());
    EXPECT_EQ(r.turns(), 0u) << r.type();
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{"counter", "echo", "relay", "remind", "slow", "thrower"}));
  EXPECT_EQ(view.hot_actors_size(), 0);
  EXPECT_EQ(view.history_size(), 0);
}

TEST(NodeStats, EachIntervalCountsItsOwnTurnsFailuresQuantilesAndHottestActors) {
  node n{options(3), 1000};
  n.of("counter").activations.add(2);
  n.turns({"counter", "hot"}, 90, 0.0003);  // bucket (0.25 ms, 0.5 ms]
  n.turns({"counter", "cold"}, 10, 0.003);  // bucket (2.5 ms, 5 ms]
  n.turns({"thrower", "t"}, 4, 0.0003, false);
  n.metrics.durable_turns.add(100);
  for (int i = 0; i < 7; ++i) n.stats->record_http(200, 0.002);  // bucket (1 ms, 2.5 ms]
  for (int i = 0; i < 3; ++i) n.stats->record_http(404, 0.002);
  n.stats->record_http(503, 0.002);
  n.stats->record_http(302, 0.002);  // in no class, but in the latency
  n.stats->close_interval(6000);

  auto view = n.stats->view("n1");
  EXPECT_EQ(view.interval_end_ms(), 6000);
  EXPECT_EQ(view.interval_length_ms(), 5000u);
  const auto& counter = n.row(view, "counter");
  EXPECT_EQ(counter.turns(), 100u);
  EXPECT_DOUBLE_EQ(counter.turns_per_second(), 20.0);
  EXPECT_EQ(counter.failures(), 0u);
  // Ranks 50 and 99 of 100: inside the first bucket (90 turns), then the second (10).
  EXPECT_DOUBLE_EQ(counter.p50_ms(), (0.00025 + 0.00025 * 50.0 / 90.0) * 1000);
  EXPECT_DOUBLE_EQ(counter.p99_ms(), (0.0025 + 0.0025 * 9.0 / 10.0) * 1000);
  EXPECT_EQ(counter.activations(), 2u);
  const auto& thrower = n.row(view, "thrower");
  EXPECT_EQ(thrower.turns(), 4u);
  EXPECT_EQ(thrower.failures(), 4u);
  EXPECT_EQ(n.row(view, "echo").turns(), 0u);
  EXPECT_EQ(n.row(view, "echo").p99_ms(), 0.0);
  ASSERT_EQ(view.hot_actors_size(), 2);  // options: the 2 hottest
  EXPECT_EQ(view.hot_actors(0).actor(), "counter/hot");
  EXPECT_EQ(view.hot_actors(0).turns(), 90u);
  EXPECT_DOUBLE_EQ(view.hot_actors(0).turns_per_second(), 18.0);
  EXPECT_EQ(view.hot_actors(1).actor(), "counter/cold");
  EXPECT_EQ(view.hot_actors(1).turns(), 10u);
  ASSERT_EQ(view.history_size(), 1);
  const auto& s = view.history(0);
  EXPECT_EQ(s.end_ms(), 6000);
  EXPECT_EQ(s.length_ms(), 5000u);
  EXPECT_EQ(s.turns(), 104u);
  EXPECT_EQ(s.durable_commits(), 100u);
  EXPECT_EQ(s.http_2xx(), 7u);
  EXPECT_EQ(s.http_4xx(), 3u);
  EXPECT_EQ(s.http_5xx(), 1u);
  EXPECT_DOUBLE_EQ(s.http_p50_ms(), (0.001 + 0.0015 * 6.0 / 12.0) * 1000);
  EXPECT_DOUBLE_EQ(s.http_p99_ms(), (0.001 + 0.0015 * 11.88 / 12.0) * 1000);
  EXPECT_DOUBLE_EQ(s.turn_p50_ms(), (0.00025 + 0.00025 * 52.0 / 94.0) * 1000);

  // The next interval holds only its own turns: 5 of counter/hot, none of the thrower.
  n.turns({"counter", "hot"}, 5, 0.0003);
  n.stats->close_interval(11000);
  view = n.stats->view("n1");
  EXPECT_EQ(n.row(view, "counter").turns(), 5u);
  EXPECT_DOUBLE_EQ(n.row(view, "counter").turns_per_second(), 1.0);
  EXPECT_DOUBLE_EQ(n.row(view, "counter").p50_ms(), (0.00025 + 0.00025 * 2.5 / 5.0) * 1000);
  EXPECT_EQ(n.row(view, "thrower").turns(), 0u);
  EXPECT_EQ(n.row(view, "thrower").failures(), 0u);
  ASSERT_EQ(view.hot_actors_size(), 1);
  EXPECT_EQ(view.hot_actors(0).actor(), "counter/hot");
  EXPECT_EQ(view.hot_actors(0).turns(), 5u);
  ASSERT_EQ(view.history_size(), 2);
  EXPECT_EQ(view.history(1).turns(), 5u);
  EXPECT_EQ(view.history(1).durable_commits(), 0u);
  EXPECT_EQ(view.history(1).http_2xx(), 0u);
  EXPECT_EQ(view.history(1).http_p99_ms(), 0.0);
}

TEST(NodeStats, HistoryKeepsTheNewestSamplesOnly) {
  node n{options(3), 0};
  for (int64_t end = 5000; end <= 25000; end += 5000) n.stats->close_interval(end);
  auto view = n.stats->view("n1");
  ASSERT_EQ(view.history_size(), 3);
  EXPECT_EQ(view.history(0).end_ms(), 15000);
  EXPECT_EQ(view.history(1).end_ms(), 20000);
  EXPECT_EQ(view.history(2).end_ms(), 25000);
}

TEST(NodeStats, AnIntervalOfUnevenLengthGivesRatesOverItsRealLength) {
  node n{options(3), 0};
  n.turns({"counter", "a"}, 30, 0.0003);
  n.stats->close_interval(7500);  // the sweeper was held up: 7.5 s, not 5
  auto view = n.stats->view("n1");
  EXPECT_EQ(view.interval_length_ms(), 7500u);
  EXPECT_DOUBLE_EQ(n.row(view, "counter").turns_per_second(), 4.0);
}

TEST(QuantileMs, PastTheLastBoundIsTheLastBoundAndNoCountsIsZero) {
  histogram h;
  EXPECT_EQ(quantile_ms(h.bucket_counts(), 0.5), 0.0);
  h.observe(20.0);
  EXPECT_EQ(quantile_ms(h.bucket_counts(), 0.5), 10000.0);
  h.observe(0.00001);  // the first bucket interpolates from 0
  EXPECT_DOUBLE_EQ(quantile_ms(h.bucket_counts(), 0.5), 0.05);
}

}  // namespace
}  // namespace keel
