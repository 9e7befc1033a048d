#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/group_commit.hpp"
#include "keel/cluster/replica_learners.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/partition_host.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class membership;
struct cluster_metrics;

/// An owner brings its partitions' replicas in sync (DESIGN.md "Replication and
/// failover", catch-up) while the partitions go on serving: for a replica that is a member
/// but not in `isr` (new, returning, or dropped after a failure), it reads the partition's
/// range at one moment between two commit batches, registering the replica as a learner
/// at that moment (replica_learners), streams the range (the handoff stream, marked as a
/// copy: the replica replaces its range with it and serves nothing), lets the learner
/// catch up with the commits made meanwhile, and adds it to `isr` in etcd once it holds
/// every commit a turn was answered for. From then on every commit reaches it through the
/// output gate.
/// Thread safety: thread-safe; the jobs run on eight threads of its own (one job per
/// partition at a time) and block on the store, the stream and etcd; the replicas they
/// caught up join their isr in one etcd transaction per group that is ready together.
class replica_catch_up {
 public:
  struct hooks {
    /// The link actor to `node_id`; null if it is not a member.
    std::function<caf::actor(const std::string& node_id)> link_to;
    /// A catch-up of the partition begins (a move waits for it to end); false if the
    /// partition is being handed off, and then none begins.
    std::function<bool(uint32_t)> begin;
    /// The catch-up of the partition ended.
    std::function<void(uint32_t)> end;
  };

  /// Requires: `members`, `host`, `sys` and `metrics` outlive this object.
  replica_catch_up(membership& members, partition_host& host, caf::actor_system& sys, hooks fns,
                   std::shared_ptr<replica_learners> learners, cluster_metrics& metrics,
                   std::shared_ptr<spdlog::logger> log);
  ~replica_catch_up();
  replica_catch_up(const replica_catch_up&) = delete;
  replica_catch_up& operator=(const replica_catch_up&) = delete;

  /// Queues a catch-up for each replica `now` shows out of sync on a partition owned here
  /// (and not queued yet).
  void scan(const cluster_snapshot& now);

  /// Drops queued jobs and joins the thread (a running one finishes). Idempotent.
  void stop();

 private:
  using job = std::pair<uint32_t, std::string>;  // partition, replica
  void worker_loop();
  /// One catch-up; the reason it failed, or empty. `streamed`: the range was sent (else
  /// the replica needed none, or it failed before).
  std::string run(uint32_t p, const std::string& replica, bool& streamed);
  /// Streams `records` to `replica` and brings `learner` to `isr`; the reason it failed.
  std::string stream_and_join(uint32_t p, uint64_t epoch, const std::string& replica,
                              const caf::actor& link, partition_host::records records,
                              const replica_learners::handle& learner);
  /// A replica caught up on a partition, ready to join its isr.
  struct join {
    uint32_t partition = 0;
    uint64_t epoch = 0;
    std::string replica;
    replica_learners::handle learner;
  };
  /// Adds each replica of `group` to its partition's isr, if the partition is still owned
  /// here at that epoch and the learner has not failed: one etcd transaction (the group is
  /// at most one join per worker). Per join, whether it was written.
  std::vector<bool> write_joins(const std::vector<join>& group);

  membership& members_;
  partition_host& host_;
  caf::actor_system& sys_;
  const hooks fns_;
  const std::shared_ptr<replica_learners> learners_;
  cluster_metrics& metrics_;
  const std::shared_ptr<spdlog::logger> log_;
  const std::string self_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;                                               // mutex_
  std::set<job> queued_;                                               // mutex_: queued or running
  std::map<job, std::chrono::steady_clock::time_point> failed_until_;  // mutex_
  bool stopping_ = false;                                              // mutex_
  std::set<uint32_t> busy_;  // mutex_: partitions being caught up
  group_commit<join> joins_{[this](const std::vector<join>& group) { return write_joins(group); }};
  std::vector<std::thread> workers_;
};

}  // namespace keel::cluster
