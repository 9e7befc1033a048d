#pragma once

#include <caf/actor.hpp>

namespace keel::detail {

struct node_services;

/// Spawns the node's reminder service: it loads every durable reminder at start, 64
/// partitions at a time (firing what is due meanwhile), keeps them ordered by due time,
/// and delivers each due firing to its actor through the router, at most 1,024 at once.
/// Activations report each committed change (`upsert_atom` / `remove_atom`); a firing that
/// fails is retried with backoff, and the actor recognises duplicates by the record's
/// last-fired time, so firings are at least once and never lost.
/// Requires: `services` outlives the actor.
caf::actor spawn_reminder_service(node_services& services);

}  // namespace keel::detail
