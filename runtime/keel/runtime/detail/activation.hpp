#pragma once

#include <caf/actor.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_router.hpp"

namespace keel {
struct actor_type_info;
}

namespace keel::detail {

struct node_services;

/// Spawns the activation of `id`: one CAF event-based actor that loads the state, then
/// runs one turn at a time (awaiting its asks, so turns never interleave unless the type is
/// reentrant), hands each commit to the store writer without waiting for the sync (the
/// writer releases the reply once it is durable), and passivates when idle. It writes the
/// time each turn ends to `idle_since`.
/// Requires: `services` and `type` outlive the activation.
caf::actor spawn_activation(node_services& services, const actor_id& id,
                            const actor_type_info& type, call_router::idle_since_ptr idle_since);

}  // namespace keel::detail
