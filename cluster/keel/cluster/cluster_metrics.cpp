#include "keel/cluster/cluster_metrics.hpp"

namespace keel::cluster {

void cluster_metrics::render(std::string& out, const cluster_snapshot& now,
                             const std::string& self) const {
  render_counter(out, "keel_cluster_calls_sent_total",
                 "Calls and tells this node forwarded to the node owning their partition.",
                 calls_sent.value());
  render_counter(out, "keel_cluster_calls_received_total",
                 "Calls and tells other nodes forwarded to this node.", calls_received.value());
  render_counter(out, "keel_cluster_calls_held_total",
                 "Calls held on this node while their partition moved between nodes.",
                 calls_held.value());
  render_gauge(out, "keel_cluster_members", "Members of the cluster as this node sees it.",
               static_cast<int64_t>(now.members.size()));
  render_gauge(out, "keel_cluster_partitions_owned", "Partitions the table gives this node.",
               static_cast<int64_t>(now.owned_by(self)));
}

}  // namespace keel::cluster
