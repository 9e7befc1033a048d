#include "recovery_check.hpp"

#include <set>

#include "http_probe.hpp"
#include "json_value.hpp"

namespace keel::chaos {

namespace {

constexpr std::chrono::milliseconds probe_timeout{1000};

// The gap as `node` sees the cluster; empty when its view is whole.
std::string gap_seen_by(const target& node, const std::set<std::string>& expected) {
  auto ready = http_get(node.port, "/readyz", probe_timeout);
  if (ready.status != 200)
    return node.node_id + " /readyz " + std::to_string(ready.status) + " " + ready.body;
  auto reply = http_get(node.port, "/v1/cluster", probe_timeout);
  auto view = json_value::parse(reply.body);
  if (reply.status != 200 || !view)
    return node.node_id + " /v1/cluster " + std::to_string(reply.status);
  if (view->text_of("fenced") == "true") return node.node_id + " is fenced";
  auto coordinator = view->text_of("coordinator");
  if (coordinator.empty()) return node.node_id + " sees no coordinator";
  std::set<std::string> up;
  const json_value* members = view->find("members");
  for (const auto& m : members ? members->items() : std::vector<json_value>{}) {
    auto status = m.text_of("status");
    if (status != "up") return node.node_id + " sees " + m.text_of("nodeId") + " " + status;
    up.insert(m.text_of("nodeId"));
  }
  if (up != expected) {
    std::string seen;
    for (const auto& id : up) seen += (seen.empty() ? "" : ",") + id;
    return node.node_id + " sees members {" + seen + "}";
  }
  // Every member reads the coordinator's rebalance progress from etcd.
  const json_value* rebalance = view->find("rebalance");
  if (rebalance && rebalance->text_of("running") == "true")
    return node.node_id + " sees a rebalance running: " + rebalance->text_of("done") + " of " +
           rebalance->text_of("planned") + " done";
  return {};
}

}  // namespace

std::string recovery_gap(const std::vector<target>& nodes) {
  std::set<std::string> expected;
  for (const auto& n : nodes) expected.insert(n.node_id);
  for (const auto& n : nodes) {
    auto gap = gap_seen_by(n, expected);
    if (!gap.empty()) return gap;
  }
  return {};
}

std::string coordinator_seen_by(const std::vector<target>& nodes) {
  for (const auto& n : nodes) {
    auto reply = http_get(n.port, "/v1/cluster", probe_timeout);
    auto view = json_value::parse(reply.body);
    if (reply.status == 200 && view && !view->text_of("coordinator").empty())
      return view->text_of("coordinator");
  }
  return {};
}

}  // namespace keel::chaos
