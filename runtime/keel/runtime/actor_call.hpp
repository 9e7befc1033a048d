#pragma once

#include <memory>
#include <string>
#include <utility>

#include <caf/behavior.hpp>
#include <caf/scheduled_actor.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/span_id.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

class call_router;

/// How a CAF actor waits for an answer: `await` holds back its other messages (a
/// non-reentrant turn); `multiplex` lets them run meanwhile.
enum class wait_mode { await, multiplex };

namespace detail {

/// The non-template half of call_from_actor: builds the envelope and its slot, registers
/// `on_answer` for the reply and sends. Actor-confined to `self`.
void send_call_from_actor(caf::scheduled_actor* self, call_router& router, const actor_id& target,
                          message_ptr request, steady_time deadline, trace_id trace,
                          std::string caller, wait_mode mode, caf::behavior on_answer,
                          caf::message_id request_id, call_slot* serving, span_id parent_span);

}  // namespace detail

/// Calls `target` through `router` on behalf of the CAF actor `self` and runs
/// `then(call_result)` inside `self` when the answer (or the deadline's `timeout`) arrives.
/// The answer travels as the CAF response to a request id of `self`, so no CAF timeout is
/// armed. `serving`, if given, is the slot of the call `self` is answering: it records this
/// call as what it waits on, so a timeout names the chain. `parent_span` is the calling
/// turn's span, which the called turn names as its parent.
/// Requires: called from inside one of `self`'s handlers (actor-confined).
template <class Continuation>
void call_from_actor(caf::scheduled_actor* self, call_router& router, const actor_id& target,
                     message_ptr request, steady_time deadline, trace_id trace, std::string caller,
                     wait_mode mode, Continuation then, call_slot* serving = nullptr,
                     span_id parent_span = {}) {
  // Values and errors both arrive as reply_msg: one case, holding the continuation itself.
  caf::behavior on_answer{
      [then = std::move(then)](detail::reply_msg& answer) mutable {
        then(std::move(answer.result));
      },
  };
  auto request_id = self->new_request_id(caf::message_priority::normal);
  detail::send_call_from_actor(self, router, target, std::move(request), deadline, trace,
                               std::move(caller), mode, std::move(on_answer), request_id, serving,
                               parent_span);
}

}  // namespace keel
