#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "keel/runtime/context.hpp"
#include "keel/runtime/detail/activation_state.hpp"
#include "keel/runtime/detail/turn_effects.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/log_trace.hpp"

namespace keel::detail {

/// Runs the message `env` as a turn of `self`, unless it may not start: its caller gave up
/// or its deadline passed, the node is fenced, or the state could not be loaded (each
/// answered at once). Dispatches a reminder firing to on_reminder (once per due time) and
/// anything else to the type's handler.
/// Requires: on the thread running `self`.
void start_turn(activation_actor* self, const envelope_ptr& env);

/// Runs timer `name` of `self` as a turn of the type's on_timer, if it has one.
/// Requires: on the thread running `self`.
void start_timer_turn(activation_actor* self, std::string& name);

/// One turn: one message handled to completion, including the continuations of its asks
/// and its coroutine (a handler returning task<>), whose frame it owns.
/// It is the handler's context, holds what the turn wrote and did, and when it ends either
/// answers at once (it wrote nothing and no commit of the activation is unsettled) or hands
/// its commit to the store writer (pipelined_commit.hpp). Objects are pooled per scheduler
/// thread and reset for the next turn of any activation there.
/// Thread safety: activation-confined: only the activation's turns and their continuations
/// touch it, never two at once.
class turn final : public context, public std::enable_shared_from_this<turn> {
 public:
  turn(activation_actor* self, const envelope_ptr& env, uint64_t started) {
    reset(self, env, started);
  }
  ~turn() override { drop_coroutine(); }
  turn(const turn&) = delete;
  turn& operator=(const turn&) = delete;

  /// Prepares this object for a new turn of `self`, keeping its buffers. The turn borrows
  /// `env` (the message being handled holds it) and takes a reference of its own only if
  /// it outlives its first step (it asks) or hands a commit to the writer: two atomic
  /// increments less per turn, on a line the caller's thread writes too.
  void reset(activation_actor* self, const envelope_ptr& env, uint64_t started) {
    self_ = self;
    env_ = env.get();
    env_source_ = &env;
    started_ = started;
    span_ = span_id::make();
    auto& st = self_->state;
    base_version_ = st.version;
    // Interleaved turns of a reentrant type must compare against what they started from,
    // not against what another turn committed meanwhile.
    if (st.type->reentrant) base_bytes_ = st.committed_bytes;
    working_valid_ = false;
    in_place_ = false;
    outstanding_asks_ = 0;
    asked_ = false;
    finished_ = false;
    result_.reset();
    effects_.clear();
  }

  const actor_id& self() const noexcept override { return self_->state.id; }
  const trace_id& trace() const noexcept override { return env_->trace; }
  int64_t now_ms() const override;

  void set_timer(std::string name, std::chrono::milliseconds delay) override {
    self_->state.armed_timer = true;
    effects_.timers.emplace_back(std::move(name), delay);
  }

  void register_reminder(std::string name, std::chrono::milliseconds due_in,
                         std::chrono::milliseconds period) override;

  void unregister_reminder(const std::string& name) override {
    effects_.reminder_changes.push_back({name, std::nullopt});
  }

  std::optional<std::string_view> entry_bytes(std::string_view name) override;
  void for_each_entry(const std::function<void(const std::string&, std::string_view)>& f) override;
  void change_entry(std::string name, std::optional<std::string> bytes) override {
    require_entries();
    effects_.entry_changes.push_back({std::move(name), std::move(bytes)});
  }

  void ask_message(const actor_id& target, message_ptr request,
                   std::function<void(call_result)> then) override;

  void tell_message(const actor_id& target, message_ptr message) override {
    effects_.tells.emplace_back(target, std::move(message));
  }

  void reply_result(call_result result) override {
    if (!result_) result_ = std::move(result);
  }

  void start_coroutine(std::coroutine_handle<> root, coroutine_finish finish) override;

  /// Runs one step of the turn (the handler or a continuation, which may resume its
  /// coroutine), then finishes the turn if it has replied and waits on nothing. An
  /// exception, also one escaping the coroutine, fails the turn with `app_error`. Lines
  /// logged meanwhile carry the turn's trace id.
  /// A template, not a std::function: the step's captures would cost an allocation per turn.
  template <class Step>
  void run(Step&& step) {
    log_trace_scope scope{env_->trace};
    try {
      step();
      if (coroutine_ && coroutine_.done()) end_coroutine();
    } catch (const std::exception& e) {
      fail_with_exception(e.what());
    } catch (...) {
      fail_with_exception(nullptr);
    }
    maybe_finish();
  }

  void add_reminder_change(reminder_change change) {
    effects_.reminder_changes.push_back(std::move(change));
  }

  /// Called when the first step has returned: the handled message may be gone from now on,
  /// so a turn still open holds its envelope (ask_message took it).
  void end_first_step() noexcept { env_source_ = nullptr; }
  bool finished() const noexcept { return finished_; }

 protected:
  google::protobuf::Message& mutable_state() override;
  const google::protobuf::Message& state_view() override;

 private:
  /// The envelope as a shared reference, taking one if this turn does not hold it yet.
  /// Requires: inside the turn's first step, or once the turn holds it (ask_message).
  envelope_ptr shared_env() { return env_hold_ ? env_hold_ : *env_source_; }
  /// The state this turn wrote: the committed message itself or the working copy.
  google::protobuf::Message& written_state() {
    return in_place_ ? *self_->state.committed : *working_;
  }
  void fail_with_exception(const char* what);
  void end_coroutine();
  void drop_coroutine() noexcept {
    if (coroutine_) std::exchange(coroutine_, {}).destroy();
  }
  void require_entries() const;
  void maybe_finish();
  void commit(std::string bytes, bool state_changed, bool writes);
  void apply_effects();
  void finish(bool reply);
  /// Adds this turn, which ended at `end` (fast_clock ticks), to the node's span buffer.
  void record_span(uint64_t end, bool ok);

  activation_actor* self_;
  const envelope* env_ = nullptr;             // alive while the turn is open: see shared_env()
  const envelope_ptr* env_source_ = nullptr;  // the handled message's; only in the first step
  envelope_ptr env_hold_;                     // set once the turn must own the envelope
  uint64_t started_ = 0;                      // fast_clock ticks
  span_id span_;                              // this turn's; its asks and tells carry it
  uint64_t base_version_ = 0;
  std::string base_bytes_;  // reentrant types only
  // Allocated once, reused by later turns.
  std::unique_ptr<google::protobuf::Message> working_;
  bool working_valid_ = false;  // working_ holds this turn's copy
  bool in_place_ = false;       // this turn wrote the committed message itself
  int outstanding_asks_ = 0;
  bool asked_ = false;  // the turn asked another actor: it may have had effects there
  bool finished_ = false;
  std::optional<call_result> result_;
  turn_effects effects_;
  std::coroutine_handle<> coroutine_;  // the handler's coroutine until it ends
  coroutine_finish coroutine_finish_ = nullptr;
};

}  // namespace keel::detail
