#pragma once

#include <functional>
#include <string>

#include <caf/fwd.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

class call_router;

/// How a CAF actor waits for an answer: `await` holds back its other messages (a
/// non-reentrant turn); `multiplex` lets them run meanwhile.
enum class wait_mode { await, multiplex };

/// Calls `target` through `router` on behalf of the CAF actor `self` and runs `then` inside
/// `self` when the answer (or the deadline's `timeout`) arrives. The answer travels as the
/// CAF response to a request id of `self`, so no CAF timeout is armed. Returns the call's
/// slot, so the caller can record what it waits on.
/// Requires: called from inside one of `self`'s handlers (actor-confined).
call_slot_ptr call_from_actor(caf::scheduled_actor* self, call_router& router,
                              const actor_id& target, message_ptr request, steady_time deadline,
                              trace_id trace, std::string caller, wait_mode mode,
                              std::function<void(call_result)> then);

}  // namespace keel
