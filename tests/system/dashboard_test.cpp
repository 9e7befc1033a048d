// The dashboard page (GET /) as a browser renders it: headless chromium loads it from a
// real keel-node, its script polls /metrics, /v1/cluster and /v1/stats, and the test reads
// the DOM the script built. Canvas pixels cannot be asserted, so the page also writes each
// chart's axis labels into data attributes.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "dashboard_fixture.hpp"
#include "keel/test/etcd_process.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/headless_chromium.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

TEST_F(DashboardInChromium, ShowsExactCountsQuantilesOfItsOwnWindowLabelledAxesAndTheCluster) {
  headless_chromium browser{dir_.path()};
  auto dom = browser.dump_dom(url(), page_time, browser_limit);
  auto kept = artifact("dashboard-dom.html");
  std::ofstream{kept} << dom;
  std::cout << "rendered DOM kept in " << kept << "\n";

  // The script ran to the end of every sample, and said nothing failed.
  EXPECT_NE(dom.find("<body data-samples=\"" + std::to_string(samples) + "\">"), std::string::npos)
      << "the page did not take " << samples << " samples in " << page_time.count()
      << " ms of virtual time; DOM in " << kept;
  auto updated = text_of(dom, "sub");
  ASSERT_TRUE(std::regex_match(updated, std::regex{"updated \\d\\d:\\d\\d:\\d\\d"})) << updated;

  // Route rows: counts since the node started, exactly what the test sent. The counter's
  // requests all came before the page opened, so its window holds none of them: no
  // quantile ('–') and a rate of 0, where the old page showed life-long bucket bounds.
  const std::string counter_row =
      "<tr><td>POST /v1/actors/{type}/{key}/{message}</td><td>0.0</td><td>–</td><td>–</td><td>" +
      std::to_string(increments) + "</td><td>" + std::to_string(unknown_messages) +
      "</td><td>0</td><td>0</td></tr>";
  EXPECT_NE(dom.find(counter_row), std::string::npos) << "no row " << counter_row << " in " << kept;
  const std::string unmatched_row =
      "<tr><td>any unmatched</td><td>0.0</td><td>–</td><td>–</td>"
      "<td>0</td><td>" +
      std::to_string(unknown_routes) + "</td><td>0</td><td>0</td></tr>";
  EXPECT_NE(dom.find(unmatched_row), std::string::npos)
      << "no row " << unmatched_row << " in " << kept;
  // The page's own polls of /metrics fall inside its window, so that row has quantiles:
  // interpolated inside a bucket, not a bucket bound.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      dom, m,
      std::regex{"<tr><td>GET /metrics</td><td>[0-9.]+</td><td>([0-9.]+)</td><td>([0-9.]+)</td>"}))
      << "no GET /metrics row with quantiles in " << kept;
  EXPECT_LE(std::stod(m[1]), std::stod(m[2])) << "p50 above p99";
  EXPECT_EQ(text_of(dom, "window"), "latency quantiles over the last " +
                                        std::to_string((samples - 1) * 2) +
                                        " s (all this page has seen so far)");
  EXPECT_NE(dom.find(">p50 ms, last minute</th>"), std::string::npos);
  EXPECT_NE(dom.find(">p99 ms, last minute</th>"), std::string::npos);

  // Each chart: a point per sample after the first, a time axis of 10 s ticks on the wall
  // clock over the 60 s the page starts with, and value ticks that are round steps from 0.
  const int updated_s = seconds_of_day(updated.substr(8));
  const std::regex round_step{"(1|2|5)(0*|\\.0*)|0\\.0*(1|2|5)"};
  for (const auto& [id, unit] : std::vector<std::pair<std::string, std::string>>{
           {"activity", "/s"}, {"latency", "ms"}, {"http", "req/s"}}) {
    SCOPED_TRACE("chart #" + id + ", DOM in " + kept);
    EXPECT_EQ(attribute(dom, id, "data-points"), std::to_string(samples - 1));
    EXPECT_EQ(attribute(dom, id, "data-y-unit"), unit);
    auto x = words(attribute(dom, id, "data-x-ticks"));
    ASSERT_GE(x.size(), 6u);  // 60 s at one tick per 10 s: 6, or 7 when both ends fall on one
    ASSERT_LE(x.size(), 7u);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::regex_match(x[i], std::regex{"\\d\\d:\\d\\d:\\d\\d"})) << x[i];
      EXPECT_EQ(seconds_of_day(x[i]) % 10, 0) << x[i];
      if (i > 0) {
        EXPECT_EQ((seconds_of_day(x[i]) - seconds_of_day(x[i - 1]) + 86400) % 86400, 10);
      }
    }
    auto lag = (updated_s - seconds_of_day(x.back()) + 86400) % 86400;
    EXPECT_LT(lag, 10) << "the last tick " << x.back() << " is not the last 10 s before "
                       << updated;
    auto y = words(attribute(dom, id, "data-y-ticks"));
    ASSERT_GE(y.size(), 2u);
    EXPECT_EQ(std::stod(y[0]), 0.0);
    const double step = std::stod(y[1]);
    EXPECT_TRUE(std::regex_match(y[1], round_step)) << "step " << y[1] << " is no 1, 2 or 5";
    for (size_t i = 2; i < y.size(); ++i) EXPECT_NEAR(std::stod(y[i]), i * step, step * 1e-6);
    auto label = attribute(dom, id, "aria-label");
    EXPECT_NE(label.find("over the last 60 s; value axis 0 to " + y.back() + " " + unit +
                         "; time axis " + x.front() + " to " + x.back()),
              std::string::npos)
        << label;
  }
  // No turn ran while the page was open: both turn charts keep their empty 0-to-1 scale.
  EXPECT_EQ(attribute(dom, "activity", "data-y-ticks"), "0.0 0.5 1.0");
  EXPECT_EQ(attribute(dom, "latency", "data-y-ticks"), "0.0 0.5 1.0");
  for (const auto* series :
       {"turns/s", "durable commits/s", "turn p50", "turn p99", "2xx", "4xx", "5xx"}) {
    EXPECT_NE(dom.find("</i>" + std::string{series} + " <b>"), std::string::npos)
        << "no legend entry " << series;
  }
  EXPECT_EQ(text_of(dom, "span"), "the last 60 s (at most 15 min), one point per 2 s sample");

  // The cluster line and the member row: alone, the node holds every partition, has no
  // links and no events.
  EXPECT_EQ(text_of(dom, "clustersub"), "keel: 1 node holding 4096 partitions, coordinator n1");
  EXPECT_NE(dom.find("<tr><td>n1 (this node) ★</td><td>up</td><td>127.0.0.1:" +
                     std::to_string(node_->port()) +
                     "</td><td>–</td><td>–</td><td>4096</td><td>0</td><td>0</td><td>0</td>"
                     "<td>1</td></tr>"),
            std::string::npos)
      << "no member row for n1 with 4096 partitions and 1 activation in " << kept;
  EXPECT_EQ(text_of(dom, "eventssub"), "none seen by this node (it runs without a cluster)");
  EXPECT_EQ(attribute(dom, "timeline-svg", "data-events"), "0");
  // The unknown routes and messages were 404s: neither slow nor failed.
  EXPECT_NE(dom.find("<tbody><tr><td colspan=\"5\">none</td></tr></tbody></table>\n<table "
                     "id=\"failed\">"),
            std::string::npos)
      << kept;
}

TEST_F(DashboardInChromium, ScreenshotUnderLoadIsKeptInTheBuildTree) {
  // Calls while the page is open, so its charts have something to draw.
  auto png = artifact("dashboard.png");
  std::filesystem::remove(png);
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  {
    // Joined however the screenshot ends; the load thread never throws (node_process
    // answers a failed call as a status, counted here).
    std::jthread load{[&] {
      for (int i = 0; !stop.load(); ++i) {
        auto r = node_->post("/v1/actors/counter/shot-" + std::to_string(i % 16) + "/Increment",
                             R"({"by":1})");
        if (r.status != 200) failed.fetch_add(1);
      }
    }};
    struct stopper {
      std::atomic<bool>& flag;
      ~stopper() { flag = true; }
    } stop_load{stop};
    // The node's actor tables and history have an interval of this load to show.
    ASSERT_TRUE(eventually(
        [&] {
          auto stats = stats_of(*node_);
          return stats.history_size() > 0 && stats.history(stats.history_size() - 1).turns() > 0;
        },
        std::chrono::seconds{10}, std::chrono::milliseconds{20}))
        << "phase load: no interval with turns closed within 10 s";
    headless_chromium browser{dir_.path()};
    browser.screenshot(url(), png, 1200, 2600, std::chrono::milliseconds{20000}, browser_limit);
  }
  std::cout << "screenshot kept in " << png << "\n";
  RecordProperty("screenshot", png);
  EXPECT_EQ(failed.load(), 0) << "calls failed while the page was open";

  // A PNG of the window's size: signature, then the IHDR chunk's big-endian width, height.
  std::ifstream in{png, std::ios::binary};
  std::string head(24, '\0');
  ASSERT_TRUE(in.read(head.data(), head.size())) << "no PNG at " << png;
  EXPECT_EQ(head.substr(0, 8), "\x89PNG\r\n\x1a\n");
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(head[at + i]);
    return v;
  };
  EXPECT_EQ(be32(16), 1200u);
  EXPECT_EQ(be32(20), 2600u);
}

// In a cluster with two copies the page shows each member's copies and the replication
// line, as GET /v1/cluster gives them.
TEST(DashboardOfACluster, ShowsEachMembersCopiesAndTheReplication) {
  ASSERT_EQ(headless_chromium::missing(), "");
  temp_dir dir;
  etcd_process etcd{dir.path()};
  auto node = [&](const std::string& id) {
    return std::make_unique<node_process>(
        dir.sub(id), std::vector<std::string>{"--node-id=" + id, "--etcd=" + etcd.endpoint(),
                                              "--cluster-port=0", "--replication-factor=2"});
  };
  auto n1 = node("n1");
  auto n2 = node("n2");
  ASSERT_TRUE(eventually(
      [&] {
        return n1->get("/v1/cluster").body.find(R"("nodeId":"n2","status":"up")") !=
               std::string::npos;
      },
      std::chrono::seconds{5}));
  for (int k = 0; k < 20; ++k)
    ASSERT_EQ(
        n1->post("/v1/actors/counter/c" + std::to_string(k) + "/Increment", R"({"by":1})").status,
        200);
  // The page must see what the view says: read while every copy is in sync, and again if a
  // copy fell behind meanwhile (a replica on a loaded machine may miss its ack deadline).
  auto in_sync = [&] {
    return n1->get("/v1/cluster").body.find(R"("underReplicated":0,"unavailable":0)") !=
           std::string::npos;
  };
  headless_chromium browser{dir.path()};
  std::string view, dom;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(eventually(in_sync, std::chrono::seconds{10}))
        << "phase copies: not every copy in sync within 10 s";
    view = n1->get("/v1/cluster").body;
    dom = browser.dump_dom("http://127.0.0.1:" + std::to_string(n1->port()) + "/", page_time,
                           browser_limit);
    if (in_sync()) break;
  }
  std::ofstream{artifact("dashboard-cluster-dom.html")} << dom;
  EXPECT_EQ(text_of(dom, "replication"),
            "2 copies of each partition, 1 in sync to write: 0 under-replicated, 0 awaiting a copy")
      << view;
  // n1's row: the partitions it owns, and as many copies (all in sync) as n2 owns.
  auto owned_by = [&](const std::string& id) {
    auto at = view.find(R"("nodeId":")" + id + R"(")");
    auto p = view.find(R"("partitions":)", at) + 13;
    return std::stoi(view.substr(p, view.find_first_of(",}", p) - p));
  };
  EXPECT_NE(dom.find("<td>" + std::to_string(owned_by("n1")) + "</td><td>" +
                     std::to_string(owned_by("n2")) + "</td><td>" + std::to_string(owned_by("n2")) +
                     "</td>"),
            std::string::npos)
      << view;
}

// A node that wants API keys refuses the page (which sends none) the cluster view. The
// page says so and stops asking: each refusal would count as a failed key, and enough of
// them throttle this client's address, valid keys from it included.
TEST(DashboardWithApiKeys, AskedForTheClusterOnceThenSaysWhyNotAndStopsAsking) {
  ASSERT_EQ(headless_chromium::missing(), "");
  temp_dir dir;
  auto keys = dir.sub("keys");
  std::ofstream{keys} << "a-valid-key\n";
  node_process node{dir.sub("data"), {"--api-keys-file=" + keys}};
  headless_chromium browser{dir.path()};
  auto dom = browser.dump_dom("http://127.0.0.1:" + std::to_string(node.port()) + "/", page_time,
                              browser_limit);
  EXPECT_NE(text_of(dom, "clustersub").find("not asked again"), std::string::npos)
      << text_of(dom, "clustersub");
  auto metrics = node.get("/metrics").body;
  std::smatch refused;
  ASSERT_TRUE(std::regex_search(
      metrics, refused,
      std::regex{
          R"(keel_http_requests_total\{[^}]*route="/v1/cluster"[^}]*status="401"[^}]*\} (\d+))"}))
      << metrics;
  EXPECT_EQ(refused[1], "1") << "the page asked for the cluster view " << refused[1] << " times";
}

}  // namespace
}  // namespace keel::test
