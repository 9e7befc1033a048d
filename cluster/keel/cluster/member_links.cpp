#include "keel/cluster/member_links.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

namespace keel::cluster {

namespace {

// When two nodes dial each other at once, CAF's BASP keeps one connection per pair, and
// each node decides alone which one is redundant: the one whose handshake finds a route to
// the peer already there. Over TLS a client sends its BASP handshake only once its TLS
// handshake is done, so each node can take the other's dial first and close its own, and
// the pair is left with none ("connected", then "lost: remote link unreachable" on both).
// So with cluster TLS the node with the greater id dials later: by then the other's
// connection is up, and its own closes as the redundant one on both sides, which is
// harmless. Plaintext handshakes at once, and its dials are not delayed.
constexpr std::chrono::milliseconds tls_later_dial{300};

std::chrono::milliseconds dial_delay(caf::actor_system& sys, const std::string& self,
                                     const std::string& peer) {
  return sys.has_openssl_manager() && peer < self ? tls_later_dial : std::chrono::milliseconds{0};
}

}  // namespace

member_links::member_links(caf::actor_system& sys, std::string self, refused_at_fn on_refused,
                           std::shared_ptr<const monotonic_clock> clock,
                           std::shared_ptr<spdlog::logger> log, counter& wire_damaged)
    : sys_(sys),
      self_(std::move(self)),
      on_refused_(std::move(on_refused)),
      clock_(std::move(clock)),
      log_(std::move(log)),
      wire_damaged_(wire_damaged) {}

caf::actor member_links::link_to(const std::string& node_id, const std::string& cluster_address) {
  std::lock_guard guard{mutex_};
  auto it = links_.find(node_id);
  // A restarted node comes back with a new address: a new link. A link whose actor ended
  // is replaced, never kept: messages to it would be dropped.
  if (it != links_.end() && it->second.address == cluster_address &&
      it->second.health->current() != link_health::state::stopped)
    return it->second.actor;
  if (it != links_.end()) {
    if (it->second.address == cluster_address)
      log_->error("cluster: the link to {} ended unexpectedly; replacing it", node_id);
    caf::anon_send(it->second.actor, stop_atom::value);
  }
  auto colon = cluster_address.rfind(':');
  auto health = std::make_shared<link_health>(clock_->now());
  auto handle = spawn_peer_link(
      sys_, node_id, cluster_address.substr(0, colon),
      static_cast<uint16_t>(std::stoi(cluster_address.substr(colon + 1))),
      dial_delay(sys_, self_, node_id),
      [fn = on_refused_, cluster_address](const std::string& id) { fn(id, cluster_address); },
      health, clock_, log_, &wire_damaged_);
  links_[node_id] = peer{cluster_address, handle, std::move(health)};
  return handle;
}

std::optional<std::string> member_links::unreachable_member(const std::vector<Member>& members,
                                                            std::chrono::milliseconds limit) const {
  auto now = clock_->now();
  std::lock_guard guard{mutex_};
  std::vector<std::string> lost;
  for (const auto& m : members) {
    if (m.node_id() == self_) continue;
    // Counted from this registration on: a member that was away (its lease lapsed) and
    // came back gets its time to be reached again.
    auto& seen = registrations_seen_[m.node_id()];
    if (seen.first != m.lease()) seen = {m.lease(), now};
    auto it = links_.find(m.node_id());
    if (it == links_.end()) continue;
    auto gone = std::min(it->second.health->unreachable_for(now),
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - seen.second));
    if (gone > limit)
      lost.push_back(m.node_id() + " for " + std::to_string(gone.count()) + " ms (link " +
                     std::string{link_health::name(it->second.health->current())} + ")");
  }
  // Bounded by the members: a node that left takes its entry with it.
  std::erase_if(registrations_seen_, [&](const auto& entry) {
    return std::none_of(members.begin(), members.end(),
                        [&](const Member& m) { return m.node_id() == entry.first; });
  });
  // One member out of reach is that member's trouble as likely as this node's (a cut or
  // hung node is unreachable from everyone): only a node that reaches fewer than half of
  // the cluster, itself included, is the one cut off.
  if (lost.empty() || lost.size() * 2 <= members.size()) return std::nullopt;
  std::string why = "cannot reach most of the cluster: ";
  for (size_t i = 0; i < lost.size(); ++i) why += (i ? ", " : "") + lost[i];
  return why;
}

std::string member_links::link_state(const std::string& node_id) const {
  if (node_id == self_) return "self";
  std::lock_guard guard{mutex_};
  auto it = links_.find(node_id);
  if (it == links_.end()) return "none";
  return std::string{link_health::name(it->second.health->current())};
}

void member_links::stop() {
  std::lock_guard guard{mutex_};
  for (auto& [id, link] : links_) caf::anon_send(link.actor, stop_atom::value);
  links_.clear();
}

}  // namespace keel::cluster
