#include "keel/runtime/actor_call.hpp"

#include <caf/actor_cast.hpp>
#include <caf/behavior.hpp>
#include <caf/scheduled_actor.hpp>
#include <google/protobuf/message.h>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/envelope.hpp"

namespace keel {

call_slot_ptr call_from_actor(caf::scheduled_actor* self, call_router& router,
                              const actor_id& target, message_ptr request, steady_time deadline,
                              trace_id trace, std::string caller, wait_mode mode,
                              std::function<void(call_result)> then) {
  auto request_id = self->new_request_id(caf::message_priority::normal);
  auto slot = std::make_shared<call_slot>(target, deadline,
                                          caf::actor_cast<caf::strong_actor_ptr>(self), request_id);
  auto env = std::make_shared<envelope>();
  env->target = target;
  env->message_type = request->GetDescriptor()->name();
  env->payload = std::move(request);
  env->reply = slot;
  env->trace = trace;
  env->caller = std::move(caller);
  // One shared continuation: copying `then` into both handlers would allocate twice.
  auto shared_then = std::make_shared<std::function<void(call_result)>>(std::move(then));
  caf::behavior on_answer{
    [shared_then](detail::reply_msg& answer) { (*shared_then)(std::move(answer.value)); },
    [shared_then](caf::error& err) { (*shared_then)(std::move(err)); },
  };
  // Registered before the send: the answer can only be handled after this handler returns.
  if (mode == wait_mode::await)
    self->add_awaited_response_handler(request_id.response_id(), std::move(on_answer));
  else
    self->add_multiplexed_response_handler(request_id.response_id(), std::move(on_answer));
  router.send(std::move(env), self->context());
  return slot;
}

}  // namespace keel
