#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <caf/expected.hpp>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/task.hpp"

namespace keel {

/// `result` as a `Reply`: the reply itself, the call's error, or errc::app_error naming a
/// reply of another type.
template <class Reply>
caf::expected<Reply> reply_as(const call_result& result) {
  if (!result) return result.error();
  if (const auto* typed = dynamic_cast<const Reply*>(result->get())) return *typed;
  return make_error(errc::app_error,
                    "unexpected reply type " + (*result)->GetDescriptor()->full_name());
}

/// Where the answer to one ask lands: filled by the ask's continuation, read by whoever
/// awaits it. Shared by the two, since an ask nobody awaits (its pending_ask dropped, or
/// its coroutine destroyed) is still answered.
/// Thread safety: activation-confined: only the asking turn's steps touch it.
class ask_outcome {
 public:
  /// Stores the answer and resumes the coroutine waiting on it, if one is.
  void deliver(call_result result) {
    result_ = std::move(result);
    if (waiter_) std::exchange(waiter_, {}).resume();
  }
  bool answered() const noexcept { return result_.has_value(); }
  /// Requires: !answered(); at most one waiter at a time.
  void wait(std::coroutine_handle<> waiter) noexcept { waiter_ = waiter; }
  /// Requires: answered().
  const call_result& result() const noexcept { return *result_; }

 private:
  std::optional<call_result> result_;
  std::coroutine_handle<> waiter_;
};

/// An ask in flight, made by `ctx.ask<Reply>(target, request)`; `co_await` it for a
/// `caf::expected<Reply>`. The ask is sent when the pending_ask is made, so asks started
/// one after another are in flight together and can be awaited in any order, or together
/// with when_all. Awaiting one already answered does not suspend; awaiting it again yields
/// the same answer.
/// Thread safety: activation-confined: awaited only inside the turn that asked.
template <class Reply>
class [[nodiscard]] pending_ask {
 public:
  explicit pending_ask(std::shared_ptr<ask_outcome> outcome) : outcome_(std::move(outcome)) {}

  bool await_ready() const noexcept { return outcome_->answered(); }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { outcome_->wait(waiter); }
  caf::expected<Reply> await_resume() const { return reply_as<Reply>(outcome_->result()); }

 private:
  std::shared_ptr<ask_outcome> outcome_;
};

/// Awaits every ask, in order, and yields their answers together: `auto [a, b] = co_await
/// when_all(ctx.ask<A>(...), ctx.ask<B>(...));`. The asks were all sent before the first
/// wait, so the turn waits as long as the slowest, not the sum.
template <class... Reply>
task<std::tuple<caf::expected<Reply>...>> when_all(pending_ask<Reply>... asks) {
  // A braced list is evaluated left to right, so the awaits run in argument order.
  co_return std::tuple<caf::expected<Reply>...>{co_await asks...};
}

/// The same for asks of one reply type, in the order given.
template <class Reply>
task<std::vector<caf::expected<Reply>>> when_all(std::vector<pending_ask<Reply>> asks) {
  std::vector<caf::expected<Reply>> out;
  out.reserve(asks.size());
  for (auto& ask : asks) out.push_back(co_await ask);
  co_return out;
}

}  // namespace keel
