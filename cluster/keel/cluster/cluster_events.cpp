#include "keel/cluster/cluster_events.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

namespace keel::cluster {

namespace {

ClusterEvent event(std::string kind, const std::string& node, std::string detail = {}) {
  ClusterEvent ev;
  ev.set_kind(std::move(kind));
  ev.set_node(node);
  ev.set_detail(std::move(detail));
  return ev;
}

void compare_members(const cluster_snapshot& before, const cluster_snapshot& after,
                     std::vector<ClusterEvent>& out) {
  for (const auto& [id, m] : after.members)
    if (!before.is_member(id)) out.push_back(event("member_joined", id, m.http_address()));
  for (const auto& [id, m] : before.members)
    if (!after.is_member(id))
      out.push_back(event("member_left", id,
                          before.is_draining(id) ? "drained" : "deregistered or lease expired"));
}

void compare_drains(const cluster_snapshot& before, const cluster_snapshot& after,
                    std::vector<ClusterEvent>& out) {
  for (const auto& [id, reason] : after.draining)
    if (!before.is_draining(id)) out.push_back(event("drain_started", id, reason));
  for (const auto& [id, reason] : before.draining)
    if (!after.is_draining(id)) out.push_back(event("drain_ended", id));
}

void compare_offices(const cluster_snapshot& before, const cluster_snapshot& after,
                     std::vector<ClusterEvent>& out) {
  if (!after.coordinator.empty() && after.coordinator != before.coordinator)
    out.push_back(event("coordinator_elected", after.coordinator));
  const auto& was = before.rebalance;
  const auto& is = after.rebalance;
  if (is.running() && !was.running()) {
    auto ev = event("rebalance_started", is.coordinator(), is.reason());
    ev.set_partitions(is.planned());
    out.push_back(std::move(ev));
  } else if (!is.running() && is.updated_ms() != 0 &&
             (was.running() || is.updated_ms() != was.updated_ms())) {
    // Also a whole rebalance that began and ended between two snapshots of this view.
    auto ev = event("rebalance_finished", is.coordinator(),
                    std::to_string(is.done()) + " moved, " + std::to_string(is.failed()) +
                        " aborted" + (is.reason().empty() ? "" : ": " + is.reason()));
    ev.set_partitions(is.done());
    out.push_back(std::move(ev));
  }
}

// (kind, node, to) -> partitions
using partition_counts = std::map<std::tuple<std::string, std::string, std::string>, uint32_t>;

void classify(const PartitionRecord& was, const PartitionRecord& is, partition_counts& counts) {
  const bool was_moving = was.state() == PartitionRecord::moving;
  if (is.state() != PartitionRecord::active) return;  // a move starting: its end is the news
  if (was_moving && is.owner() != was.owner())
    ++counts[{"partitions_handed_off", was.owner(), is.owner()}];
  else if (was_moving)
    ++counts[{"handoffs_aborted", was.owner(), was.to()}];
  else if (is.owner() != was.owner())
    ++counts[{"partitions_failed_over", was.owner(), is.owner()}];
  if (is.owner() != was.owner()) return;
  for (const auto& id : was.isr())
    if (std::find(is.isr().begin(), is.isr().end(), id) == is.isr().end())
      ++counts[{"replicas_out_of_sync", id, ""}];
}

void count_partitions(const std::vector<partition_change>& changed,
                      std::vector<ClusterEvent>& out) {
  partition_counts counts;
  for (const auto& change : changed)
    if (change.before && change.after) classify(*change.before, *change.after, counts);
  for (const auto& [key, n] : counts) {
    const auto& [kind, node, to] = key;
    auto ev = event(kind, node);
    ev.set_to(to);
    ev.set_partitions(n);
    out.push_back(std::move(ev));
  }
}

}  // namespace

std::vector<ClusterEvent> events_between(const cluster_snapshot& before,
                                         const cluster_snapshot& after,
                                         const std::vector<partition_change>& changed) {
  std::vector<ClusterEvent> out;
  compare_members(before, after, out);
  compare_drains(before, after, out);
  compare_offices(before, after, out);
  count_partitions(changed, out);
  return out;
}

}  // namespace keel::cluster
