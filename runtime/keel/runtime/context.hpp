#pragma once

#include <chrono>
#include <coroutine>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/pending_ask.hpp"
#include "keel/runtime/task.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

/// What a handler sees of its turn: the state to change, the caller's trace, and the ways
/// to talk to other actors. `state()` is a copy; Keel commits it after the handler if it
/// changed, before the reply leaves.
/// Thread safety: activation-confined; valid only inside the turn (its continuations and
/// its coroutine included). Keel makes one per turn and calls the handler with it on the
/// activation's scheduler thread.
class context {
 public:
  virtual ~context() = default;

  /// The actor this turn runs for.
  virtual const actor_id& self() const noexcept = 0;
  virtual const trace_id& trace() const noexcept = 0;

  /// This turn's working copy of the state, made on first use; changes commit with the
  /// turn. Requires: the type was registered with State.
  template <class State>
  State& state() {
    return static_cast<State&>(mutable_state());
  }

  /// The state for reading only: no copy is made, and a turn that only views needs no
  /// commit. Sees this turn's own changes if it made any.
  template <class State>
  const State& view() {
    return static_cast<const State&>(state_view());
  }

  /// Entries: records an actor keeps beside its state under names its handlers choose (an
  /// inbox's items, a cell's members). Each is stored under its own key, so a turn that
  /// changes one entry writes that entry, not all the actor holds: a state that grows with
  /// use belongs here. Changes commit with the turn, atomically with the state, and are
  /// dropped if the turn fails; reads see this turn's own changes. Every entry is loaded
  /// with the activation: keep them bounded. Requires: the type was registered
  /// with_entries() (else std::logic_error, which fails the turn). A turn that changes an
  /// entry advances the actor's version like a state change, so a reentrant type's
  /// interleaved turns conflict over entries as they do over state.
  template <class Record>
  std::optional<Record> entry(std::string_view name) {
    auto bytes = entry_bytes(name);
    if (!bytes) return std::nullopt;
    return parse_entry<Record>(name, *bytes);
  }

  /// Every entry as `Record`, in name order.
  template <class Record>
  std::vector<std::pair<std::string, Record>> entries() {
    std::vector<std::pair<std::string, Record>> out;
    for_each_entry([&](const std::string& name, std::string_view bytes) {
      out.emplace_back(name, parse_entry<Record>(name, bytes));
    });
    return out;
  }

  void put_entry(std::string name, const google::protobuf::Message& record) {
    change_entry(std::move(name), record.SerializeAsString());
  }
  void erase_entry(std::string name) { change_entry(std::move(name), std::nullopt); }

  /// The stored bytes of entry `name`; valid until this turn changes an entry.
  virtual std::optional<std::string_view> entry_bytes(std::string_view name) = 0;
  /// Calls `f(name, bytes)` for every entry, this turn's changes included, in name order.
  virtual void for_each_entry(
      const std::function<void(const std::string&, std::string_view)>& f) = 0;
  /// Sets (or with nullopt erases) entry `name`, committed with this turn.
  virtual void change_entry(std::string name, std::optional<std::string> bytes) = 0;

  /// Asks `target` and runs `then` inside this same turn when the answer (or an error)
  /// arrives; no other message of this actor runs meanwhile unless its type is reentrant.
  /// The turn ends when it has replied and no ask is outstanding.
  template <class Reply>
  void ask(const actor_id& target, const google::protobuf::Message& request,
           std::function<void(caf::expected<Reply>)> then) {
    ask_message(target, copy_of(request),
                [then = std::move(then)](call_result result) { then(reply_as<Reply>(result)); });
  }

  /// Asks `target` now; `co_await` the result inside this turn's coroutine for a
  /// `caf::expected<Reply>` (an error, the deadline's `timeout` included, is a value, never
  /// an exception). As with the continuation form, no other message of this actor runs
  /// until the answer is in, unless its type is reentrant; the turn ends when its coroutine
  /// has returned and no ask is outstanding.
  template <class Reply>
  pending_ask<Reply> ask(const actor_id& target, const google::protobuf::Message& request) {
    auto outcome = std::make_shared<ask_outcome>();
    ask_message(target, copy_of(request),
                [outcome](call_result result) { outcome->deliver(std::move(result)); });
    return pending_ask<Reply>{std::move(outcome)};
  }

  /// One-way message, sent only if this turn commits.
  void tell(const actor_id& target, const google::protobuf::Message& message) {
    tell_message(target, copy_of(message));
  }

  /// Answers the caller (for handlers that reply later, after asks).
  void reply(const google::protobuf::Message& value) { reply_result(copy_of(value)); }
  template <class Reply>
  requires std::is_base_of_v<google::protobuf::Message, std::decay_t<Reply>> &&
      (!std::is_lvalue_reference_v<Reply>)void reply(Reply&& value) {
    reply_result(std::make_shared<std::decay_t<Reply>>(std::move(value)));
  }
  void reply(caf::error error) { reply_result(std::move(error)); }

  /// Answers with what a handler returned: a reply message, or caf::expected of one.
  template <class Result>
  void reply_with(Result&& result) {
    if constexpr (std::is_base_of_v<google::protobuf::Message, std::decay_t<Result>>) {
      reply(std::forward<Result>(result));
    } else {
      if (result)
        reply(std::move(*result));
      else
        reply(std::move(result.error()));
    }
  }

  /// Runs `body` as this turn's coroutine: it starts now and resumes inside this turn each
  /// time an ask it awaits is answered; when it returns, the turn answers with its value
  /// (nothing for task<>), and an exception escaping it fails the turn as a throwing
  /// handler does. The turn owns the frame. The registry calls this for handlers that
  /// return a task. Requires: at most one coroutine per turn.
  template <class T>
  void run_coroutine(task<T> body) {
    start_coroutine(body.release(), &finish_coroutine<T>);
  }

  /// Sends this activation `on_timer(name)` after `delay`; dies with the activation.
  virtual void set_timer(std::string name, std::chrono::milliseconds delay) = 0;

  /// A durable reminder: fires `on_reminder(name)` at least once per due time, even after a
  /// restart; committed with this turn. `period` zero means once.
  virtual void register_reminder(std::string name, std::chrono::milliseconds due_in,
                                 std::chrono::milliseconds period) = 0;
  virtual void unregister_reminder(const std::string& name) = 0;

  /// Wall-clock milliseconds from the node's clock seam (faked in tests).
  virtual int64_t now_ms() const = 0;

  virtual void ask_message(const actor_id& target, message_ptr request,
                           std::function<void(call_result)> then) = 0;
  virtual void tell_message(const actor_id& target, message_ptr message) = 0;
  virtual void reply_result(call_result result) = 0;

  /// Reads the ended coroutine `root` and answers with its value; rethrows what it threw.
  using coroutine_finish = void (*)(std::coroutine_handle<> root, context& ctx);
  /// Takes `root` (not started) as this turn's coroutine and resumes it; once it is done
  /// the turn calls `finish`, then destroys the frame. A turn destroyed first (with its
  /// activation) destroys the frame without resuming it.
  virtual void start_coroutine(std::coroutine_handle<> root, coroutine_finish finish) = 0;

 protected:
  virtual google::protobuf::Message& mutable_state() = 0;
  virtual const google::protobuf::Message& state_view() = 0;

  template <class Record>
  static Record parse_entry(std::string_view name, std::string_view bytes) {
    Record out;
    if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      throw std::runtime_error("entry '" + std::string{name} + "' does not parse as " +
                               Record::descriptor()->full_name());
    return out;
  }

  template <class T>
  static void finish_coroutine(std::coroutine_handle<> root, context& ctx) {
    auto& promise =
        std::coroutine_handle<typename task<T>::promise_type>::from_address(root.address())
            .promise();
    if constexpr (std::is_void_v<T>)
      promise.take();
    else
      ctx.reply_with(promise.take());
  }

  static message_ptr copy_of(const google::protobuf::Message& m) {
    std::shared_ptr<google::protobuf::Message> copy{m.New()};
    copy->CopyFrom(m);
    return copy;
  }
};

}  // namespace keel
