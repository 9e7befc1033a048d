#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace keel {
class node_runtime;
}

namespace keel::cluster {

class handoff;
class replica_applier;
struct cluster_metrics;

/// Spawns this node's endpoint: the actor it publishes for other nodes. It answers their
/// wire_calls through this node's router (parsing the payload with the handler's request
/// prototype), the coordinator's wire_handoff (through `handoff`), the streams of a
/// partition moving here (wire_chunk, delegated to its ingester), an owner's writes for
/// partitions copied here (wire_replicate, delegated to `replicas`), heartbeats (ping_atom)
/// and trace gathering (gather_atom). Exits from peers are ignored; the link's stop_atom
/// (peer_link.hpp) ends it. Each call or tell it accepts counts in
/// `metrics.calls_received`. Requires: `runtime`, `handoff`, `replicas` and `metrics`
/// outlive the actor.
/// Thread safety: the actor is called by messages from any thread or node.
caf::actor spawn_node_endpoint(caf::actor_system& sys, node_runtime& runtime, handoff& handoff,
                               replica_applier& replicas, cluster_metrics& metrics);

}  // namespace keel::cluster
