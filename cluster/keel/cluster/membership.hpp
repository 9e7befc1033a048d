#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_keys.hpp"
#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/coordinator_election.hpp"
#include "keel/cluster/drain_marks.hpp"
#include "keel/cluster/lease_keeper.hpp"
#include "keel/cluster/membership_options.hpp"
#include "keel/cluster/partition_placement.hpp"
#include "keel/cluster/partition_table_writer.hpp"
#include "keel/cluster/rebalance_progress.hpp"
#include "keel/cluster/shared_etcd_client.hpp"
#include "keel/runtime/node_fence.hpp"

namespace spdlog {
class logger;
}

namespace keel::etcd {
class WatchResponse;
}

namespace keel::cluster {

class etcd_client;

/// This node's part in its cluster (DESIGN.md "Membership"), composed of one object per
/// concept: its registration and fence (lease_keeper), its view of `keel/<cluster>/`
/// followed by a watch stream on a second thread (cluster_view), the coordinator election,
/// placement, table writes, drain marks and rebalance progress. The etcd writes other than
/// the lease's share one connection, one exchange at a time (shared_etcd_client). It is the
/// node_fence the runtime consults: closed until join() succeeds, and whenever the lease
/// keeper cannot prove this node's membership.
/// Thread safety: thread-safe; join() once; the destructor leaves and joins the threads.
class membership final : public node_fence {
 public:
  using versioned_record = ::keel::cluster::versioned_record;
  using drain_scope = ::keel::cluster::drain_scope;
  using partition_listener = cluster_view::partition_listener;

  membership(membership_options opts, std::shared_ptr<spdlog::logger> log);
  ~membership() override;
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  /// Registers this node with its addresses ("host:port") and starts both threads. A node
  /// id registered by a live process is refused with `conflict`; an unreachable etcd is
  /// `unavailable`.
  caf::error join(std::string http_address, std::string cluster_address);
  /// Deregisters at once (removes this node's drain mark, which is done now, and revokes
  /// the lease, so the key goes now, not at TTL) and stops both threads. Idempotent.
  void leave();

  /// The cluster as this node knows it now, whole: a decision reads one snapshot, so the
  /// members, coordinator and table it sees belong together. One atomic load.
  snapshot_ptr snapshot() const noexcept { return view_.current(); }
  /// Waits until the view changes (a watch response, or this node's own write) or
  /// `timeout` passes; returns the current snapshot.
  snapshot_ptr wait_for_change(const snapshot_ptr& seen, std::chrono::milliseconds timeout) const {
    return view_.wait_for_change(seen, timeout);
  }
  /// The first snapshot `holds` is true of, waiting at most `limit` (on options().clock)
  /// for the view to get there; the latest one if it never did. Blocking.
  template <class Pred>
  snapshot_ptr wait_until(Pred holds, std::chrono::milliseconds limit) const {
    auto deadline = opts_.clock->now() + limit;
    auto seen = snapshot();
    while (!holds(*seen)) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - opts_.clock->now());
      if (left.count() <= 0) break;
      seen = wait_for_change(seen, left);
    }
    return seen;
  }

  /// The members as of the last watch event, sorted by node id.
  std::vector<Member> members() const { return view_.members(); }
  /// A member's cluster address; empty if it is not a member (down, or never was).
  std::string cluster_address_of(const std::string& node_id) const {
    return view_.cluster_address_of(node_id);
  }
  /// The etcd revision the member view reflects.
  int64_t revision() const { return view_.revision(); }
  /// The elected coordinator's node id; empty while there is none.
  std::string coordinator() const { return view_.coordinator(); }
  /// Whether this node holds the coordinator key and its fence is open.
  bool is_coordinator() const { return election_.is_coordinator(); }
  /// Partition `p`'s record as of the last watch event; nullopt if it was never placed.
  std::optional<PartitionRecord> partition(uint32_t p) const { return view_.partition(p); }
  /// Every placed partition, by number.
  std::map<uint32_t, PartitionRecord> partitions() const { return view_.partitions(); }
  /// Places partition `p` if it has no owner yet (blocks on etcd; see partition_placement).
  /// Returns the record, whoever wrote it. `unavailable` without etcd or a coordinator.
  caf::expected<PartitionRecord> place(uint32_t p);
  /// Places every partition of `ps` that has no owner yet.
  caf::error place(const std::vector<uint32_t>& ps) { return placement_.place(ps); }
  /// Revokes `node_id`'s lease, so its membership (and any office it held) ends now, if it
  /// is still registered at `cluster_address` with `lease` (the one seen when it was found
  /// gone: a new incarnation on a fixed port registers with another). For the coordinator,
  /// once it knows the node is gone. Blocks on etcd.
  caf::error declare_down(const std::string& node_id, const std::string& cluster_address,
                          const std::string& lease);
  /// The lease `node_id` is registered with as of the last watch event; empty if none.
  std::string lease_of(const std::string& node_id) const {
    auto m = view_.member(node_id);
    return m ? m->lease() : std::string{};
  }

  // -- handoff (DESIGN.md "Handoff") --------------------------------------------------------

  /// See partition_table_writer::write().
  caf::error write_partitions(const std::map<uint32_t, versioned_record>& updates) {
    return table_writer_.write(updates);
  }
  /// See partition_table_writer::write_as_owner().
  caf::error write_owned_partitions(const std::map<uint32_t, versioned_record>& updates) {
    return table_writer_.write_as_owner(updates);
  }

  /// Marks `node_id` as leaving (see drain_marks). Blocks on etcd.
  caf::error drain(const std::string& node_id, const std::string& reason, drain_scope scope) {
    return drains_.drain(node_id, reason, scope);
  }
  /// Withdraws a drain of `node_id` that has not finished. Blocks on etcd.
  caf::error cancel_drain(const std::string& node_id) { return drains_.cancel(node_id); }
  /// The nodes with a drain mark (members or not), by node id.
  std::vector<std::string> draining() const { return view_.draining(); }
  bool is_draining(const std::string& node_id) const { return view_.is_draining(node_id); }
  /// Partitions the table in etcd (not this node's view of it, which may lag) gives to this
  /// node or is moving to it: a leaving node checks it owns nothing. Blocks on etcd.
  caf::expected<size_t> partitions_held_in_etcd();
  /// Partition `p`'s record as etcd has it now (nullopt: unplaced). Blocks on etcd.
  caf::expected<std::optional<PartitionRecord>> partition_in_etcd(uint32_t p);
  /// See coordinator_election::resign().
  void resign() { election_.resign(); }

  /// The coordinator publishes its rebalance progress here; every node follows it.
  caf::error publish_rebalance(const RebalanceView& view) { return progress_.publish(view); }
  RebalanceView rebalance() const { return view_.rebalance(); }

  /// Called after a partition's record changed, on the watch thread or on the thread of
  /// this node's write. Set once, before join(). Must not block for long.
  void set_partition_listener(partition_listener fn) {
    view_.set_partition_listener(std::move(fn));
  }
  /// The rendezvous winner for `p` among `node_ids` (empty if there are none).
  static std::string rendezvous_owner(uint32_t p, const std::vector<std::string>& node_ids) {
    return partition_placement::rendezvous_owner(p, node_ids);
  }
  const membership_options& options() const noexcept { return opts_; }

  bool is_open() const noexcept override { return lease_.is_open(); }
  std::string why_closed() const override { return lease_.why_closed(); }

  /// The etcd keys of a member and of a partition's record.
  static std::string member_key(const std::string& cluster, const std::string& node_id) {
    return cluster_keys{cluster}.member(node_id);
  }
  static std::string partition_key(const std::string& cluster, uint32_t p) {
    return cluster_keys{cluster}.partition(p);
  }

 private:
  void watch_loop();
  /// Reads all of `keel/<cluster>/` into the view.
  caf::error load(etcd_client& etcd);
  void on_events(const etcd::WatchResponse& res);
  void deregister();
  /// Waits `pause` before a retry, or less if leave() is called meanwhile.
  void pause_unless_stopping(std::chrono::milliseconds pause);

  // Fixed at construction; the components refer to each other in this order.
  const membership_options opts_;
  const cluster_keys keys_;
  const std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;  // with stop_cv_, wakes join's and the watch thread's retry pauses
  std::condition_variable stop_cv_;
  cluster_view view_;
  lease_keeper lease_;
  shared_etcd_client writer_;
  coordinator_election election_;
  partition_placement placement_;
  partition_table_writer table_writer_;
  drain_marks drains_;
  rebalance_progress progress_;

  std::unique_ptr<etcd_client> watch_client_;  // stop() breaks its stream on leave()
  std::thread watch_thread_;
};

}  // namespace keel::cluster
