// The dashboard of a cluster as a browser renders it: real etcd and keel-node processes,
// headless chromium loading one node's page. Each member's row must match GET /v1/cluster,
// the events timeline GET /v1/cluster/events after a drain, and a trace opened from the
// page's failed-request list must draw the turns GET /v1/traces gives.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"
#include "dashboard_fixture.hpp"
#include "keel/runtime/http/json.hpp"

namespace keel::test {
namespace {

const std::string slow_trace = "6bf92f3577b34da6a3ce929d0e0e4731";
const std::string failed_trace = "6bf92f3577b34da6a3ce929d0e0e4732";

std::string traceparent(const std::string& trace) {
  return "00-" + trace + "-00f067aa0ba902b7-01";
}

// The element with id `id` through its closing tag `</tag>`.
std::string element(const std::string& dom, const std::string& id, const std::string& tag) {
  auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "<no element #" + id + ">";
  return dom.substr(at, dom.find("</" + tag + ">", at) - at);
}

class ClusterDashboard : public Cluster {
 protected:
  ClusterDashboard() { copies_ = "2"; }

  void SetUp() override { ASSERT_EQ(headless_chromium::missing(), ""); }

  // Quiet: every node but n3 up, no rebalance, every copy in sync, and n1's events end with
  // n3 leaving; the events then change no more.
  bool settled_after_drain(node_process& n1) {
    auto v = view(n1);
    auto events = n1.get("/v1/cluster/events").body;
    return member_ids(n1) == std::set<std::string>{"n1", "n2"} && !v.rebalance().running() &&
           v.replication().under_replicated() == 0 && v.replication().unavailable() == 0 &&
           events.find(R"("kind":"member_left","node":"n3")") != std::string::npos;
  }

  // GET /v1/cluster without the activations, which come and go as actors go idle.
  static std::string placement(node_process& node) {
    auto v = view(node);
    for (auto& m : *v.mutable_members()) m.set_activations(0);
    return http::to_json(v);
  }

  std::string url(node_process& node) const {
    return "http://127.0.0.1:" + std::to_string(node.port()) + "/";
  }
};

TEST_F(ClusterDashboard, ShowsEachNodeTheDrainOnTheTimelineAndAFailedRequestsWaterfall) {
  const std::vector<std::string> flags{"--test-actors", "--slow-request=100ms"};
  auto& n1 = start_node("n1", flags);
  start_node("n2", flags);
  auto& n3 = start_node("n3", flags);
  ASSERT_TRUE(
      eventually([&] { return member_ids(n1).size() == 3 && member_ids(n3).size() == 3; }, 10s))
      << "phase join: n1 and n3 did not see three members within 10 s";
  for (int k = 0; k < 30; ++k)
    ASSERT_EQ(increment(n1, "c" + std::to_string(k)), 200) << "phase load: c" << k;
  // Drain n3 once nothing moves: its partitions are handed off, then it leaves.
  ASSERT_TRUE(eventually([&] { return !view(n1).rebalance().running(); }, 20s))
      << "phase before drain: a rebalance still ran after 20 s";
  uint32_t n3_owned = 0;
  const auto drained = view(n1);
  for (const auto& m : drained.members())
    if (m.node_id() == "n3") n3_owned = m.partitions();
  ASSERT_GT(n3_owned, 0u) << "n3 owns nothing: the drain would move nothing";
  ASSERT_EQ(n1.post("/v1/cluster/nodes/n3/drain", "").status, 202);
  ASSERT_EQ(n3.wait_exit(30s), 0) << "phase drain: n3 did not leave within 30 s";
  ASSERT_TRUE(eventually([&] { return settled_after_drain(n1); }, 20s))
      << "phase after drain: n1 did not settle within 20 s\n"
      << n1.get("/v1/cluster").body;

  // After the drain, so that every turn is on a node that still answers for its trace.
  auto slow = n1.post("/v1/actors/relay/r1/Relay",
                      R"({"targetType":"slow","targetKey":"s1","sleepMs":150})",
                      {{"traceparent", traceparent(slow_trace)}});
  ASSERT_EQ(slow.status, 200) << slow.body;
  // The relay's ask has the request's deadline: the request fails with 504 while s2 sleeps.
  auto failed = n1.post(
      "/v1/actors/relay/r2/Relay", R"({"targetType":"slow","targetKey":"s2","sleepMs":400})",
      {{"traceparent", traceparent(failed_trace)}, {"X-Request-Timeout", "150ms"}});
  ASSERT_EQ(failed.status, 504) << failed.body;
  ASSERT_TRUE(eventually([&] { return settled_after_drain(n1); }, 10s))
      << "phase requests: the copies of their new partitions were not in sync within 10 s";

  const auto before = placement(n1);
  const auto events = get_json<cluster::ClusterEvents>(n1, "/v1/cluster/events");
  headless_chromium browser{dir_.path()};
  auto dom = browser.dump_dom(url(n1), page_time, browser_limit);
  auto kept = artifact("dashboard-cluster-events-dom.html");
  std::ofstream{kept} << dom;
  ASSERT_EQ(placement(n1), before) << "the cluster changed while the page read it";
  ASSERT_EQ(n1.get("/v1/cluster/events").body, http::to_json(events))
      << "events came while the page read them";

  // Every member's row: partitions, copies, in sync and under-replicated as the API says.
  auto v = view(n1);
  ASSERT_EQ(v.members_size(), 2) << before;
  for (const auto& m : v.members()) {
    SCOPED_TRACE("member " + m.node_id() + ", DOM in " + kept);
    std::regex row{"<tr><td>" + m.node_id() + "[^<]*</td><td>up</td><td>" + m.http_address() +
                   "</td><td>[^<]*</td><td>(\\w+)</td><td>(\\d+)</td><td>(\\d+)</td><td>(\\d+)</td>"
                   "<td>(\\d+)</td>"};
    std::smatch cells;
    ASSERT_TRUE(std::regex_search(dom, cells, row));
    EXPECT_EQ(cells[1], m.link());
    EXPECT_EQ(std::stoul(cells[2]), m.partitions());
    EXPECT_EQ(std::stoul(cells[3]), m.replicas());
    EXPECT_EQ(std::stoul(cells[4]), m.in_sync());
    EXPECT_EQ(std::stoul(cells[5]), m.under_replicated());
  }

  // The timeline draws every event n1 kept; the drain is there with all of n3's partitions.
  std::map<std::string, int> kinds;
  uint32_t handed_off = 0;
  for (const auto& e : events.events()) {
    if (e.node() == "n3") ++kinds[e.kind()];
    if (e.kind() == "partitions_handed_off" && e.node() == "n3") handed_off += e.partitions();
  }
  EXPECT_EQ(kinds["member_joined"], 1);
  EXPECT_EQ(kinds["drain_started"], 1);
  EXPECT_EQ(kinds["member_left"], 1);
  EXPECT_EQ(handed_off, n3_owned) << "n3's partitions as the handoff events count them";
  EXPECT_EQ(attribute(dom, "timeline-svg", "data-events"), std::to_string(events.events_size()))
      << kept;
  auto drawn = words(attribute(dom, "timeline-svg", "data-kinds"));
  for (const auto* kind :
       {"member_joined", "drain_started", "partitions_handed_off", "member_left"})
    EXPECT_NE(std::find(drawn.begin(), drawn.end(), kind), drawn.end()) << kind << " not drawn";
  EXPECT_NE(
      element(dom, "events", "table")
          .find("<td>drain_started</td><td>drain of n3 started: drain requested over HTTP</td>"),
      std::string::npos)
      << kept;

  // Both requests are listed, each linking to its trace.
  auto slow_list = element(dom, "slow", "table"), failed_list = element(dom, "failed", "table");
  EXPECT_NE(slow_list.find("<a href=\"#trace=" + slow_trace + "\">"), std::string::npos) << kept;
  EXPECT_NE(slow_list.find("<a href=\"#trace=" + failed_trace + "\">"), std::string::npos) << kept;
  EXPECT_NE(failed_list.find("<td title=\"/v1/actors/{type}/{key}/{message}\">POST "
                             "/v1/actors/relay/r2/Relay</td><td>504</td>"),
            std::string::npos)
      << kept;
  auto link = failed_list.find("<a href=\"#trace=" + failed_trace + "\">");
  ASSERT_NE(link, std::string::npos) << kept;
  EXPECT_EQ(failed_list.find("#trace=" + slow_trace), std::string::npos) << "a 200 is no failure";

  // The failed request's trace, opened by its link: the relay's turn, then the turn it asked.
  auto href = failed_list.substr(link + 9, failed_list.find('"', link + 9) - link - 9);
  auto turns = n1.get("/v1/traces/" + failed_trace).body;
  std::map<std::string, std::pair<std::string, std::string>> ran;  // actor -> node, outcome
  std::regex turn{R"re("actor":"([^"]+)","message":"[^"]*","caller":"[^"]*","node":"([^"]+)",)re"
                  R"re("startMs":\d+,"durationUs":\d+,"outcome":"([^"]+)")re"};
  for (std::sregex_iterator it{turns.begin(), turns.end(), turn}, end; it != end; ++it)
    ran[(*it)[1]] = {(*it)[2], (*it)[3]};
  ASSERT_EQ(ran.size(), 2u) << turns;
  auto trace_dom = browser.dump_dom(url(n1) + href, page_time, browser_limit);
  std::ofstream{artifact("dashboard-trace-dom.html")} << trace_dom;
  EXPECT_EQ(attribute(trace_dom, "trace", "data-shown"), failed_trace);
  EXPECT_EQ(attribute(trace_dom, "waterfall-svg", "data-actors"), "relay/r2 slow/s2");
  EXPECT_EQ(attribute(trace_dom, "waterfall-svg", "data-nodes"),
            ran["relay/r2"].first + " " + ran["slow/s2"].first);
  EXPECT_NE(trace_dom.find("<g data-actor=\"relay/r2\" data-node=\"" + ran["relay/r2"].first +
                           "\" data-outcome=\"" + ran["relay/r2"].second + "\">"),
            std::string::npos);
  EXPECT_NE(ran["relay/r2"].second, "ok") << "the relay's ask timed out";
  EXPECT_EQ(ran["slow/s2"].second, "ok");

  auto png = artifact("dashboard-cluster-trace.png");
  std::filesystem::remove(png);
  browser.screenshot(url(n1) + href, png, 1200, 1800, page_time, browser_limit);
  std::cout << "screenshot kept in " << png << "\n";
  RecordProperty("screenshot", png);
  std::ifstream in{png, std::ios::binary};
  std::string head(8, '\0');
  ASSERT_TRUE(in.read(head.data(), head.size())) << "no PNG at " << png;
  EXPECT_EQ(head, "\x89PNG\r\n\x1a\n");
}

}  // namespace
}  // namespace keel::test
