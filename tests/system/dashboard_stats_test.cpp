// The dashboard's actor tables and 15-minute charts in headless chromium, against what
// GET /v1/stats gives: the page reads it every 5 s and draws the node's history as SVG.
#include <cmath>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dashboard_fixture.hpp"
#include "keel/runtime/stats.pb.h"
#include "keel/test/eventually.hpp"
#include "keel/test/headless_chromium.hpp"

namespace keel::test {
namespace {

// The actor tables and the 15-minute charts show what GET /v1/stats gave the page: the types
// and actor the test drove, with the numbers of the interval the page read.
TEST_F(DashboardInChromium, ShowsTheActorTablesAndTheNodesHistoryAsGetV1StatsHasThem) {
  ASSERT_TRUE(eventually([&] { return stats_of(*node_).interval_end_ms() != 0; },
                         std::chrono::seconds{10}, std::chrono::milliseconds{20}))
      << "phase wait: the node closed no interval within 10 s";
  auto first = stats_of(*node_);
  headless_chromium browser{dir_.path()};
  auto dom = browser.dump_dom(url(), page_time, browser_limit);
  auto after = stats_of(*node_);
  auto kept = artifact("dashboard-stats-dom.html");
  std::ofstream{kept} << dom;
  SCOPED_TRACE("DOM in " + kept);

  // The page names the interval it shows: the first one, or the next if it closed before
  // the page's last poll. Compare with that one.
  auto shown = attribute(dom, "types", "data-interval-end");
  const runtime::NodeStats* seen = nullptr;
  for (const auto* s : {&first, &after})
    if (shown == std::to_string(s->interval_end_ms())) seen = s;
  ASSERT_NE(seen, nullptr) << "phase page: the page shows interval " << shown << ", /v1/stats had "
                           << first.interval_end_ms() << " then " << after.interval_end_ms();
  EXPECT_TRUE(std::regex_match(text_of(dom, "statssub"),
                               std::regex{"over the [0-9.]+ s interval that ended "
                                          "\\d\\d:\\d\\d:\\d\\d"}))
      << text_of(dom, "statssub");
  const runtime::ActorTypeStats* counter = nullptr;
  for (const auto& t : seen->types())
    if (t.type() == "counter") counter = &t;
  ASSERT_NE(counter, nullptr);
  // turns/s, turns, failures, p50, p99, activations: printed with 1, 0, 0, 3, 3, 0 decimals.
  auto row = row_numbers(dom, "counter");
  ASSERT_EQ(row.size(), 6u) << "no counter row of six numbers";
  EXPECT_NEAR(row[0], counter->turns_per_second(), 0.051);
  EXPECT_EQ(row[1], counter->turns());
  EXPECT_EQ(row[2], counter->failures());
  EXPECT_NEAR(row[3], counter->p50_ms(), 0.00051);
  EXPECT_NEAR(row[4], counter->p99_ms(), 0.00051);
  EXPECT_EQ(row[5], 1.0) << "activations";
  // The other registered types ran nothing and hold nothing: not listed.
  EXPECT_TRUE(row_numbers(dom, "echo").empty());

  if (seen->hot_actors_size() == 0) {
    EXPECT_NE(dom.find("<td colspan=\"4\">no turns</td>"), std::string::npos);
  } else {
    ASSERT_EQ(seen->hot_actors_size(), 1) << "only counter/dash ran turns";
    EXPECT_EQ(seen->hot_actors(0).actor(), "counter/dash");
    auto hot = row_numbers(dom, "counter/dash");
    ASSERT_EQ(hot.size(), 2u);
    EXPECT_NEAR(hot[0], seen->hot_actors(0).turns_per_second(), 0.051);
    EXPECT_EQ(hot[1], seen->hot_actors(0).turns());
    EXPECT_NE(dom.find("<td>exact</td>"), std::string::npos);
  }

  // Each history chart: a point per sample /v1/stats kept, a 15-minute time axis of ticks
  // 2 minutes apart on the wall clock, and the latest sample's values in the legend.
  const auto& latest = seen->history(seen->history_size() - 1);
  auto per_second = [&](uint32_t n) { return n * 1000.0 / latest.length_ms(); };
  for (const auto& [id, unit] : std::vector<std::pair<std::string, std::string>>{
           {"h-activity", "/s"}, {"h-http", "req/s"}, {"h-latency", "ms"}}) {
    SCOPED_TRACE("chart #" + id);
    EXPECT_EQ(attribute(dom, id + "-svg", "data-points"), std::to_string(seen->history_size()));
    EXPECT_EQ(attribute(dom, id + "-svg", "data-y-unit"), unit);
    auto x = words(attribute(dom, id + "-svg", "data-x-ticks"));
    ASSERT_GE(x.size(), 7u);  // 900 s at one tick per 120 s: 7, or 8 when both ends fall on one
    ASSERT_LE(x.size(), 8u);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(seconds_of_day(x[i]) % 120, 0) << x[i];
      if (i > 0) {
        EXPECT_EQ((seconds_of_day(x[i]) - seconds_of_day(x[i - 1]) + 86400) % 86400, 120);
      }
    }
    EXPECT_NE(
        attribute(dom, id + "-svg", "aria-label").find("over the last 15 min; value axis 0 to"),
        std::string::npos);
  }
  auto near = [](double shown_value, double expected) {
    return std::abs(shown_value - expected) <= 0.5 + expected * 0.01;
  };
  EXPECT_PRED2(near, legend_value(dom, "h-activity", "turns/s"), per_second(latest.turns()));
  EXPECT_PRED2(near, legend_value(dom, "h-activity", "durable commits/s"),
               per_second(latest.durable_commits()));
  EXPECT_PRED2(near, legend_value(dom, "h-http", "2xx"), per_second(latest.http_2xx()));
  EXPECT_PRED2(near, legend_value(dom, "h-http", "4xx"), per_second(latest.http_4xx()));
  if (latest.http_p99_ms() > 0) {
    EXPECT_PRED2(near, legend_value(dom, "h-latency", "HTTP p99"), latest.http_p99_ms());
  }
}

}  // namespace
}  // namespace keel::test
