#pragma once

#include <string>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

struct handler_entry;

/// One message to one virtual actor. Locally the payload object travels as is; a later
/// network layer serializes it at the node boundary. The remaining time budget is the
/// slot's deadline (the wire carries it as a duration, never as an absolute clock).
/// Immutable once sent; safe to share between threads.
struct envelope {
  actor_id target;
  std::string message_type;  // the handler's name: the request's protobuf message name
  message_ptr payload;
  call_slot_ptr reply;       // null for a one-way tell
  trace_id trace;
  std::string caller;        // "http", "reminder", or the calling actor's "type/key"
  uint64_t epoch = 0;        // partition epoch; 0 on a single node
  // Resolved by the router before delivery (null for internal $-messages), so the
  // activation does not look the handler up again.
  mutable const handler_entry* handler = nullptr;

  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;

  /// A call dropped without an answer (its activation stopped) fails with `unavailable`:
  /// callers never wait in silence.
  ~envelope();
};

using envelope_ptr = std::shared_ptr<const envelope>;

}  // namespace keel
