#include "keel/cluster/cluster_event_log.hpp"

namespace keel::cluster {

cluster_event_log::cluster_event_log(size_t capacity, std::shared_ptr<const wall_clock> wall)
    : capacity_(capacity), wall_(std::move(wall)) {}

namespace {

// An event whose only payload is a count of partitions (handoffs, failovers).
bool is_count(const ClusterEvent& ev) {
  return ev.partitions() > 0 && ev.detail().empty();
}

}  // namespace

ClusterEvent* cluster_event_log::mergeable(const ClusterEvent& ev, int64_t now) {
  if (!is_count(ev)) return nullptr;
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (now - it->time_ms() > merge_window_ms) return nullptr;
    if (is_count(*it) && it->kind() == ev.kind() && it->node() == ev.node() && it->to() == ev.to())
      return &*it;
  }
  return nullptr;
}

void cluster_event_log::record(std::vector<ClusterEvent> events) {
  if (events.empty()) return;
  auto now = wall_->now_ms();
  std::lock_guard guard{mutex_};
  for (auto& ev : events) {
    if (auto* same = mergeable(ev, now)) {
      same->set_partitions(same->partitions() + ev.partitions());
      continue;
    }
    ev.set_seq(next_seq_++);
    ev.set_time_ms(now);
    if (events_.size() >= capacity_) events_.pop_front();
    events_.push_back(std::move(ev));
  }
}

void cluster_event_log::record(ClusterEvent event) {
  std::vector<ClusterEvent> one;
  one.push_back(std::move(event));
  record(std::move(one));
}

ClusterEvents cluster_event_log::view(const std::string& node_id) const {
  ClusterEvents out;
  out.set_node_id(node_id);
  out.set_capacity(static_cast<uint32_t>(capacity_));
  std::lock_guard guard{mutex_};
  for (const auto& ev : events_) *out.add_events() = ev;
  return out;
}

}  // namespace keel::cluster
