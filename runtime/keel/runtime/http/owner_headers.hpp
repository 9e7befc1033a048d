#pragma once

namespace keel {
class actor_id;
class node_runtime;
}  // namespace keel

namespace keel::http {

class exchange;

/// In a cluster, names on the answer to `ex` the node that owns `target` as this node
/// routes a call to it now: `Keel-Owner: <node id>` and `Keel-Owner-Address: <host:port>`,
/// the owner's HTTP address as it registered. A client or load balancer that sends the
/// actor's next requests there (the rideshare sim's `--follow-owner`) spares the entry node
/// a forward: a hop across nodes costs several thread wake-ups on both (docs/benchmarks.md,
/// "Scale-out"). A hint, never a promise: a partition that moved meanwhile is forwarded as
/// any request is. Only on answers below 500 (a 503 or 504 may mean the owner is down), and
/// only while the owner is registered; never on a single node.
/// Thread safety: as exchange::add_header.
void add_owner_headers(const node_runtime& rt, exchange& ex, const actor_id& target);

}  // namespace keel::http
