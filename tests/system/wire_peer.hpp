#pragma once
// The test speaking to a real node's cluster endpoint as a peer node would: wire types over
// CAF's middleman (the test's own actor system, with the cluster's transport configured).

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::test {

/// Sends `msg` to the endpoint at `address` ("host:port") and waits (≤ 10 s) for its
/// wire_reply; a failed reply if it cannot be reached or does not answer.
template <class Message>
cluster::wire_reply ask_as_peer(caf::actor_system& sys, const std::string& address, Message msg) {
  auto colon = address.rfind(':');
  auto endpoint = sys.middleman().remote_actor(
      address.substr(0, colon), static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  if (!endpoint) return cluster::failed_reply(errc::unavailable, "cannot reach " + address);
  cluster::wire_reply out = cluster::failed_reply(errc::timeout, "no answer in 10 s");
  caf::scoped_actor self{sys};
  self->request(*endpoint, std::chrono::seconds{10}, std::move(msg))
      .receive([&](cluster::wire_reply& reply) { out = std::move(reply); },
               [&](caf::error& err) {
                 out = cluster::failed_reply(errc::unavailable, caf::to_string(err));
               });
  return out;
}

/// The cluster address `view` gives member `node_id`; empty if it lists no such member.
inline std::string cluster_address_of(const cluster::ClusterView& view,
                                      const std::string& node_id) {
  for (const auto& m : view.members())
    if (m.node_id() == node_id) return m.cluster_address();
  return {};
}

}  // namespace keel::test
