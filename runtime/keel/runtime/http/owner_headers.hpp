#pragma once

namespace keel {
class actor_id;
class node_runtime;
}  // namespace keel

namespace keel::http {

class exchange;

/// In a cluster, names on the answer to `ex`, whatever it is, the node that owns `target`
/// as this node routes a call to it now: `Keel-Owner: <node id>` and
/// `Keel-Owner-Address: <host:port>`, the owner's HTTP address as it registered. A client or load
/// balancer that sends the actor's next requests there (Envoy's stateful sessions, the rideshare
/// sim's
/// `--follow-owner`) spares the entry node a forward: a hop across nodes costs several
/// thread wake-ups on both (docs/benchmarks.md, "Scale-out"). A hint, never a promise: a
/// partition that moved meanwhile is forwarded as any request is. No header on a single
/// node, nor while the partition was never placed.
/// Thread safety: as exchange::add_header: on the thread running the route's handler,
/// before the call that answers `ex` is made.
void add_owner_headers(const node_runtime& rt, exchange& ex, const actor_id& target);

}  // namespace keel::http
