#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "keel/runtime/clock.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class cluster_directory;
class membership;

/// How a member leaves without making its partitions unavailable (operations.md "Leaving
/// the cluster"): on a stop signal it resigns its office, marks itself draining and waits,
/// still serving, until the coordinator has moved its partitions to the others; a node
/// drained by keelctl leaves once it holds nothing. "Holds nothing" is confirmed against
/// etcd's table, not only this node's view of it, which may lag.
/// Thread safety: call from one thread of your own (keel-node's main); blocks on etcd.
class graceful_leave {
 public:
  /// `clock` (the runtime's) times the leave timeout and the progress reports.
  /// Requires: `members`, `directory` and `clock` outlive this object.
  graceful_leave(membership& members, const cluster_directory& directory,
                 const monotonic_clock& clock, std::shared_ptr<spdlog::logger> log);

  /// True once this node is being drained and owns and receives no partition any more.
  bool drained();

  /// On a stop signal: resigns, marks this node draining and waits, while it still serves,
  /// until its partitions moved away, every other member is leaving too, or `timeout`.
  void move_partitions_away(std::chrono::milliseconds timeout);

 private:
  /// Partitions this node still owns or receives: its own view first, then etcd's table,
  /// where a placement or a move may be committed before the watch shows it here. Unknown
  /// (etcd does not answer) counts as held.
  size_t partitions_still_held();
  /// The members other than this node that may own partitions.
  size_t other_targets() const;

  membership& members_;
  const cluster_directory& directory_;
  const monotonic_clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace keel::cluster
