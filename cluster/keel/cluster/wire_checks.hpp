#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/message.hpp"

namespace keel {
class type_registry;
}

namespace keel::cluster {

// What a node checks of a message from a peer before it acts on it. The bytes come off
// the network (CAF's middleman decodes them into the wire types), so each check assumes
// nothing the sender's build should have ensured. Pure functions: the endpoint and the
// ingester call them, and so does the wire_message fuzz target.

/// The request of `call`, parsed with the prototype of the handler it names in `types`
/// (a ReminderFired for `$reminder`, a held reminder delivered to a new owner), once the
/// call is found well formed: its key is valid UTF-8 (bad_payload), its type and handler
/// exist (unknown_actor_type, unknown_message), its payload parses (bad_payload), and a
/// call that awaits an answer still has time (timeout, naming `node_id`, this node).
[[nodiscard]] caf::expected<std::shared_ptr<google::protobuf::Message>> decode_call(
    const type_registry& types, const wire_call& call, std::string_view node_id);

/// Why `chunk` of a partition's stream is malformed: a partition that does not exist,
/// keys and values that do not pair up, or a key outside the partition's range. Empty if
/// it is not.
std::string chunk_malformation(const wire_chunk& chunk);

}  // namespace keel::cluster
