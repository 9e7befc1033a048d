#include "keel/cluster/cluster_event_log.hpp"

namespace keel::cluster {

cluster_event_log::cluster_event_log(size_t capacity, std::shared_ptr<const wall_clock> wall)
    : capacity_(capacity), wall_(std::move(wall)) {}

void cluster_event_log::record(std::vector<ClusterEvent> events) {
  if (events.empty()) return;
  auto now = wall_->now_ms();
  std::lock_guard guard{mutex_};
  for (auto& ev : events) {
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
