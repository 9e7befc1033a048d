#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/wire.hpp"

namespace keel::cluster {

/// The replicas an owner is catching up while their partitions go on serving (DESIGN.md
/// "Replication and failover", catch-up), called learners as in Raft. A learner is
/// registered at the moment its copy is read (between two of the store writer's batches),
/// so every later batch of its partition is one the copy lacks. Those batches are kept
/// while the copy streams and sent in order once it is in; later ones are sent as they are
/// made, unawaited, until the learner has acknowledged all but the last few. From then on
/// ("gated") the gate waits for it as for an in-sync replica; once it acknowledged what it
/// was sent unawaited, the owner may add it to `isr`. It stays gated until the record the
/// gate numbers a batch under is as new as that write: a view of the table a moment older
/// must not drop it.
/// A learner that fails is never added to `isr`. One that fails while that write is under
/// way makes failed() wait for the write, so the gate's shrink sees it and removes it.
/// Thread safety: thread-safe. take() runs on the store writer's thread and never blocks;
/// gate() and the isr write's calls on a catch-up thread; failed() on the gate's shrinker.
/// Sends (send_fn) are made under the lock, so each learner gets its batches in order.
class replica_learners : public std::enable_shared_from_this<replica_learners> {
 public:
  /// Sends `msg` to `replica` without blocking; `answered` runs once, on another thread
  /// (never before send_fn returned), with an empty string once the replica has the writes
  /// durably, else the reason it does not.
  using send_fn = std::function<void(const std::string& replica, wire_replicate msg,
                                     std::function<void(std::string why)> answered)>;

  struct learner;
  using handle = std::shared_ptr<learner>;

  /// `buffer_limit`: the bytes of writes kept for one learner while its copy streams; past
  /// it, the learner fails (the catch-up is tried again later).
  static std::shared_ptr<replica_learners> make(std::string self, send_fn send,
                                                size_t buffer_limit);

  // -- a catch-up's side, in this order ------------------------------------------------------

  /// Registers `replica` as a learner of `p` at `epoch`, replacing an earlier one: the
  /// batches numbered from now on are kept for it. Called at the moment its copy is read.
  handle add(uint32_t p, uint64_t epoch, const std::string& replica);
  /// Its copy is in: sends what was kept, in order, and each later batch as it is made.
  /// Empty, or why the learner failed.
  std::string go_live(const handle& l);
  /// Waits (up to `limit`) until the learner acknowledged what it was sent, gates it, and
  /// waits until it acknowledged what was sent unawaited meanwhile. Empty, or why it failed.
  std::string gate(const handle& l, std::chrono::milliseconds limit);
  /// Before the owner writes the learner into `isr`: false if it failed (then it must not).
  bool begin_isr_write(const handle& l);
  /// The write ended: in `isr` from `mod_revision` on (> 0), or not written (0). An
  /// outcome unknown passes the revision after the one the write compared against: the
  /// learner stays awaited until the gate's view of the record is past it.
  void end_isr_write(const handle& l, int64_t mod_revision);
  /// The catch-up ended: a learner not in `isr` is forgotten.
  void remove(const handle& l);
  /// Every learner of `p` not in `isr` fails: a move of `p` begins.
  void cancel(uint32_t p);
  /// Every learner fails and no wait blocks any more: the node stops. Idempotent.
  void stop();

  // -- the gate's side -----------------------------------------------------------------------

  /// False while no learner exists (lock-free: the gate asks for every batch).
  bool any() const noexcept { return count_.load(std::memory_order_acquire) > 0; }
  /// The writes numbered `part.seq` of `part.partition` under `rec` (the gate's view of the
  /// partition): kept for or sent to its learners; those the gate must wait for as for
  /// in-sync replicas are appended to `gated`. Store writer's thread.
  void take(const wire_partition_writes& part, const versioned_record& rec,
            std::vector<std::string>& gated);
  /// `replica` failed a batch of `p` that the gate waited for it on: a learner of `p` on
  /// it fails; if its isr write is under way, returns once that ended. Returns the mod
  /// revision from which a learner of it is (or may be) in `isr` (0: none): a view of the
  /// record older than that cannot tell whether it must be removed.
  int64_t failed(uint32_t p, const std::string& replica, const std::string& why);

  replica_learners(std::string self, send_fn send, size_t buffer_limit);

 private:
  void fail(learner& l, std::string why);                                    // mutex_
  void send_locked(const handle& l, wire_partition_writes part);             // mutex_
  void acknowledged(const handle& l, uint64_t seq, const std::string& why);  // locks
  /// Waits until the learner acknowledged `seq` or failed or `deadline` passed.
  std::string wait_acked(std::unique_lock<std::mutex>& lock, learner& l, uint64_t seq,
                         std::chrono::steady_clock::time_point deadline);
  void erase(const handle& l);  // mutex_

  const std::string self_;
  const send_fn send_;
  const size_t buffer_limit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<uint32_t, handle> by_partition_;  // mutex_
  std::atomic<size_t> count_{0};                  // by_partition_.size()
  bool stopping_ = false;                         // mutex_
};

}  // namespace keel::cluster
