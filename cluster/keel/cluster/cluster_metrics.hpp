#pragma once

#include <string>

#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/runtime/metrics.hpp"

namespace keel::cluster {

/// What crossing nodes costs and how often it happens, for /metrics: a call that crosses
/// pays serialization, a network round trip and thread hand-offs, so "crossings per
/// request" is the number a placement must keep low (docs/benchmarks.md, scale-out).
/// Thread safety: the counters are thread-safe (striped); render() from any thread.
struct cluster_metrics {
  counter calls_sent;      // calls and tells this node forwarded to their owner's node
  counter calls_received;  // calls and tells other nodes forwarded here
  counter calls_held;      // calls held while their partition moved
  counter wire_damaged;    // batches of calls or answers that do not match, or answers
                           // not from the link's peer: dropped
  // Replication (DESIGN.md "Replication and failover").
  counter replica_batches_applied;  // wire_replicate messages applied here as a replica
  counter replica_batches_refused;  // ... refused (stale epoch, out of sequence, malformed)
  counter replication_rounds;       // group commits this node sent to its replicas
  counter replication_failures;     // replica answers that failed or timed out
  counter isr_shrinks;              // replicas this node removed from its partitions' isr
  counter promotions;               // partitions this coordinator promoted to a replica
  counter isr_expands;              // replicas this node caught up and put back in an isr
  histogram replication_seconds;    // a group commit's round: sent to the last answer
  gauge catch_ups_running;          // catch-ups of a replica under way on this node
  histogram catch_up_seconds;       // a catch-up: range read and streamed, isr written
  histogram failover_seconds;       // coordinator: an owner seen down to its promotions

  /// Appends the counters and the gauges `now` gives for `self` in Prometheus text;
  /// `factor`: the cluster's replication factor.
  void render(std::string& out, const cluster_snapshot& now, const std::string& self,
              size_t factor) const;
};

}  // namespace keel::cluster
