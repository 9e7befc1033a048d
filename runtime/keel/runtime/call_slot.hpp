#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <caf/actor_control_block.hpp>
#include <caf/fwd.hpp>
#include <caf/message_id.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/message.hpp"

namespace keel {

/// Where one call's answer goes: a callback (gateway, tests) or a waiting CAF actor (an
/// activation's `ask`, answered as the CAF response to a request id it awaits). Exactly one
/// completion wins: the callee's reply, the router's deadline sweep (`timeout`), or the
/// envelope's destruction without a reply (`unavailable`, or `unknown_outcome` once the
/// callee's turn began). So every caller gets exactly one
/// answer and nobody waits on a CAF timer.
/// Thread safety: thread-safe.
class call_slot {
 public:
  using callback = std::function<void(call_result)>;

  /// Answers by invoking `fn` on whichever thread completes the call. `target` must outlive
  /// the slot: it is the target of the envelope the slot lives in (make_call()).
  call_slot(const actor_id& target, steady_time deadline, callback fn);

  /// Answers by enqueuing the CAF response for `request_id` at `caller`.
  call_slot(const actor_id& target, steady_time deadline, caf::strong_actor_ptr caller,
            caf::message_id request_id);

  call_slot(const call_slot&) = delete;
  call_slot& operator=(const call_slot&) = delete;

  /// Delivers `result` if no other completion came first; returns whether this one won.
  /// A completer running inside a CAF actor passes its execution unit, so an awaiting
  /// caller is scheduled on the same worker (as CAF's own responses are).
  bool complete(call_result result, caf::execution_unit* host = nullptr);

  /// The two halves of complete(), for a completer that must record its win before the
  /// caller can observe the answer: claim() returns whether this completion won; then
  /// deliver(). Requires: deliver() only after claim() returned true, and only once.
  bool claim() noexcept { return !done_.exchange(true, std::memory_order_acq_rel); }
  void deliver(call_result result, caf::execution_unit* host = nullptr);

  bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  steady_time deadline() const noexcept { return deadline_; }
  /// When the call was made (the coarse clock's reading).
  steady_time created() const noexcept { return created_; }
  /// Whether the slow-request log has named this call; set once, by the router's sweep.
  bool mark_slow_reported() noexcept { return !slow_reported_.exchange(true); }
  const actor_id& target() const noexcept { return target_; }

  /// Records the call the callee is itself waiting on, so a timeout can name the chain.
  void set_waiting_on(std::shared_ptr<call_slot> next);

  /// "a -> b -> c": the target of this call and, transitively, what each waited on.
  std::string chain() const;

  /// Marks that the callee's turn began: from then on a call dropped without an answer
  /// may have had effects (asks the turn made), so it fails with `unknown_outcome`.
  void mark_started() noexcept { started_.store(true, std::memory_order_relaxed); }
  bool started() const noexcept { return started_.load(std::memory_order_relaxed); }

  /// Marks the call as held before it reached its callee (its partition is moving): a
  /// deadline that passes meanwhile answers `unavailable` with `why`, not `timeout`, since
  /// nothing ran. An empty `why` clears the mark when the call is delivered.
  void set_held(std::string why);
  /// The reason set by set_held(); empty if the call is not held.
  std::string held() const;

 private:
  const actor_id& target_;
  const steady_time deadline_;
  const steady_time created_;
  std::atomic<bool> done_{false};
  std::atomic<bool> slow_reported_{false};
  std::atomic<bool> started_{false};
  callback fn_;
  caf::strong_actor_ptr caller_;
  caf::message_id request_id_;
  mutable std::mutex waiting_mutex_;
  std::weak_ptr<call_slot> waiting_on_;  // guarded by waiting_mutex_
  std::string held_;                     // guarded by waiting_mutex_
};

using call_slot_ptr = std::shared_ptr<call_slot>;

}  // namespace keel
