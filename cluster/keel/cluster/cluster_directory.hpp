#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/cluster_snapshot.hpp"
#include "keel/cluster/handoff.hpp"
#include "keel/cluster/held_calls.hpp"
#include "keel/cluster/member_links.hpp"
#include "keel/cluster/peer_link.hpp"
#include "keel/cluster/rebalancer.hpp"
#include "keel/cluster/replica_applier.hpp"
#include "keel/cluster/replica_catch_up.hpp"
#include "keel/cluster/replication_gate.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/partition_directory.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class node_runtime;
}

namespace keel::cluster {

class membership;

/// The cluster's partition directory (DESIGN.md "Routing"): routes every message by the
/// partition table that `members` follows in etcd. A partition this node owns is delivered
/// here; one owned by another up member is forwarded over CAF's middleman to that node's
/// endpoint (the payload serialized only there); one whose owner is not a member answers
/// `unavailable` at once and is never reassigned; one never placed waits while a thread of
/// this directory places it in etcd, then goes where the table says. Calls forwarded to a
/// peer fail as soon as the link to that peer goes down: `unknown_outcome` once sent,
/// `unavailable` if still waiting for the connection (peer_link.hpp).
/// Failure detection: every member gets a link that stays connected (CAF heartbeats on, so
/// a hung peer's link drops too). When a link drops, it reconnects at once; if the peer's
/// port refuses, the process is gone, and the coordinator (or any member, when the dead one
/// is the coordinator) revokes that node's lease, so every node sees it leave the member
/// list within milliseconds rather than at lease expiry.
/// Thread safety: route() is thread-safe; publish() and stop() are called by the node's
/// main thread.
class cluster_directory final : public partition_directory {
 public:
  /// Requires: `members`, `runtime` and `sys` outlive the directory; constructed before
  /// `members` joins (it follows the table's changes). `before_ingest`: see handoff::hooks.
  cluster_directory(membership& members, node_runtime& runtime, caf::actor_system& sys,
                    std::shared_ptr<spdlog::logger> log,
                    std::function<void(uint32_t)> before_ingest = {});
  ~cluster_directory() override;

  /// Appends the cluster's metrics (cluster_metrics) in Prometheus text; any thread.
  void render_metrics(std::string& out) const;

  /// Publishes this node's endpoint on `host:port` (0: pick one); returns the port.
  caf::expected<uint16_t> publish(const std::string& host, uint16_t port);

  verdict route(const envelope_ptr& env) override;
  std::optional<placement> locate(uint32_t partition) const override;
  void gather_turns(const trace_id& trace,
                    std::function<void(std::vector<turn_row>)> done) override;

  /// Stops placing, rebalancing and forwarding; pending and held calls fail with
  /// `unavailable`.
  void stop();

  /// Why this node is cut off from its cluster: more than half of the members (registered
  /// in etcd; this node counts as reached) were out of its links' reach for longer than
  /// `limit`, listed; nullopt otherwise.
  std::optional<std::string> unreachable_member(std::chrono::milliseconds limit) const;

  /// The state of this node's link to `node_id` (link_health::name), "self" for this node,
  /// "none" if it has none.
  std::string link_state(const std::string& node_id) const;

  /// Partitions this node owns (handing off or not) or is receiving now, per the table it
  /// follows: a leaving node waits until this is 0, so no move lands on it after it left.
  size_t owned_partitions() const;

 private:
  void placer_loop();
  void watch_members();
  /// Writes the epoch of every partition `now` gives this node that its DB has not recorded
  /// yet.
  caf::error record_owned_partitions(const cluster_snapshot& now);
  /// The same, logging a failure; on success remembers the revision it recorded.
  void record_owned_partitions_or_warn();
  /// A link lost its peer and the reconnect was refused (called on the link's thread).
  void suspect(const std::string& node_id, const std::string& address);
  void forward(const envelope_ptr& env, const cluster_snapshot& now, const std::string& owner,
               uint64_t epoch);
  /// Holds a message of a moving partition (or one routed by a newer epoch than this node
  /// knows) until the partition's record changes; false if there is nothing to wait for any
  /// more (the caller routes it again).
  bool hold_moving(const envelope_ptr& env, uint32_t p);
  bool is_moving(uint32_t p, const PartitionRecord& rec) const;
  /// Delivers the messages held for `p` (they are routed again).
  void release_held(uint32_t p);
  /// A partition's record changed (watch thread): ends holds, opens or drops partitions.
  void on_partition(uint32_t p, const std::optional<PartitionRecord>& before,
                    const std::optional<PartitionRecord>& after);
  // Construction of the parts (cluster_directory_parts.cpp), in this order.
  void start_handoff(std::function<void(uint32_t)> before_ingest);
  void start_replication();
  void start_rebalancer();
  /// What `node` applied of `ps` as a replica (failover asks before it promotes); nullopt
  /// if it did not answer. Blocking (the rebalancer's thread).
  std::optional<AppliedSequences> ask_applied(const std::string& node,
                                              const std::vector<uint32_t>& ps);
  /// Asks `owner` to hand over a partition, blocking (the rebalancer's threads).
  wire_reply ask_handoff(const std::string& owner, const wire_handoff& req);
  /// The link to a member; null if `node_id` is not one (down, or never was).
  caf::actor member_link(const std::string& node_id);

  membership& members_;
  node_runtime& runtime_;
  caf::actor_system& sys_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string self_;
  cluster_metrics metrics_;  // before endpoint_, which counts into it
  caf::actor endpoint_;

  std::atomic<bool> forwarding_stopped_{false};
  member_links links_;

  // Envelopes of partitions nobody placed yet, waiting for the placer thread. Bounded: past
  // the bound a call fails at once with `overloaded`.
  static constexpr size_t max_held = 10000;
  std::mutex held_mutex_;
  std::condition_variable held_cv_;
  std::deque<envelope_ptr> held_;  // guarded by held_mutex_
  // A member whose port refused: the address refused and the lease it was registered with.
  struct suspicion {
    std::string node_id;
    std::string address;
    std::string lease;
  };
  std::vector<suspicion> suspects_;        // guarded by held_mutex_
  std::map<uint32_t, uint64_t> recorded_;  // partition epochs in the DB; placer thread only
  int64_t recorded_revision_ = -1;  // the table revision recorded_ reflects; placer thread only
  bool stopping_ = false;           // guarded by held_mutex_
  std::thread placer_;

  // Handoff: partitions this node is handing off (from the first step until the table
  // says where they went), partitions ingested here but not yet owned, and the messages
  // held while their partition moves (bounded, like placement's).
  std::array<std::atomic<bool>, partition_count> releasing_{};
  std::array<std::atomic<bool>, partition_count> ingested_{};
  // Partitions a replica of which is being caught up (replica_catch_up.hpp): a move waits.
  std::array<bool, partition_count> catching_up_{};  // opening_mutex_
  // Whether a partition opens again is decided under it: a move that begins and a record
  // that changes must not open what another keeps closed.
  std::mutex opening_mutex_;
  std::condition_variable catch_up_ended_;  // with opening_mutex_
  held_calls moving_held_{max_held, metrics_.calls_held};
  std::unique_ptr<handoff> handoff_;
  std::unique_ptr<rebalancer> rebalancer_;
  // Replication: this node's copies of other owners' partitions, and the output gate of its
  // own (shared with the runtime's store writer, which may use it after this directory
  // stopped it: then it refuses every write).
  std::unique_ptr<replica_applier> replicas_;
  std::shared_ptr<replication_gate> gate_;
  std::unique_ptr<replica_catch_up> catch_up_;
};

}  // namespace keel::cluster
