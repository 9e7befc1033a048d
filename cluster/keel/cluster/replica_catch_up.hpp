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
#include "keel/cluster/wire.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class partition_host;
}

namespace keel::cluster {

class membership;
struct cluster_metrics;

/// An owner brings its partitions' replicas in sync (DESIGN.md "Replication and
/// failover", catch-up): for a replica that is a member but not in `isr` (new, returning,
/// or dropped after a failure), it stops starting the partition's turns (its calls are
/// held), waits until their commits are durable, streams the partition's whole range (the
/// handoff stream, marked as a copy: the replica replaces its range with it and serves
/// nothing), adds the replica to `isr` in etcd, and serves the partition again. From then
/// on every commit reaches the replica through the output gate, numbered after the
/// sequence the stream carried.
/// Thread safety: thread-safe; the jobs run on four threads of its own (one job per
/// partition at a time) and block on the stream and on etcd.
class replica_catch_up {
 public:
  struct hooks {
    /// The link actor to `node_id`; null if it is not a member.
    std::function<caf::actor(const std::string& node_id)> link_to;
    /// From now on the partition's messages are held (route() holds them); false if the
    /// partition is being handed off, and then nothing is held.
    std::function<bool(uint32_t)> hold;
    /// The partition serves again: held messages are delivered.
    std::function<void(uint32_t)> release;
  };

  /// Requires: `members`, `host`, `sys` and `metrics` outlive this object.
  replica_catch_up(membership& members, partition_host& host, caf::actor_system& sys, hooks fns,
                   cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log);
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
  /// Adds `replica` to `p`'s isr, if `p` is still owned here at `epoch`.
  std::string add_to_isr(uint32_t p, uint64_t epoch, const std::string& replica);

  membership& members_;
  partition_host& host_;
  caf::actor_system& sys_;
  const hooks fns_;
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
  std::vector<std::thread> workers_;
};

}  // namespace keel::cluster
