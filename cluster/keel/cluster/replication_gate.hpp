#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/replica_learners.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/commit_replicator.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class partition_host;
}

namespace keel::cluster {

class membership;
struct cluster_metrics;

/// An owner's half of replication, the output gate (DESIGN.md "Replication and failover"):
/// each group commit's writes go to the in-sync replicas of the partitions they touch, one
/// message per replica, numbered per partition and epoch, while the local write syncs; the
/// batch's turns answer only when every one of them acknowledged. A replica that refuses,
/// does not answer within --replica-timeout, or whose link is lost is removed from the
/// partition's `isr` in etcd first (write_owned_partitions: only while this node is still a
/// member and the record unchanged), and then the batch counts without it, if the owner and
/// the replicas left are still --min-insync copies. A commit to a partition with fewer
/// in-sync copies than that is refused before anything is written. Replicas being caught
/// up (replica_learners) get each batch too, awaited only once they are about to join.
/// Thread safety: admit() and replicate() are called by the runtime's store writer, on its
/// thread; stop() from any thread. Answers are collected by an actor of its own; removals
/// from `isr` block on etcd, on a thread of its own.
class replication_gate final : public commit_replicator {
 public:
  struct options {
    size_t min_insync = 1;
    std::chrono::milliseconds replica_timeout{1000};
  };
  using link_fn = std::function<caf::actor(const std::string& node_id)>;

  /// Requires: `members`, `host` and `metrics` outlive the gate.
  replication_gate(membership& members, partition_host& host, caf::actor_system& sys,
                   link_fn link_to, cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log,
                   options opts);
  ~replication_gate() override;
  replication_gate(const replication_gate&) = delete;
  replication_gate& operator=(const replication_gate&) = delete;

  caf::error admit(uint32_t partition) override;
  void replicate(const std::vector<store_write>& writes, std::vector<store_write>& extra,
                 std::function<void(caf::error)> done) override;

  /// The replicas being caught up on partitions owned here (replica_catch_up adds them).
  const std::shared_ptr<replica_learners>& learners() const noexcept { return learners_; }

  /// Answers every batch still waiting with `unavailable` and stops the threads; batches
  /// handed in afterwards are answered so at once. Idempotent.
  void stop();

  struct round;  // one batch's replication
  struct queue;  // rounds to shrink `isr` for, shared with the actor that collects answers

 private:
  using writes_by_partition = std::map<uint32_t, std::vector<const store_write*>>;
  /// Numbers each partition's writes, adds their sequence records to `extra` and puts them
  /// in a message per in-sync replica (noted in `r.sent`); the error if one cannot be.
  caf::error number(const writes_by_partition& by_partition, round& r,
                    std::map<std::string, wire_replicate>& messages,
                    std::vector<store_write>& extra);
  /// Sends each replica its message; the collector answers `r`.
  void send(const std::shared_ptr<round>& r, std::map<std::string, wire_replicate> messages);
  /// The next sequence number of `p` at `epoch`, continuing what is stored.
  caf::expected<uint64_t> next_sequence(uint32_t p, uint64_t epoch);
  /// `unavailable` if a record of `records` has fewer in-sync copies than --min-insync.
  caf::error enough_copies(const std::map<uint32_t, versioned_record>& records) const;
  /// Removes each replica that failed `r` from its partitions' `isr`, then answers `r`.
  void shrink_and_answer(const std::shared_ptr<round>& r);
  void shrinker_loop();

  membership& members_;
  partition_host& host_;
  const link_fn link_to_;
  cluster_metrics& metrics_;
  const std::shared_ptr<spdlog::logger> log_;
  const options opts_;
  const std::string self_;
  std::atomic<bool> stopped_{false};  // then nothing above is touched again
  const std::shared_ptr<queue> queue_;
  caf::actor collector_;
  std::shared_ptr<replica_learners> learners_;
  std::unordered_map<uint32_t, ReplicaSequence> sequences_;  // store writer's thread only
  std::thread shrinker_;
};

}  // namespace keel::cluster
