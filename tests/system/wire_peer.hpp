#pragma once
// The test as a peer node: it calls a real node's cluster endpoint over CAF with the wire
// types (the test's own actor system, with the cluster's transport configured).

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/errc.hpp"

namespace keel::test {

/// The test's own actor system, with the cluster's transport, as a peer node has.
struct peer_system {
  caf::actor_system_config cfg;
  caf::actor_system sys{(cluster::configure_cluster_transport(cfg), cfg)};
};

/// "host:port" as CAF's remote_actor takes it.
inline std::pair<std::string, uint16_t> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  return {address.substr(0, colon), static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))};
}

/// Sends `msg` to a node's `endpoint` and waits (≤ 10 s) for its wire_reply; a failed
/// reply if it does not answer.
template <class Message>
cluster::wire_reply ask_endpoint(caf::actor_system& sys, const caf::actor& endpoint, Message msg) {
  cluster::wire_reply out = cluster::failed_reply(errc::timeout, "no answer in 10 s");
  caf::scoped_actor self{sys};
  self->request(endpoint, std::chrono::seconds{10}, std::move(msg))
      .receive([&](cluster::wire_reply& reply) { out = std::move(reply); },
               [&](caf::error& err) {
                 out = cluster::failed_reply(errc::unavailable, caf::to_string(err));
               });
  return out;
}

/// The same to the endpoint at `address` ("host:port"), reached in plaintext.
template <class Message>
cluster::wire_reply ask_as_peer(caf::actor_system& sys, const std::string& address, Message msg) {
  auto [host, port] = split_address(address);
  auto endpoint = sys.middleman().remote_actor(host, port);
  if (!endpoint) return cluster::failed_reply(errc::unavailable, "cannot reach " + address);
  return ask_endpoint(sys, *endpoint, std::move(msg));
}

/// counter/<key> Increment{by: 1} as a peer node sends it.
inline cluster::wire_call increment_call(const std::string& key) {
  builtin::Increment inc;
  inc.set_by(1);
  cluster::wire_call call;
  call.target_type = "counter";
  call.target_key = key;
  call.message_type = "Increment";
  call.payload = inc.SerializeAsString();
  call.budget_ms = 5000;
  call.caller = "test";
  call.hops = 1;
  return call;
}

/// Calls counter/<key> Increment{by: 1} on a node's `endpoint` as a peer node would.
inline cluster::wire_reply increment_over_the_wire(caf::actor_system& sys,
                                                   const caf::actor& endpoint,
                                                   const std::string& key) {
  return ask_endpoint(sys, endpoint, increment_call(key));
}

/// The cluster address `view` gives member `node_id`; empty if it lists no such member.
inline std::string cluster_address_of(const cluster::ClusterView& view,
                                      const std::string& node_id) {
  for (const auto& m : view.members())
    if (m.node_id() == node_id) return m.cluster_address();
  return {};
}

}  // namespace keel::test
