#include "keel/runtime/call_slot.hpp"

#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>

#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/wire.hpp"

namespace keel {

call_slot::call_slot(const actor_id& target, steady_time deadline, callback fn)
    : target_(target),
      deadline_(deadline),
      created_(fast_clock::coarse_now()),
      fn_(std::move(fn)) {}

call_slot::call_slot(const actor_id& target, steady_time deadline, caf::strong_actor_ptr caller,
                     caf::message_id request_id)
    : target_(target),
      deadline_(deadline),
      created_(fast_clock::coarse_now()),
      caller_(std::move(caller)),
      request_id_(request_id) {}

bool call_slot::complete(call_result result, caf::execution_unit* host) {
  if (!claim()) return false;
  deliver(std::move(result), host);
  return true;
}

void call_slot::deliver(call_result result, caf::execution_unit* host) {
  if (fn_) {
    auto fn = std::move(fn_);
    fn(std::move(result));
  } else if (caller_) {
    // Without a host, safe from any thread: CAF schedules the caller through its queue.
    auto caller = std::move(caller_);
    // The reply inside the mailbox element: one allocation, not a message and its element.
    caller->enqueue(caf::make_mailbox_element(nullptr, request_id_.response_id(), {},
                                              detail::reply_msg{std::move(result)}),
                    host);
  }
}

void call_slot::set_waiting_on(std::shared_ptr<call_slot> next) {
  std::lock_guard guard{waiting_mutex_};
  waiting_on_ = std::move(next);
}

void call_slot::set_held(std::string why) {
  std::lock_guard guard{waiting_mutex_};
  held_ = std::move(why);
}

std::string call_slot::held() const {
  std::lock_guard guard{waiting_mutex_};
  return held_;
}

std::string call_slot::chain() const {
  std::string out = to_string(target_);
  std::shared_ptr<call_slot> next;
  {
    std::lock_guard guard{waiting_mutex_};
    next = waiting_on_.lock();
  }
  for (int hops = 0; next && hops < 16; ++hops) {
    out += " -> " + to_string(next->target_);
    auto current = std::move(next);
    std::lock_guard guard{current->waiting_mutex_};
    next = current->waiting_on_.lock();
  }
  return out;
}

}  // namespace keel
