#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "keel/cluster/link_health.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/metrics.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

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
/// greater id, so that the two nodes of a pair never dial each other at once). Answers
/// that are not the peer endpoint's, or whose ids do not match their replies, are dropped
/// and counted in `wire_damaged` (if any). Requires: `wire_damaged` outlives the actor.
/// Thread safety: the actor is called by messages from any thread.
caf::actor spawn_peer_link(caf::actor_system& sys, std::string node_id, std::string host,
                           uint16_t port, std::chrono::milliseconds dial_delay,
                           refused_fn on_refused, std::shared_ptr<link_health> health,
                           std::shared_ptr<const monotonic_clock> clock,
                           std::shared_ptr<spdlog::logger> log, counter* wire_damaged);

}  // namespace keel::cluster
