#pragma once

#include <optional>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/span_id.hpp"
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
  call_slot* reply = nullptr;  // null for a one-way tell; lives in this envelope (below)
  trace_id trace;
  // The span of the turn that sent it; none for a request's first turn.
  span_id parent_span;
  std::string caller;  // "http", "reminder", or the calling actor's "type/key"
  // The partition's epoch at the node that delivers it; 0 on a single node. Set by the
  // partition directory while routing, hence mutable.
  mutable uint64_t epoch = 0;
  // Node-to-node forwards so far (a stale routing table can bounce a call; bounded).
  uint8_t hops = 0;
  // Resolved by the router before delivery (null for internal $-messages), so the
  // activation does not look the handler up again.
  mutable const handler_entry* handler = nullptr;

  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;

  /// A call dropped without an answer (its activation stopped) fails with `unavailable`,
  /// or `unknown_outcome` if its turn had begun: callers never wait in silence.
  ~envelope();

  /// The slot of a call lives inside its envelope (no allocation of its own). Use
  /// make_call() to create one.
  std::optional<call_slot> slot_storage;
};

using envelope_ptr = std::shared_ptr<const envelope>;

/// An envelope for a call to `target` whose answer goes to the slot built from `slot_args`
/// (see call_slot's constructors).
template <class... SlotArgs>
std::shared_ptr<envelope> make_call(actor_id target, SlotArgs&&... slot_args) {
  // One allocation with its control block: the router's weak reference keeps that memory
  // only until a later call on a calling thread prunes it (call_router::track).
  auto env = std::make_shared<envelope>();
  env->target = std::move(target);
  env->slot_storage.emplace(env->target, std::forward<SlotArgs>(slot_args)...);
  env->reply = &*env->slot_storage;
  return env;
}

/// The slot of `env` as a shared pointer that keeps the envelope alive (aliasing).
inline call_slot_ptr slot_of(const envelope_ptr& env) {
  return env->reply ? call_slot_ptr{env, env->reply} : call_slot_ptr{};
}

}  // namespace keel

// Envelopes travel between actors of one process only (across nodes a call is a wire_call).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::envelope_ptr)
