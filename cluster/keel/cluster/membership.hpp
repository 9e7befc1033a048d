#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/node_fence.hpp"

namespace spdlog {
class logger;
}

namespace keel::etcd {
class TxnRequest;
}

namespace keel::cluster {

class etcd_client;

struct membership_options {
  std::string etcd;  // host:port of etcd's client (JSON gateway) port
  std::string cluster_name = "keel";
  std::string node_id = "n1";
  std::chrono::seconds lease_ttl{2};
  // The fence closes this long before the lease could have expired in etcd, so a node
  // never acts after another node may have seen it gone.
  std::chrono::milliseconds fence_margin{300};
};

/// This node's registration in etcd (DESIGN.md "Membership"), its view of the members and
/// the coordinator election. It registers `keel/<cluster>/members/<node-id>` only if absent,
/// under a lease it keeps alive from its own thread, and follows `keel/<cluster>/` with a
/// watch stream (resumed from the last revision it saw) on a second thread. Whenever no
/// coordinator is elected, a registered node campaigns: it creates
/// `keel/<cluster>/coordinator` (only if absent) under its own lease, so the office ends
/// with the lease. As a node_fence it is closed from the
/// send time of the last keepalive that etcd answered with TTL > 0, plus TTL, minus the
/// margin; and at once when its own key is deleted; until it has registered again.
/// Until join() succeeds the fence is closed ("not registered yet"), so a node can start
/// its runtime and HTTP server first and register with the addresses they got.
/// Thread safety: thread-safe; join() once; the destructor leaves and joins the threads.
class membership final : public node_fence {
 public:
  membership(membership_options opts, std::shared_ptr<spdlog::logger> log);
  ~membership() override;

  /// Registers this node with its addresses ("host:port") and starts both threads. A node
  /// id registered by a live process is refused with `conflict`; an unreachable etcd is
  /// `unavailable`.
  caf::error join(std::string http_address, std::string cluster_address);
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  /// Deregisters at once (removes this node's drain mark, which is done now, and revokes
  /// the lease, so the key goes now, not at TTL) and stops
  /// both threads. Idempotent.
  void leave();

  /// The members as of the last watch event, sorted by node id.
  std::vector<Member> members() const;
  /// A member's cluster address; empty if it is not a member (down, or never was).
  std::string cluster_address_of(const std::string& node_id) const;
  /// The etcd revision the member view reflects.
  int64_t revision() const;
  /// The elected coordinator's node id; empty while there is none.
  std::string coordinator() const;
  /// Whether this node holds the coordinator key and its fence is open.
  bool is_coordinator() const;
  /// Partition `p`'s record as of the last watch event; nullopt if it was never placed.
  std::optional<PartitionRecord> partition(uint32_t p) const;
  /// Every placed partition, by number.
  std::map<uint32_t, PartitionRecord> partitions() const;
  /// Places partition `p` if it has no owner yet (blocks on etcd): the owner is chosen by
  /// rendezvous hashing over the members up now; the write succeeds only if `p` is still
  /// unplaced and the election key still names the coordinator this node knows. Returns
  /// the record, whoever wrote it. `unavailable` without etcd or a coordinator.
  caf::expected<PartitionRecord> place(uint32_t p);
  /// Places every partition of `ps` that has no owner yet, up to 60 per etcd transaction.
  caf::error place(const std::vector<uint32_t>& ps);
  /// Revokes `node_id`'s lease, so its membership (and any office it held) ends now. For
  /// the coordinator, once it knows the node is gone. Blocks on etcd.
  caf::error declare_down(const std::string& node_id);

  // -- handoff (DESIGN.md "Handoff") --------------------------------------------------------

  /// A partition record with the etcd revision it was written at (a table transaction
  /// checks it, so that a record changed meanwhile is never overwritten).
  struct versioned_record {
    PartitionRecord record;
    int64_t mod_revision = 0;
  };
  std::map<uint32_t, versioned_record> partitions_versioned() const;
  /// Writes each record if its partition key is still at the given revision and this node
  /// is still the coordinator; up to 120 partitions per etcd transaction. `conflict` if any
  /// transaction's conditions failed (its records are not written).
  caf::error write_partitions(const std::map<uint32_t, versioned_record>& updates);

  /// How long a drain mark lasts.
  enum class drain_scope {
    /// Until the node has left: an operator's drain. A node that dies before it left
    /// resumes the drain when it returns (the mark is no lease's).
    until_left,
    /// Until this process's lease ends: a node leaving on SIGTERM, which a restart should
    /// not continue.
    this_run,
  };
  /// Marks `node_id` as leaving (`keel/<cluster>/drain/<id>`): the coordinator moves its
  /// partitions away and places nothing new there. `not_found` if it is not a member.
  /// Blocks on etcd.
  caf::error drain(const std::string& node_id, const std::string& reason, drain_scope scope);
  /// Withdraws a drain of `node_id` that has not finished; `not_found` if there is none.
  /// Blocks on etcd.
  caf::error cancel_drain(const std::string& node_id);
  /// The nodes with a drain mark (members or not), by node id.
  std::vector<std::string> draining() const;
  bool is_draining(const std::string& node_id) const;
  /// Partitions the table in etcd (not this node's view of it, which may lag) gives to this
  /// node or is moving to it: a leaving node checks it owns nothing. Blocks on etcd.
  caf::expected<size_t> partitions_held_in_etcd();
  /// Up members that may own partitions: every member not being drained, sorted.
  std::vector<std::string> placement_targets() const;
  /// Gives up the coordinator's office (if held) and never campaigns again: a node that
  /// leaves resigns first, so that another coordinator moves its partitions away.
  void resign();

  /// The coordinator publishes its rebalance progress here; every node follows it.
  caf::error publish_rebalance(const RebalanceView& view);
  RebalanceView rebalance() const;

  /// Called on the watch thread after a partition's record changed (either may be nullopt:
  /// never placed). Set once, before join(). Must not block for long.
  using partition_listener =
      std::function<void(uint32_t, const std::optional<PartitionRecord>& before,
                         const std::optional<PartitionRecord>& after)>;
  void set_partition_listener(partition_listener fn) { listener_ = std::move(fn); }
  /// The rendezvous winner for `p` among `node_ids` (empty if there are none).
  static std::string rendezvous_owner(uint32_t p, const std::vector<std::string>& node_ids);
  const membership_options& options() const noexcept { return opts_; }

  bool is_open() const noexcept override;
  std::string why_closed() const override;

  /// The etcd keys of a member and of a partition's record.
  static std::string member_key(const std::string& cluster, const std::string& node_id);
  static std::string partition_key(const std::string& cluster, uint32_t p);

 private:
  caf::error register_self(etcd_client& etcd);
  void keepalive_loop();
  void watch_loop();
  caf::error load_cluster(etcd_client& etcd);
  void apply(const std::string& key, const std::string& value, bool deleted, int64_t revision);
  /// Tries to become coordinator; returns whether this node holds the office now.
  bool campaign(etcd_client& etcd);
  /// Applies one partition key's change under members_mutex_; returns the record before.
  std::optional<PartitionRecord> apply_partition(uint32_t p, const PartitionRecord* rec,
                                                 int64_t mod_revision);
  void notify(uint32_t p, const std::optional<PartitionRecord>& before);
  /// The placer's etcd client, made on first use. Requires: placer_mutex_ held.
  etcd_client& placer_client();
  /// Partitions the table (as this node last saw it) gives to this node.
  size_t owned_partitions() const;
  enum class chunk_outcome { placed, stale_view, failed };
  /// Places `chunk` on their rendezvous owners among `up` (here if `up` is empty) in one
  /// transaction that checks `coordinator_id` still holds the office and each owner is a
  /// member not being drained; partitions placed meanwhile are adopted.
  /// Requires: placer_mutex_ held.
  chunk_outcome place_chunk(const std::vector<uint32_t>& chunk, const std::string& coordinator_id,
                            const std::vector<std::string>& up);
  /// Places what of `chunk` is not placed yet, trying again (a few times) with the
  /// coordinator and targets read from etcd when the view was stale; updates both.
  /// Requires: placer_mutex_ held.
  caf::error place_chunk_until_done(std::vector<uint32_t> chunk, std::string& coordinator_id,
                                    std::vector<std::string>& up);
  /// placement_targets() as etcd says now. Requires: placer_mutex_ held.
  caf::expected<std::vector<std::string>> placement_targets_in_etcd();
  /// The coordinator as etcd says now (empty if none), for a node whose watch lags.
  /// Requires: placer_mutex_ held.
  std::string coordinator_in_etcd();
  /// A compare that this node's coordinator key is still `id`.
  void require_coordinator(etcd::TxnRequest& txn, const std::string& id) const;

  const membership_options opts_;
  std::string http_address_;             // set once by join()
  std::string cluster_address_;          // set once by join()
  const std::string root_;               // keel/<cluster>/: everything the watch follows
  const std::string prefix_;             // keel/<cluster>/members/
  const std::string coordinator_key_;    // keel/<cluster>/coordinator
  const std::string partitions_prefix_;  // keel/<cluster>/partitions/
  const std::string drain_prefix_;       // keel/<cluster>/drain/
  const std::string rebalance_key_;      // keel/<cluster>/rebalance
  const std::string own_key_;
  std::shared_ptr<spdlog::logger> log_;

  // The fence: open while the key is ours and the lease cannot have expired.
  std::atomic<bool> registered_{false};
  std::atomic<int64_t> valid_until_ns_{0};  // steady clock

  std::atomic<int64_t> lease_{0};
  std::atomic<int64_t> own_revision_{0};  // the etcd revision of our current registration
  std::atomic<bool> lost_key_{false};     // set by the watch; the keepalive loop registers
  std::atomic<bool> vacancy_{false};      // set by the watch; the keepalive loop campaigns
  std::atomic<bool> stopping_{false};
  std::atomic<bool> resigned_{false};  // never campaign again
  std::mutex wake_mutex_;
  std::condition_variable wake_;  // wakes the keepalive loop early (stop, lost key)

  mutable std::shared_mutex members_mutex_;
  std::map<std::string, Member> members_;            // guarded by members_mutex_
  std::string coordinator_;                          // guarded by members_mutex_
  std::map<uint32_t, PartitionRecord> partitions_;   // guarded by members_mutex_
  std::map<uint32_t, int64_t> partition_revisions_;  // guarded by members_mutex_
  std::map<std::string, std::string> draining_;      // node id -> reason; members_mutex_
  RebalanceView rebalance_;                          // guarded by members_mutex_
  partition_listener listener_;                      // set before join()
  std::unique_ptr<etcd_client> placer_client_;       // guarded by placer_mutex_
  std::mutex placer_mutex_;
  int64_t revision_ = 0;  // guarded by members_mutex_

  std::unique_ptr<etcd_client> watch_client_;  // stop() breaks its stream on leave()
  std::thread keepalive_thread_;
  std::thread watch_thread_;
};

}  // namespace keel::cluster
