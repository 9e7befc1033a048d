#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/clock.hpp"
#include "keel/runtime/envelope.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

/// What a link knows of its peer right now, for GET /v1/cluster and /readyz.
/// Thread safety: written by the link's actor only, read by any thread.
class link_health {
 public:
  enum class state : uint8_t {
    connecting,   // no connection yet, or reconnecting after one dropped
    connected,    // connected, and the peer answers heartbeats
    suspected,    // connected, but the peer stopped answering heartbeats (hung or cut)
    unreachable,  // the last connection attempt failed
    stopped,      // the link actor is gone: the directory replaces it
  };

  /// `made_at`: when the link was made, on the link's clock; it counts as lost since then
  /// until it first connects.
  explicit link_health(std::chrono::steady_clock::time_point made_at)
      : lost_at_(made_at.time_since_epoch().count()) {}

  static std::string_view name(state s) noexcept;

  /// Records `s`, and when the link stopped being connected. Times are the link's clock's
  /// (monotonic_clock::now()).
  void set(state s, std::chrono::steady_clock::time_point now);
  state current() const noexcept { return state_.load(std::memory_order_acquire); }
  /// How long the link has not been connected (since it was made, or since it was last
  /// connected); zero while it is.
  std::chrono::milliseconds unreachable_for(std::chrono::steady_clock::time_point now) const;

 private:
  std::atomic<state> state_{state::connecting};
  // When the link stopped being connected (or was made), in steady_clock ticks.
  std::atomic<int64_t> lost_at_;
};

/// Called on the link's thread when the peer's port refused a reconnect after the link went
/// down: the process is gone, not slow. Must not block.
using refused_fn = std::function<void(const std::string& node_id)>;

/// Sent to a link: `(forward_atom, envelope_ptr, wire_call)` calls the peer (a call that
/// was sent fails with `unknown_outcome` if the link then drops, one never sent with
/// `unavailable`); `watch_atom` connects if not connected; `stop_atom` fails what is
/// pending and ends the link. wire_handoff and wire_chunk are relayed to the peer's
/// endpoint (held while connecting) and answered with its wire_reply; `(gather_atom, hex)`
/// answers the peer's turns of a trace (empty if it cannot).
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// Spawns the link to node `node_id`'s endpoint at `host:port`: one actor per peer that
/// keeps a connection, heartbeats the peer (phi-accrual) and fails its calls at once when
/// the peer is lost, publishing what it knows in `health`. Heartbeat silences, connect
/// times and health times are read from `clock` (the runtime's). Each dial waits
/// `dial_delay` first (member_links.hpp: with cluster TLS, the link of the node with the
/// greater id, so that the two nodes of a pair never dial each other at once).
/// Thread safety: the actor is called by messages from any thread.
caf::actor spawn_peer_link(caf::actor_system& sys, std::string node_id, std::string host,
                           uint16_t port, std::chrono::milliseconds dial_delay,
                           refused_fn on_refused, std::shared_ptr<link_health> health,
                           std::shared_ptr<const monotonic_clock> clock,
                           std::shared_ptr<spdlog::logger> log);

}  // namespace keel::cluster
