#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/partition_host.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class membership;

/// One node's part in moving partitions (DESIGN.md "Handoff"), both sides of it.
/// As the old owner, hand_off() stops starting turns for the partition, waits until its
/// turns are finished and their commits durable, and streams its key range (states,
/// reminders) to the new owner in chunks over CAF. As the new owner, an ingest actor
/// collects one stream's chunks and writes them as one batch (deleting what the range held
/// before), synced, before it acknowledges. The coordinator flips the table only after that
/// acknowledgement; the old copy is dropped (drop()) only after the flip.
/// Thread safety: thread-safe. hand_off() jobs run on this object's worker threads, the
/// ingests and drops on a few detached actors, one per partition residue (so a drop never
/// races an ingest of the same partition).
class handoff {
 public:
  struct hooks {
    /// The link actor to `node_id` (relays wire_chunk to its endpoint); null if unknown.
    std::function<caf::actor(const std::string& node_id)> link_to;
    /// The partition stops being served here: from now on route() holds its messages.
    std::function<void(uint32_t)> begin_release;
    /// The partition's records were ingested here (not owned until the table says so).
    std::function<void(uint32_t)> ingested;
    /// Optional: the partition's range here was replaced (an ingest, a copy, a drop), on
    /// the ingester's thread, before the stream is acknowledged.
    std::function<void(uint32_t)> replaced;
    /// Optional: a copy is about to replace the partition's range here (a replica caught
    /// up), on the ingester's thread; no replicated write of it may land until `replaced`.
    std::function<void(uint32_t)> replacing;
    /// Optional, the fault-injection seam: runs on the ingester's thread after a stream
    /// arrived whole and before it is written (a test pauses there to kill a node
    /// mid-move).
    std::function<void(uint32_t)> before_ingest;
  };

  /// Requires: `members`, `host` and `sys` outlive this object.
  handoff(membership& members, partition_host& host, caf::actor_system& sys, hooks fns,
          std::shared_ptr<spdlog::logger> log);
  ~handoff();
  handoff(const handoff&) = delete;
  handoff& operator=(const handoff&) = delete;

  /// Old owner: hands `req.partition` to `req.to`. `done` runs once, on a worker thread,
  /// with code 0 once the new owner has the records durably, else the reason.
  void hand_off(wire_handoff req, std::function<void(wire_reply)> done);

  /// The actor that answers wire_chunk for `partition` (the endpoint delegates to it).
  const caf::actor& ingester_for(uint32_t partition) const noexcept {
    return ingesters_[partition % ingesters_.size()];
  }

  /// Deletes this node's copy of `partition` (its records and its epoch record).
  void drop(uint32_t partition);

  /// Fails queued jobs and joins the workers. Idempotent.
  void stop();

 private:
  void worker_loop();
  wire_reply run(const wire_handoff& req);
  /// Whether `node_id` (reached through `link`) holds every write of `p`: etcd lists it in
  /// `p`'s in-sync set, and it answers (≤ 300 ms) that it applied this node's last commit.
  /// False if anything cannot be read or asked.
  bool holds_every_write(uint32_t p, const std::string& node_id, const caf::actor& link);

  membership& members_;
  partition_host& host_;
  caf::actor_system& sys_;
  hooks fns_;
  std::shared_ptr<spdlog::logger> log_;
  // A few, each owning the partitions ≡ its index: ingests of different partitions run side
  // by side (LevelDB groups their synced writes), those of one partition, and its drops,
  // in order.
  std::vector<caf::actor> ingesters_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<wire_handoff, std::function<void(wire_reply)>>> jobs_;  // mutex_
  bool stopping_ = false;                                                      // mutex_
  // Moves queued or under way, by (partition, to, epoch), with the answers of the same
  // move asked again meanwhile; guarded by mutex_.
  std::map<std::tuple<uint32_t, std::string, uint64_t>,
           std::vector<std::function<void(wire_reply)>>>
      running_;
  std::vector<std::thread> workers_;
};

/// Sends a handoff message through a link actor and waits for the answer. Blocking: from a
/// thread of one's own.
wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_handoff& req);
wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_chunk& chunk);
/// Waits at most 300 ms: a failover does not wait long for a replica's opinion.
wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_sequences_ask& ask);

/// Streams `records`, partition `p`'s whole range, through `link` as wire_chunks from node
/// `from` at `epoch`: for a new owner, or (`as_copy`) for a replica being caught up. The
/// first failed answer, or code 0 once the receiver has them durably. Blocking: from a
/// thread of one's own.
wire_reply stream_range(caf::actor_system& sys, const caf::actor& link, uint32_t p, uint64_t epoch,
                        const std::string& from, partition_host::records records, bool as_copy);

}  // namespace keel::cluster
