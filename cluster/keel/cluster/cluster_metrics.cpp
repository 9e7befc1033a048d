#include "keel/cluster/cluster_metrics.hpp"

#include "keel/cluster/failover.hpp"

namespace keel::cluster {

void cluster_metrics::render(std::string& out, const cluster_snapshot& now, const std::string& self,
                             size_t factor) const {
  render_counter(out, "keel_cluster_calls_sent_total",
                 "Calls and tells this node forwarded to the node owning their partition.",
                 calls_sent.value());
  render_counter(out, "keel_cluster_calls_received_total",
                 "Calls and tells other nodes forwarded to this node.", calls_received.value());
  render_counter(out, "keel_cluster_calls_held_total",
                 "Calls held on this node while their partition moved between nodes.",
                 calls_held.value());
  render_counter(out, "keel_cluster_wire_damaged_total",
                 "Batches of calls or answers from other nodes whose ids did not match their "
                 "calls or replies, or answers not from the link's peer, dropped (their calls "
                 "end at their deadlines).",
                 wire_damaged.value());
  render_counter(out, "keel_replica_batches_applied_total",
                 "Commits of other nodes' partitions this node applied as a replica.",
                 replica_batches_applied.value());
  render_counter(out, "keel_replica_batches_refused_total",
                 "Replication messages this node refused (stale epoch, not the next in "
                 "sequence, not a replica, malformed).",
                 replica_batches_refused.value());
  render_counter(out, "keel_replication_rounds_total",
                 "Group commits this node sent to its partitions' in-sync replicas.",
                 replication_rounds.value());
  render_counter(out, "keel_replication_failures_total",
                 "Replica answers to this node that were errors or came too late.",
                 replication_failures.value());
  render_counter(out, "keel_isr_shrinks_total",
                 "Replicas this node removed from its partitions' in-sync sets.",
                 isr_shrinks.value());
  render_counter(out, "keel_promotions_total",
                 "Partitions this node, as coordinator, promoted to an in-sync replica after "
                 "their owner died.",
                 promotions.value());
  render_counter(out, "keel_isr_expands_total",
                 "Replicas this node caught up and added back to its partitions' in-sync sets.",
                 isr_expands.value());
  render_histogram(out, "keel_replication_round_seconds",
                   "Replication lag as this node's commits see it: from sending a group "
                   "commit's writes to its replicas to the last one's answer.",
                   replication_seconds);
  render_histogram(out, "keel_catch_up_seconds",
                   "Catch-ups of a replica by this node while the partition serves: its "
                   "range read and streamed, the writes made meanwhile sent, the replica "
                   "added to the in-sync set.",
                   catch_up_seconds);
  render_gauge(out, "keel_catch_ups_running", "Catch-ups of a replica this node is running now.",
               catch_ups_running.value());
  render_histogram(out, "keel_failover_seconds",
                   "On the coordinator: from seeing an owner down to promoting its "
                   "partitions' in-sync replicas.",
                   failover_seconds);
  size_t under = 0, waiting = 0;
  now.partitions.for_each([&](uint32_t, const versioned_record& rec) {
    under += rec.record.owner() == self && under_replicated(rec.record, factor);
    waiting += awaits_a_copy(now, rec.record);
  });
  render_gauge(out, "keel_cluster_partitions_under_replicated",
               "Partitions this node owns with fewer in-sync copies than the replication "
               "factor.",
               static_cast<int64_t>(under));
  render_gauge(out, "keel_cluster_partitions_awaiting_copy",
               "Partitions whose owner is down with no in-sync replica up: unavailable until a "
               "copy with every acknowledged write returns (the same on every node).",
               static_cast<int64_t>(waiting));
  render_gauge(out, "keel_cluster_members", "Members of the cluster as this node sees it.",
               static_cast<int64_t>(now.members.size()));
  render_gauge(out, "keel_cluster_partitions_owned", "Partitions the table gives this node.",
               static_cast<int64_t>(now.owned_by(self)));
}

}  // namespace keel::cluster
