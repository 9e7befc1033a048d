#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/peer_link.hpp"
#include "keel/runtime/metrics.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

/// This node's links to the other members (peer_link.hpp), one per member at the address
/// it registered with, and what they say about reachability. A link whose actor ended, or
/// whose member came back at a new address, is replaced, never reused: messages to it
/// would be dropped.
/// Thread safety: thread-safe (one mutex).
class member_links {
 public:
  /// `on_refused` is called on a link's thread when its peer's port refused a reconnect,
  /// with the address the link was made for.
  /// `clock` (the runtime's) times reachability, here and in the links, which share it.
  /// The links count the answers they drop in `wire_damaged` (peer_link.hpp).
  /// Requires: `sys` and `wire_damaged` outlive the links.
  using refused_at_fn = std::function<void(const std::string& node_id, const std::string& address)>;
  member_links(caf::actor_system& sys, std::string self, refused_at_fn on_refused,
               std::shared_ptr<const monotonic_clock> clock, std::shared_ptr<spdlog::logger> log,
               counter& wire_damaged);
  member_links(const member_links&) = delete;
  member_links& operator=(const member_links&) = delete;

  /// The link to `node_id` at `cluster_address` ("host:port"), made if needed.
  caf::actor link_to(const std::string& node_id, const std::string& cluster_address);
  /// Why this node is cut off from `members`: more than half of them (this node counts as
  /// reached) were out of its links' reach for longer than `limit`, listed; else nullopt.
  std::optional<std::string> unreachable_member(const std::vector<Member>& members,
                                                std::chrono::milliseconds limit) const;
  /// link_health::name of the link to `node_id`, "self" for this node, "none" if none.
  std::string link_state(const std::string& node_id) const;
  /// Stops every link; their pending calls fail.
  void stop();

 private:
  struct peer {
    std::string address;  // its cluster address when the link was made
    caf::actor actor;
    std::shared_ptr<link_health> health;
  };

  // Fixed at construction.
  caf::actor_system& sys_;
  const std::string self_;
  const refused_at_fn on_refused_;
  const std::shared_ptr<const monotonic_clock> clock_;
  const std::shared_ptr<spdlog::logger> log_;
  counter& wire_damaged_;

  mutable std::mutex mutex_;
  std::map<std::string, peer> links_;  // node id -> its link; guarded by mutex_
  // node id -> (lease of the registration, when this node first saw it); guarded by mutex_
  mutable std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>>
      registrations_seen_;
};

}  // namespace keel::cluster
