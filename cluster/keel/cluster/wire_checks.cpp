#include "keel/cluster/wire_checks.hpp"

#include <algorithm>

#include <google/protobuf/message.h>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/utf8.hpp"

namespace keel::cluster {

caf::expected<std::shared_ptr<google::protobuf::Message>> decode_call(const type_registry& types,
                                                                      const wire_call& call,
                                                                      std::string_view node_id) {
  // The gateway refuses ill-formed keys; a node must not take one from a peer either
  // (a build without that check, or a damaged message): it would end up in protobuf
  // strings that no longer parse.
  if (!valid_utf8(call.target_key))
    return make_error(errc::bad_payload, "the target key from another node is not valid UTF-8");
  auto type = resolve_type(types, call.target_type);
  if (!type) return std::move(type.error());
  // A reminder's firing held while its partition moved is delivered to the new owner.
  bool reminder = call.message_type == "$reminder";
  std::shared_ptr<google::protobuf::Message> request;
  if (reminder) {
    request = std::make_shared<keel::runtime::ReminderFired>();
  } else {
    auto handler = resolve_handler(**type, call.message_type);
    if (!handler) return std::move(handler.error());
    request.reset((*handler)->request_prototype->New());
  }
  if (!request->ParseFromString(call.payload))
    return make_error(errc::bad_payload, call.message_type + " from another node does not parse");
  if (call.budget_ms <= 0 && !call.one_way)
    return make_error(errc::timeout,
                      "the call's deadline passed before it reached node " + std::string{node_id});
  return request;
}

std::string chunk_malformation(const wire_chunk& chunk) {
  auto p = chunk.partition;
  if (p >= partition_count || chunk.keys.size() != chunk.values.size())
    return "malformed chunk for partition " + std::to_string(p);
  auto range = partition_range(p);
  bool inside = std::all_of(chunk.keys.begin(), chunk.keys.end(),
                            [&](const std::string& key) { return key.starts_with(range); });
  if (!inside) return "a key of the stream of partition " + std::to_string(p) + " lies outside it";
  return {};
}

}  // namespace keel::cluster
