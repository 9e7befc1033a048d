#include "keel/runtime/detail/turn.hpp"

#include <vector>

#include <spdlog/spdlog.h>

#include "keel/runtime/actor_call.hpp"
#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/pipelined_commit.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/node_fence.hpp"
#include "keel/runtime/node_stats.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/span_buffer.hpp"
#include "keel/runtime/turn_log.hpp"

namespace keel::detail {

using google::protobuf::Message;
using keel::runtime::ReminderFired;
using keel::runtime::ReminderRecord;
using std::chrono::milliseconds;

namespace {

constexpr std::string_view reminder_message = "$reminder";
constexpr std::string_view timer_message = "$timer";

// Finished turn objects, kept per scheduler thread for the next turn of any activation
// that runs there: one allocation less per message, without a resident turn per idle
// activation. Only the owning thread touches its pool.
thread_local std::vector<std::shared_ptr<turn>> turn_pool;
constexpr size_t turn_pool_size = 16;

}  // namespace

int64_t turn::now_ms() const {
  return self_->state.svc->clock->now_ms();
}

void turn::register_reminder(std::string name, milliseconds due_in, milliseconds period) {
  ReminderRecord rec;
  rec.set_name(name);
  rec.set_due_ms(now_ms() + due_in.count());
  rec.set_period_ms(period.count());
  if (auto it = self_->state.reminders.find(name); it != self_->state.reminders.end()) {
    rec.set_last_fired_ms(it->second.last_fired_ms());
    // Due times name firings: a re-registration (say from inside the firing itself) must
    // not reuse the current due time, or it would read as that firing's duplicate.
    if (rec.due_ms() == it->second.due_ms()) rec.set_due_ms(rec.due_ms() + 1);
  }
  effects_.reminder_changes.push_back({std::move(name), std::move(rec)});
}

// A turn that only reads (view()) costs no copy and no commit check. A turn of a
// non-reentrant type writes the state in place (no other turn can see it before this one
// ends) and a failed turn restores it from the committed bytes; a reentrant turn works
// on a copy made on first write access, as other turns interleave with it.
Message& turn::mutable_state() {
  if (!working_valid_) {
    auto& st = self_->state;
    if (!st.committed) throw std::logic_error("actor type '" + st.type->name + "' is stateless");
    if (!st.type->reentrant) {
      in_place_ = true;
      return *st.committed;
    }
    // A pooled turn may hold a buffer of another actor type.
    if (!working_ || working_->GetDescriptor() != st.committed->GetDescriptor())
      working_.reset(st.committed->New());
    // A reentrant turn that waited while another committed still works on the state it
    // started from; the commit then detects the interleaving as a conflict.
    if (st.type->reentrant && st.version != base_version_)
      working_->ParseFromString(base_bytes_);
    else
      working_->CopyFrom(*st.committed);
    working_valid_ = true;
  }
  return *working_;
}

const Message& turn::state_view() {
  if (working_valid_ && !in_place_) return *working_;
  const auto& st = self_->state;
  if (!st.committed) throw std::logic_error("actor type '" + st.type->name + "' is stateless");
  return *st.committed;
}

void turn::fail_with_exception(const char* what) {
  auto text = "handler of " + to_string(self()) + " threw";
  if (what) text += std::string{": "} + what;
  result_ = make_error(errc::app_error, std::move(text));
}

void turn::start_coroutine(std::coroutine_handle<> root, coroutine_finish finish) {
  if (coroutine_) {
    root.destroy();
    throw std::logic_error("handler of " + to_string(self()) + " started a second coroutine");
  }
  coroutine_ = root;
  coroutine_finish_ = finish;
  root.resume();
}

// The frame goes even if reading its result throws (the handler's own exception).
void turn::end_coroutine() {
  auto root = std::exchange(coroutine_, {});
  struct destroy_frame {
    std::coroutine_handle<> frame;
    ~destroy_frame() { frame.destroy(); }
  } guard{root};
  coroutine_finish_(root, *this);
}

void turn::ask_message(const actor_id& target, message_ptr request,
                       std::function<void(call_result)> then) {
  auto& st = self_->state;
  auto deadline =
      env_->reply ? env_->reply->deadline() : st.svc->monotonic->now() + st.svc->default_timeout;
  ++outstanding_asks_;
  asked_ = true;
  if (!env_hold_) env_hold_ = shared_env();  // continuations run after the message is gone
  auto me = shared_from_this();
  call_from_actor(
      self_, *st.svc->router, target, std::move(request), deadline, env_->trace, to_string(self()),
      st.type->reentrant ? wait_mode::multiplex : wait_mode::await,
      [me, then = std::move(then)](call_result answer) {
        --me->outstanding_asks_;
        me->run([&] { then(std::move(answer)); });
      },
      env_->reply, span_);
}

void turn::maybe_finish() {
  if (finished_ || outstanding_asks_ > 0) return;
  if (coroutine_) {
    // Suspended with no ask to resume it: it awaited something else, and nothing will.
    drop_coroutine();
    result_ = make_error(errc::app_error, "coroutine of " + to_string(self()) + " for " +
                                              env_->message_type +
                                              " waits on something other than an ask");
  }
  if (!result_)
    result_ = make_error(errc::app_error, "handler of " + to_string(self()) + " for " +
                                              env_->message_type + " returned without replying");
  auto& st = self_->state;
  std::string bytes;
  bool state_changed = false;
  if (*result_ && (working_valid_ || in_place_)) {
    bytes = serialize_deterministic(written_state());
    state_changed = bytes != (st.type->reentrant ? base_bytes_ : st.committed_bytes);
  } else if (in_place_ && !st.committed->ParseFromString(st.committed_bytes)) {
    // Cannot happen (the bytes are this message's own serialization); if it did, no turn
    // may run on what is left, and the next activation loads the durable state.
    st.load_error = make_error(errc::app_error, "state of " + to_string(self()) +
                                                    " could not be restored after a failed turn");
  }
  // A failed turn writes nothing: its working copy is dropped, or what it wrote in place
  // was restored above.
  const bool writes = *result_ && (state_changed || !effects_.reminder_changes.empty() ||
                                   !effects_.entry_changes.empty());
  if (writes && base_version_ != st.version) {
    // Only a reentrant type gets here: another turn committed while this one waited.
    result_ = make_error(errc::conflict, "state of " + to_string(self()) +
                                             " changed during this turn (reentrant type)");
    return finish(true);
  }
  if (!writes && !st.has_unsettled()) {
    if (*result_) apply_effects();
    return finish(true);
  }
  // Before the writer can release the reply: whoever it reaches finds the turn's end
  // recorded (a test that advances the clock on it, the idle check it may trigger).
  st.mark_active();
  commit(std::move(bytes), state_changed, writes);
  finish(false);
}

// The activation goes on with its next turn at once, on the state this turn wrote; the
// writer releases the reply once the commit is durable.
void turn::commit(std::string bytes, bool state_changed, bool writes) {
  auto& st = self_->state;
  hand_to_writer(self_, {.env = shared_env(),
                         .result = *result_,
                         .effects = effects_,
                         .bytes = bytes,
                         .state_changed = state_changed,
                         .writes = writes,
                         .asked = asked_,
                         .span = span_});
  if (state_changed) {
    // The old committed message becomes the next turn's working buffer.
    if (!in_place_) std::swap(st.committed, working_);
    working_valid_ = false;
    st.committed_bytes = std::move(bytes);
  }
  if (writes && st.committed) ++st.version;
}

// Effects of a turn that wrote nothing, released at once.
void turn::apply_effects() {
  auto& st = self_->state;
  for (auto& [target, message] : effects_.tells)
    st.svc->router->send(make_tell(target, std::move(message), env_->trace, span_, st.id),
                         self_->context());
  for (auto& [name, delay] : effects_.timers)
    self_->delayed_send(self_, delay, timer_atom::value, std::move(name));
}

void turn::record_span(uint64_t end, bool ok) {
  const auto& st = self_->state;
  st.svc->spans->add([&](span_record& rec) {
    rec.trace = env_->trace;
    rec.span = span_;
    rec.parent = env_->parent_span;
    rec.actor = st.id;
    rec.message = env_->message_type;
    rec.caller = env_->caller;
    rec.outcome = ok ? std::string_view{"ok"} : code_name(code_of(result_->error()));
    rec.start_ticks = started_;
    rec.end_ticks = end;
    rec.version_before = base_version_;
    rec.version_after = st.version;
  });
}

void turn::finish(bool reply) {
  finished_ = true;
  auto& st = self_->state;
  auto& metrics = *st.svc->metrics;
  auto end = fast_clock::ticks();
  // A turn that asked may end on another core; invariant TSCs agree, but never go negative.
  auto elapsed = fast_clock::to_duration(end > started_ ? end - started_ : 0);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const size_t bucket = histogram::bucket_of(seconds);
  metrics.turn_seconds.observe_in(bucket, seconds);
  const bool ok = result_ && *result_;
  if (!ok) metrics.turn_failures.add();
  st.svc->stats->record_turn(*st.type_stats, st.id_hash, st.id, bucket, ok);
  if (env_->trace.valid()) {
    auto start_ms =
        st.svc->clock->now_ms() - std::chrono::duration_cast<milliseconds>(elapsed).count();
    st.svc->turns->add([&](turn_record& rec) {
      rec.trace = env_->trace;
      rec.actor = st.id;
      rec.message = env_->message_type;
      rec.caller = env_->caller;
      rec.start_ms = start_ms;
      rec.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      rec.outcome = ok ? std::string_view{"ok"} : code_name(code_of(result_->error()));
      rec.version_before = base_version_;
      rec.version_after = st.version;
    });
    if (st.svc->spans) record_span(end, ok);
  }
  if (!ok)
    st.svc->log->debug("turn {} {} trace={} failed: {}", to_string(st.id), env_->message_type,
                       env_->trace.to_hex(), message_of(result_->error()));
  if (reply) {
    // Before the reply, as a committing turn does before its commit.
    st.mark_active();
    if (env_->reply) env_->reply->complete(std::move(*result_), self_->context());
  }
  --st.open_turns;
  if (st.open_turns == 0 && st.holds_nothing()) schedule_idle_check(self_, empty_idle_timeout);
  // Finished: no continuation will touch this object again. The envelope is released now,
  // not when the object is reused; the object is recycled by whoever ran the last step.
  env_hold_.reset();
}

namespace {

std::shared_ptr<turn> acquire_turn(activation_actor* self, const envelope_ptr& env, uint64_t now) {
  if (!turn_pool.empty()) {
    auto t = std::move(turn_pool.back());
    turn_pool.pop_back();
    t->reset(self, env, now);
    return t;
  }
  return std::make_shared<turn>(self, env, now);
}

// Runs the first step of turn `t`; a turn that finished in it goes back to the pool (with
// its buffers) for the next turn on this thread. One that waits on an ask is owned by its
// continuation and is simply freed when it ends.
template <class Step>
void run_first_step(std::shared_ptr<turn> t, Step&& step) {
  t->run(std::forward<Step>(step));
  t->end_first_step();
  if (t->finished() && t.use_count() == 1 && turn_pool.size() < turn_pool_size)
    turn_pool.push_back(std::move(t));
}

// Answers `env` at once if it may not start a turn of `self`; true if it did.
bool refuse_turn(activation_actor* self, const envelope_ptr& env) {
  auto& st = self->state;
  auto now = st.svc->monotonic->now();  // coarse: deadlines are swept at 10 ms anyway
  if (env->reply) {
    if (env->reply->done()) return true;  // timed out while queued: never run it
    if (env->reply->deadline() <= now) {
      env->reply->complete(make_error(
          errc::timeout, "deadline passed before " + to_string(st.id) + " could start the turn"));
      return true;
    }
  }
  if (st.svc->fence && !st.svc->fence->is_open()) {
    if (env->reply)
      env->reply->complete(
          make_error(errc::unavailable, "node is fenced, " + to_string(st.id) +
                                            " starts no turn: " + st.svc->fence->why_closed()));
    return true;
  }
  if (!st.load_error) return false;
  if (env->reply)
    env->reply->complete(make_error(
        errc::unavailable,
        "state of " + to_string(st.id) + " cannot be loaded: " + message_of(st.load_error)));
  if (st.load_error_lasts) {
    st.mark_active();
    return true;
  }
  // Passivates at the next idle check, so a later activation retries the load.
  st.last_active = std::chrono::steady_clock::time_point{};
  schedule_idle_check(self, milliseconds{100});
  return true;
}

// Runs on_reminder for firing `fired` in turn `t`, once per due time, and advances or
// erases the reminder in the same commit.
void run_reminder(activation_actor* self, std::shared_ptr<turn> t, const ReminderFired& fired) {
  auto& st = self->state;
  turn& tr = *t;
  auto it = st.reminders.find(fired.name());
  if (it == st.reminders.end() || it->second.last_fired_ms() >= fired.due_ms() ||
      it->second.due_ms() != fired.due_ms()) {
    // A duplicate (already committed) or stale firing: recognised, not run again.
    run_first_step(std::move(t), [&] { tr.reply(keel::runtime::Ack{}); });
    return;
  }
  auto rec = it->second;
  rec.set_last_fired_ms(fired.due_ms());
  if (rec.period_ms() > 0) {
    auto now = st.svc->clock->now_ms();
    auto next = rec.due_ms() + rec.period_ms();
    if (next <= now) next += ((now - next) / rec.period_ms() + 1) * rec.period_ms();
    rec.set_due_ms(next);
    t->add_reminder_change({fired.name(), rec});
  } else {
    t->add_reminder_change({fired.name(), std::nullopt});
  }
  st.svc->metrics->reminders_fired.add();
  run_first_step(std::move(t), [&] {
    if (st.type->on_reminder) st.type->on_reminder(fired.name(), tr);
    tr.reply(keel::runtime::Ack{});
  });
}

}  // namespace

void start_turn(activation_actor* self, const envelope_ptr& env) {
  if (refuse_turn(self, env)) return;
  auto& st = self->state;
  ++st.open_turns;
  if (env->reply) env->reply->mark_started();
  auto t = acquire_turn(self, env, fast_clock::ticks());
  turn& tr = *t;
  if (env->message_type == reminder_message)
    return run_reminder(self, std::move(t), static_cast<const ReminderFired&>(*env->payload));
  // Envelopes redelivered (from another node, or held while a partition moved) come
  // without the handler the router resolved.
  const handler_entry* handler = env->handler;
  if (!handler) {
    auto found = resolve_handler(*st.type, env->message_type);
    if (!found) {
      run_first_step(std::move(t), [&] { tr.reply(std::move(found.error())); });
      return;
    }
    handler = *found;
  }
  run_first_step(std::move(t), [&] { handler->invoke(*env->payload, tr); });
}

void start_timer_turn(activation_actor* self, std::string& name) {
  auto& st = self->state;
  if (!st.type->on_timer) return;
  auto env = std::make_shared<envelope>();
  env->target = st.id;
  env->message_type = timer_message;
  env->caller = "timer";
  ++st.open_turns;
  // Outlives the first step (the turn only borrows it until then); of the exact type, so
  // no temporary conversion is what the turn borrows.
  envelope_ptr timer_env = std::move(env);
  auto t = acquire_turn(self, timer_env, fast_clock::ticks());
  turn& tr = *t;
  run_first_step(std::move(t), [&] {
    st.type->on_timer(name, tr);
    tr.reply(keel::runtime::Ack{});
  });
}

}  // namespace keel::detail
