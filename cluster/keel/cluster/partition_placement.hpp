#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_keys.hpp"
#include "keel/runtime/clock.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class cluster_view;
class coordinator_election;
class etcd_client;
class shared_etcd_client;

/// Gives unowned partitions their first owner (DESIGN.md "Placement"): the rendezvous
/// winner among the members up now and not being drained, and their replicas, the next ones
/// in the same order. A placement is written only if
/// the partition is still unplaced, the election key still names the coordinator this node
/// knows, and each chosen owner is still a member not being drained; a partition placed
/// meanwhile (by any node) is adopted as it is.
/// Thread safety: thread-safe; placements run one at a time, holding the shared etcd
/// client, and block on etcd.
class partition_placement {
 public:
  /// Requires: everything referenced outlives the placement; `stopping` is set once the
  /// node leaves. `clock` times the wait for a coordinator.
  partition_placement(const cluster_keys& keys, std::string node_id, cluster_view& view,
                      const coordinator_election& election, shared_etcd_client& writer,
                      const std::atomic<bool>& stopping, const monotonic_clock& clock,
                      size_t replication_factor, std::shared_ptr<spdlog::logger> log);

  /// Places every partition of `ps` that has no owner yet, up to 42 per etcd transaction.
  /// `unavailable` without etcd or a coordinator.
  caf::error place(const std::vector<uint32_t>& ps);

  /// The rendezvous winner for `p` among `node_ids` (empty if there are none). A pure
  /// function: every node computes the same owner.
  static std::string rendezvous_owner(uint32_t p, const std::vector<std::string>& node_ids);
  /// The next `count` of `node_ids` after `owner` in `p`'s rendezvous order (`owner`
  /// excluded, fewer if there are not enough): where `p`'s copies go. Pure, as above.
  static std::vector<std::string> rendezvous_replicas(uint32_t p, const std::string& owner,
                                                      const std::vector<std::string>& node_ids,
                                                      size_t count);

 private:
  enum class chunk_outcome { placed, stale_view, failed };
  /// Places `chunk` on their rendezvous owners among `up` (here if `up` is empty) in one
  /// transaction.
  chunk_outcome place_chunk(etcd_client& etcd, const std::vector<uint32_t>& chunk,
                            const std::string& coordinator_id, const std::vector<std::string>& up);
  /// Places what of `chunk` is not placed yet, trying again (a few times) with the
  /// coordinator and targets read from etcd when the view was stale; updates both.
  caf::error place_chunk_until_done(etcd_client& etcd, std::vector<uint32_t> chunk,
                                    std::string& coordinator_id, std::vector<std::string>& up);
  /// cluster_view::placement_targets() as etcd says now.
  caf::expected<std::vector<std::string>> placement_targets_in_etcd(etcd_client& etcd);

  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  cluster_view& view_;
  const coordinator_election& election_;
  shared_etcd_client& writer_;
  const std::atomic<bool>& stopping_;
  const monotonic_clock& clock_;
  const size_t replicas_;  // copies besides the owner: the replication factor minus one
  const std::shared_ptr<spdlog::logger> log_;
};

}  // namespace keel::cluster
