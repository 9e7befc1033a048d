#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/failover.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/clock.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class membership;

/// The coordinator's half of rebalancing (DESIGN.md "Handoff"): while this node is the
/// coordinator, it compares every placed partition's owner with its rendezvous owner among
/// the members that may own partitions (not leaving), and moves those that differ. A move
/// is `active(o, e)` -> `moving(o -> n, e)` -> the old owner hands it over -> `active(n,
/// e + 1)`, a bounded number at a time, their etcd writes group-committed (at most 120
/// partitions per transaction); a move that fails (o or n died, a timeout) goes back
/// to `active(o, e)` and is retried later. Moves in etcd outlive the coordinator: a new one
/// resumes every `moving` record it finds. A partition whose owner is down is never moved;
/// with replication, its in-sync replica is promoted instead (failover.hpp).
/// Progress goes to `keel/<cluster>/rebalance` and the log.
/// Thread safety: its own thread does all the work; the constructor starts it, stop()
/// (also from the destructor) joins it.
class rebalancer {
 public:
  /// Asks partition `req.partition`'s owner to hand it over; blocks until it answered.
  using ask_fn = std::function<wire_reply(const std::string& owner, const wire_handoff& req)>;

  struct options {
    size_t in_flight = 16;                        // moves running side by side
    std::chrono::milliseconds interval{200};      // how often the table is compared
    std::chrono::milliseconds retry_after{2000};  // a failed move waits this long
    // Called per dead owner whose partitions were promoted: how many, and how long after
    // this coordinator first saw the owner down.
    std::function<void(size_t, std::chrono::nanoseconds)> promoted;
    // Asks a replica what it applied of the partitions (an AppliedSequences, in order);
    // nullopt if it did not answer in time. Blocking; called for several nodes at once,
    // each on a thread of its own.
    std::function<std::optional<AppliedSequences>(const std::string&, const std::vector<uint32_t>&)>
        ask_applied;
  };

  /// `clock` (the runtime's) times retries and progress logs; `wall` stamps the progress
  /// published. Requires: `members`, `clock` and `wall` outlive the rebalancer.
  rebalancer(membership& members, ask_fn ask, const monotonic_clock& clock, const wall_clock& wall,
             std::shared_ptr<spdlog::logger> log, options opts);
  ~rebalancer();
  rebalancer(const rebalancer&) = delete;
  rebalancer& operator=(const rebalancer&) = delete;

  void stop();

 private:
  struct move {
    uint32_t partition = 0;
    std::string from;
    std::string to;
    uint64_t epoch = 0;           // the epoch it has now; the new owner gets epoch + 1
    bool already_moving = false;  // resumed from etcd: marked by an earlier coordinator
  };
  void loop();
  /// Waits until the next pass is due: `interval` after the last, or at once when a member
  /// joined or left or the office changed hands (a dead owner's partitions wait for the
  /// pass that promotes them). False once stopping.
  bool wait_for_next_pass();
  /// One pass: promotes the in-sync replicas of dead owners' partitions (failover.hpp), or
  /// plans and runs every move the table needs now; false if nothing was to do.
  bool pass();
  /// Promotes dead owners' in-sync replicas, or else re-chooses missing replicas (one
  /// table write); false if neither was needed.
  bool repair_copies(const cluster_snapshot& cluster);
  /// Writes `promotions` (checked against their revisions and the office).
  void promote(const cluster_snapshot& cluster,
               const std::map<uint32_t, versioned_record>& promotions);
  /// What the in-sync replicas that compete for a promotion applied, as they answer.
  applied_sequences ask_contested(const cluster_snapshot& cluster);
  /// Notes when this coordinator first saw each owner in the table down.
  void note_dead_owners(const cluster_snapshot& cluster);
  /// Runs `moves`, `in_flight` at a time: each is marked moving, handed over, and flipped or
  /// aborted, with the table writes of moves running together group-committed. Returns
  /// false if this node lost the office meanwhile.
  bool run_moves(const std::vector<move>& moves);
  /// Marks each move of `group` moving; per move whether it was written.
  std::vector<bool> mark_moving(const std::vector<move>& group);
  /// Flips each move that arrived to its new owner at epoch + 1, and aborts the others
  /// back to their old owner; per move whether it was written, nullopt if the write failed.
  std::optional<std::vector<bool>> end_moves(const std::vector<std::pair<move, wire_reply>>& group);
  /// Asks the owner to hand the partition over, unless it or the target is down.
  wire_reply hand_over(const move& m);
  /// A move that neither completed nor is still marked moving waits retry_after.
  void schedule_retries(const std::vector<move>& moves);
  /// Replaces, in one group of etcd transactions, the record of each move for which
  /// `next(move, current record)` returns one, checked against the revision it was read
  /// at. Per move whether it was written; nullopt if the write failed (none was).
  std::optional<std::vector<bool>> rewrite(
      const std::vector<move>& group, const char* what,
      const std::function<std::optional<PartitionRecord>(const move&, const PartitionRecord&)>&
          next);
  bool stopping();
  void publish();

  membership& members_;
  ask_fn ask_;
  const monotonic_clock& clock_;
  const wall_clock& wall_;
  std::shared_ptr<spdlog::logger> log_;
  const options opts_;
  RebalanceView progress_;                                                   // loop thread only
  std::map<uint32_t, std::chrono::steady_clock::time_point> failed_until_;   // loop thread only
  std::map<std::string, std::chrono::steady_clock::time_point> down_since_;  // loop thread only

  std::mutex mutex_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace keel::cluster
