#include "keel/runtime/actor_call.hpp"

#include <google/protobuf/message.h>
#include <caf/actor_cast.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/envelope.hpp"

namespace keel::detail {

void send_call_from_actor(caf::scheduled_actor* self, call_router& router, const actor_id& target,
                          message_ptr request, steady_time deadline, trace_id trace,
                          std::string caller, wait_mode mode, caf::behavior on_answer,
                          caf::message_id request_id, call_slot* serving, span_id parent_span) {
  auto env = make_call(target, deadline, caf::actor_cast<caf::strong_actor_ptr>(self), request_id);
  if (serving) serving->set_waiting_on(slot_of(env));
  env->message_type = request->GetDescriptor()->name();
  env->payload = std::move(request);
  env->trace = trace;
  env->parent_span = parent_span;
  env->caller = std::move(caller);
  // Registered before the send: the answer can only be handled after this handler returns.
  if (mode == wait_mode::await)
    self->add_awaited_response_handler(request_id.response_id(), std::move(on_answer));
  else
    self->add_multiplexed_response_handler(request_id.response_id(), std::move(on_answer));
  router.send(std::move(env), self->context());
}

}  // namespace keel::detail
