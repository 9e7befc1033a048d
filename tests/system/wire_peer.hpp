#pragma once

// The test as a peer node: it calls a real node's endpoint over CAF with the wire types.
#include <chrono>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/builtin.pb.h"

namespace keel::test {

// "host:port" as CAF's remote_actor takes it.
inline std::pair<std::string, uint16_t> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  return {address.substr(0, colon), static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))};
}

// Calls counter/<key> Increment{by: 1} on a node's `endpoint` as a peer node would.
inline cluster::wire_reply increment_over_the_wire(caf::actor_system& sys,
                                                   const caf::actor& endpoint,
                                                   const std::string& key) {
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
  cluster::wire_reply out = cluster::failed_reply(errc::timeout, "no answer in 10 s");
  caf::scoped_actor self{sys};
  self->request(endpoint, std::chrono::seconds{10}, std::move(call))
      .receive([&](cluster::wire_reply& reply) { out = std::move(reply); },
               [&](caf::error& err) {
                 out = cluster::failed_reply(errc::unavailable, caf::to_string(err));
               });
  return out;
}

}  // namespace keel::test
