#include "keel/runtime/detail/activation.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/actor_call.hpp"
#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/context.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/node_fence.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/turn_log.hpp"

namespace keel::detail {

namespace {

using google::protobuf::Message;
using keel::runtime::ReminderFired;
using keel::runtime::ReminderRecord;
using std::chrono::milliseconds;

constexpr std::string_view reminder_message = "$reminder";
constexpr std::string_view timer_message = "$timer";

class turn;
struct activation_state;
using activation_actor = caf::stateful_actor<activation_state>;

// An activation that holds nothing (no stored state, reminders, entries or timers: a
// lookup of an entity that does not exist) leaves after this long, not the idle timeout,
// so misses cost no memory.
constexpr milliseconds empty_idle_timeout{1000};

bool holds_nothing(const activation_state& st);
void mark_active(activation_state& st);
void schedule_idle_check(activation_actor* self, milliseconds delay);

envelope_ptr make_tell(const actor_id& target, message_ptr message, const trace_id& trace,
                       const actor_id& sender) {
  auto out = std::make_shared<envelope>();
  out->target = target;
  out->message_type = message->GetDescriptor()->name();
  out->payload = std::move(message);
  out->trace = trace;
  out->caller = to_string(sender);
  return out;
}

struct activation_state {
  node_services* svc = nullptr;
  const actor_type_info* type = nullptr;
  actor_id id;
  std::unique_ptr<Message> committed;  // null for stateless workers
  std::string committed_bytes;
  uint64_t version = 0;
  caf::error load_error;
  // The stored record does not parse: a reload will not help until an operator acts, so
  // the activation stays (answering load_error) until it idles out, logged once.
  bool load_error_lasts = false;
  std::map<std::string, ReminderRecord> reminders;
  // name -> bytes (with_entries). Hashed: a tree's walk missed the cache at every node on
  // each write (1.3 % of keel-node under rideshare-sim); listings sort the names.
  std::unordered_map<std::string, std::string> entries;
  steady_time last_active;
  // last_active for the router's eviction, which reads it from other threads.
  call_router::idle_since_ptr idle_since;
  bool idle_scheduled = false;  // an early idle check is pending
  bool armed_timer = false;     // a turn set a timer (timers die with the activation)
  size_t open_turns = 0;
  // Commits handed to the store writer and not yet settled: while there are any, replies
  // wait behind them. Shared with the commits, which count down on the writer's thread;
  // made on the first commit, so an activation that never writes does not pay for it.
  std::shared_ptr<std::atomic<uint32_t>> unsettled;
  // Bumped when a failed commit makes the activation reload its durable state: failures of
  // commits sent before that reload are then already accounted for.
  uint64_t generation = 0;

  bool has_unsettled() const { return unsettled && unsettled->load(std::memory_order_acquire) > 0; }
};

// Finished turn objects, kept per scheduler thread for the next turn of any activation
// that runs there: one allocation less per message, without a resident turn per idle
// activation. Only the owning thread touches its pool.
thread_local std::vector<std::shared_ptr<turn>> turn_pool;
constexpr size_t turn_pool_size = 16;

// A reminder change of one turn: the record to store, or an erase.
struct reminder_change {
  std::string name;
  std::optional<ReminderRecord> record;
};

// An entry change of one turn: the bytes to store, or an erase.
struct entry_change {
  std::string name;
  std::optional<std::string> bytes;
};

class turn final : public context, public std::enable_shared_from_this<turn> {
 public:
  turn(activation_actor* self, const envelope_ptr& env, uint64_t started) {
    reset(self, env, started);
  }

  /// Prepares this object for a new turn of `self`, keeping its buffers. The turn borrows
  /// `env` (the message being handled holds it) and takes a reference of its own only if
  /// it outlives its first step (it asks) or hands a commit to the writer: two atomic
  /// increments less per turn, on a line the caller's thread writes too.
  void reset(activation_actor* self, const envelope_ptr& env, uint64_t started) {
    self_ = self;
    env_ = env.get();
    env_source_ = &env;
    started_ = started;
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
    tells_.clear();
    timers_.clear();
    reminder_changes_.clear();
    entry_changes_.clear();
  }

  const actor_id& self() const noexcept override { return self_->state.id; }
  const trace_id& trace() const noexcept override { return env_->trace; }
  int64_t now_ms() const override { return self_->state.svc->clock->now_ms(); }

  void set_timer(std::string name, milliseconds delay) override {
    self_->state.armed_timer = true;
    timers_.emplace_back(std::move(name), delay);
  }

  void register_reminder(std::string name, milliseconds due_in, milliseconds period) override {
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
    reminder_changes_.push_back({std::move(name), std::move(rec)});
  }

  void unregister_reminder(const std::string& name) override {
    reminder_changes_.push_back({name, std::nullopt});
  }

  std::optional<std::string_view> entry_bytes(std::string_view name) override;
  void for_each_entry(const std::function<void(const std::string&, std::string_view)>& f) override;
  void change_entry(std::string name, std::optional<std::string> bytes) override {
    require_entries();
    entry_changes_.push_back({std::move(name), std::move(bytes)});
  }

  void ask_message(const actor_id& target, message_ptr request,
                   std::function<void(call_result)> then) override;

  void tell_message(const actor_id& target, message_ptr message) override {
    tells_.emplace_back(target, std::move(message));
  }

  void reply_result(call_result result) override {
    if (!result_) result_ = std::move(result);
  }

  /// Runs one step of the turn (the handler or a continuation), then finishes the turn if
  /// it has replied and waits on nothing. An exception fails the turn with `app_error`.
  /// A template, not a std::function: the step's captures would cost an allocation per turn.
  template <class Step>
  void run(Step&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      fail_with_exception(e.what());
    } catch (...) {
      fail_with_exception(nullptr);
    }
    maybe_finish();
  }

  void add_reminder_change(reminder_change change) {
    reminder_changes_.push_back(std::move(change));
  }

  /// Called when the first step has returned: the handled message may be gone from now on,
  /// so a turn still open holds its envelope (ask_message took it).
  void end_first_step() noexcept { env_source_ = nullptr; }
  bool finished() const noexcept { return finished_; }

 protected:
  // A turn that only reads (view()) costs no copy and no commit check. A turn of a
  // non-reentrant type writes the state in place (no other turn can see it before this one
  // ends) and a failed turn restores it from the committed bytes; a reentrant turn works
  // on a copy made on first write access, as other turns interleave with it.
  Message& mutable_state() override {
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

  /// The state this turn wrote: the committed message itself or the working copy.
  Message& written_state() { return in_place_ ? *self_->state.committed : *working_; }

  const Message& state_view() override {
    if (working_valid_ && !in_place_) return *working_;
    const auto& st = self_->state;
    if (!st.committed) throw std::logic_error("actor type '" + st.type->name + "' is stateless");
    return *st.committed;
  }

 private:
  /// The envelope as a shared reference, taking one if this turn does not hold it yet.
  /// Requires: inside the turn's first step, or after hold_envelope().
  envelope_ptr shared_env() { return env_hold_ ? env_hold_ : *env_source_; }
  void fail_with_exception(const char* what);
  void require_entries() const;
  void maybe_finish();
  void hand_to_writer(std::string bytes, bool state_changed, bool writes);
  void apply_effects();
  void finish(bool reply);

  activation_actor* self_;
  const envelope* env_ = nullptr;             // alive while the turn is open: see shared_env()
  const envelope_ptr* env_source_ = nullptr;  // the handled message's; only in the first step
  envelope_ptr env_hold_;                     // set once the turn must own the envelope
  uint64_t started_ = 0;                      // fast_clock ticks
  uint64_t base_version_ = 0;
  std::string base_bytes_;            // reentrant types only
  std::unique_ptr<Message> working_;  // allocated once, reused by later turns
  bool working_valid_ = false;        // working_ holds this turn's copy
  bool in_place_ = false;             // this turn wrote the committed message itself
  int outstanding_asks_ = 0;
  bool asked_ = false;  // the turn asked another actor: it may have had effects there
  bool finished_ = false;
  std::optional<call_result> result_;
  std::vector<std::pair<actor_id, message_ptr>> tells_;
  std::vector<std::pair<std::string, milliseconds>> timers_;
  std::vector<reminder_change> reminder_changes_;
  std::vector<entry_change> entry_changes_;
};

void turn::require_entries() const {
  const auto& type = *self_->state.type;
  if (!type.keeps_entries)
    throw std::logic_error("actor type '" + type.name +
                           "' keeps no entries: register it with_entries()");
}

std::optional<std::string_view> turn::entry_bytes(std::string_view name) {
  require_entries();
  // This turn's latest change of the name wins over what is committed.
  for (auto it = entry_changes_.rbegin(); it != entry_changes_.rend(); ++it)
    if (it->name == name)
      return it->bytes ? std::optional<std::string_view>{*it->bytes} : std::nullopt;
  const auto& committed = self_->state.entries;
  auto it = committed.find(std::string{name});
  if (it == committed.end()) return std::nullopt;
  return std::string_view{it->second};
}

void turn::for_each_entry(const std::function<void(const std::string&, std::string_view)>& f) {
  require_entries();
  const auto& committed = self_->state.entries;
  if (entry_changes_.empty()) {
    std::vector<const std::pair<const std::string, std::string>*> sorted;
    sorted.reserve(committed.size());
    for (const auto& e : committed) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* e : sorted) f(e->first, e->second);
    return;
  }
  std::map<std::string, std::string_view> merged;
  for (const auto& [name, bytes] : committed) merged.emplace(name, bytes);
  for (const auto& change : entry_changes_) {
    if (change.bytes)
      merged[change.name] = *change.bytes;
    else
      merged.erase(change.name);
  }
  for (const auto& [name, bytes] : merged) f(name, bytes);
}

void turn::fail_with_exception(const char* what) {
  auto text = "handler of " + to_string(self()) + " threw";
  if (what) text += std::string{": "} + what;
  result_ = make_error(errc::app_error, std::move(text));
}

void turn::ask_message(const actor_id& target, message_ptr request,
                       std::function<void(call_result)> then) {
  auto& st = self_->state;
  auto deadline = env_->reply ? env_->reply->deadline()
                              : std::chrono::steady_clock::now() + st.svc->default_timeout;
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
      env_->reply);
}

void turn::maybe_finish() {
  if (finished_ || outstanding_asks_ > 0) return;
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
  const bool writes =
      *result_ && (state_changed || !reminder_changes_.empty() || !entry_changes_.empty());
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
  hand_to_writer(std::move(bytes), state_changed, writes);
  finish(false);
}

// A turn's commit on its way to the store writer, carrying what the turn may release only
// once the commit is durable: the reply, tells, timers and reminder schedule changes.
// Built on the activation's thread; done() runs once, on a CAF worker after the sync.
class pipelined_commit final : public turn_commit {
 public:
  envelope_ptr env;
  call_result result{make_error(errc::app_error, "no result")};
  std::vector<std::pair<actor_id, message_ptr>> tells;
  std::vector<std::pair<std::string, milliseconds>> timers;
  std::vector<reminder_change> reminder_changes;
  actor_id id;
  caf::actor activation;
  node_services* svc = nullptr;
  std::shared_ptr<std::atomic<uint32_t>> unsettled;
  uint64_t generation = 0;
  bool asked = false;  // the turn asked others, whose turns may have committed

  void done(caf::error failure) override {
    if (failure) {
      // Also a turn that failed by itself: its answer was computed on state that is lost.
      // A conflict or a fenced writer wrote nothing, and says so, unless the turn asked
      // others; anything else may have been written.
      auto code = code_of(failure);
      if (code != errc::conflict && code != errc::unavailable) code = errc::app_error;
      if (asked && code != errc::app_error) code = errc::unknown_outcome;
      result = make_error(code, "commit of " + to_string(id) + " failed: " + message_of(failure));
      caf::anon_send(activation, reload_atom::value, generation);
    } else if (result) {
      release_effects();
    }
    if (env->reply) env->reply->complete(std::move(result));
    unsettled->fetch_sub(1, std::memory_order_acq_rel);
  }

 private:
  void release_effects() {
    for (auto& change : reminder_changes) {
      if (change.record)
        caf::anon_send(svc->reminders, upsert_atom::value, id, change.name,
                       change.record->due_ms());
      else
        caf::anon_send(svc->reminders, remove_atom::value, id, change.name);
    }
    for (auto& [target, message] : tells)
      svc->router->send(make_tell(target, std::move(message), env->trace, id));
    for (auto& [name, delay] : timers)
      caf::delayed_anon_send(activation, delay, timer_atom::value, std::move(name));
  }
};

// The activation goes on with its next turn at once, on the state this turn wrote; the
// writer releases the reply once the commit is durable. Commits of one activation settle
// in order, and each one checks the version the previous one wrote, so when one fails
// every later one fails too and the activation reloads what is durable.
void turn::hand_to_writer(std::string bytes, bool state_changed, bool writes) {
  auto& st = self_->state;
  auto req = std::make_shared<pipelined_commit>();
  req->asked = asked_;
  if (st.committed) {
    req->state_key = state_key(st.id);
    req->expected_version = st.version;
    // Every turn that writes writes the state record at the next version, also one that
    // changed only reminders or entries: a turn pipelined behind it expects that version,
    // so if this commit fails, that one fails too instead of landing on what was lost.
    req->write_state = writes;
    if (writes) req->state_bytes = state_changed ? bytes : st.committed_bytes;
  }
  if (writes) {
    for (auto& change : reminder_changes_) {
      if (change.record) {
        req->side_ops.push_back(
            {reminder_key(st.id, change.name), change.record->SerializeAsString()});
        st.reminders[change.name] = *change.record;
      } else {
        req->side_ops.push_back({reminder_key(st.id, change.name), {}, true});
        st.reminders.erase(change.name);
      }
    }
    for (auto& change : entry_changes_) {
      auto key = entry_key(st.id, change.name);
      if (change.bytes) {
        req->side_ops.push_back({std::move(key), *change.bytes});
        st.entries.insert_or_assign(std::move(change.name), std::move(*change.bytes));
      } else {
        req->side_ops.push_back({std::move(key), {}, true});
        st.entries.erase(change.name);
      }
    }
    req->reminder_changes = std::move(reminder_changes_);
  }
  // A successful turn's tells and timers leave once its commit, or the one it waited
  // behind, is durable, whether or not it wrote (done() releases nothing of a failed turn).
  req->tells = std::move(tells_);
  req->timers = std::move(timers_);
  if (state_changed) {
    // The old committed message becomes the next turn's working buffer.
    if (!in_place_) std::swap(st.committed, working_);
    working_valid_ = false;
    st.committed_bytes = std::move(bytes);
  }
  if (writes && st.committed) ++st.version;
  if (!st.unsettled) st.unsettled = std::make_shared<std::atomic<uint32_t>>(0);
  st.unsettled->fetch_add(1, std::memory_order_acq_rel);
  req->env = shared_env();
  req->result = *result_;
  req->id = st.id;
  req->activation = caf::actor_cast<caf::actor>(self_);
  req->svc = st.svc;
  req->unsettled = st.unsettled;
  req->generation = st.generation;
  self_->send(st.svc->store_writer, commit_atom::value, turn_commit_ptr{std::move(req)});
}

// Effects of a turn that wrote nothing, released at once.
void turn::apply_effects() {
  auto& st = self_->state;
  for (auto& [target, message] : tells_)
    st.svc->router->send(make_tell(target, std::move(message), env_->trace, st.id),
                         self_->context());
  for (auto& [name, delay] : timers_)
    self_->delayed_send(self_, delay, timer_atom::value, std::move(name));
}

void turn::finish(bool reply) {
  finished_ = true;
  auto& st = self_->state;
  auto& metrics = *st.svc->metrics;
  auto end = fast_clock::ticks();
  // A turn that asked may end on another core; invariant TSCs agree, but never go negative.
  auto elapsed = fast_clock::to_duration(end > started_ ? end - started_ : 0);
  metrics.turn_seconds.observe(std::chrono::duration<double>(elapsed).count());
  const bool ok = result_ && *result_;
  if (!ok) metrics.turn_failures.add();
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
  }
  if (!ok)
    st.svc->log->debug("turn {} {} trace={} failed: {}", to_string(st.id), env_->message_type,
                       env_->trace.to_hex(), message_of(result_->error()));
  if (reply && env_->reply) env_->reply->complete(std::move(*result_), self_->context());
  --st.open_turns;
  mark_active(st);
  if (st.open_turns == 0 && holds_nothing(st)) schedule_idle_check(self_, empty_idle_timeout);
  // Finished: no continuation will touch this object again. The envelope is released now,
  // not when the object is reused; the object is recycled by whoever ran the last step.
  env_hold_.reset();
}

bool holds_nothing(const activation_state& st) {
  return st.committed && st.version == 0 && st.reminders.empty() && st.entries.empty() &&
         !st.armed_timer && !st.load_error && !st.has_unsettled();
}

void mark_active(activation_state& st) {
  st.last_active = fast_clock::coarse_now();
  st.idle_since->store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(st.last_active.time_since_epoch())
          .count(),
      std::memory_order_relaxed);
}

// Idle checks come from the node's sweeper every half idle timeout; an activation whose
// state cannot be loaded, or that holds nothing, asks for its own, sooner.
void schedule_idle_check(activation_actor* self, milliseconds delay) {
  auto& st = self->state;
  if (st.idle_scheduled || st.svc->idle_timeout.count() <= 0) return;
  st.idle_scheduled = true;
  self->delayed_send(self, delay, idle_atom::value, std::min(delay, st.svc->idle_timeout));
}

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

void start_turn(activation_actor* self, const envelope_ptr& env) {
  auto& st = self->state;
  auto now = fast_clock::coarse_now();  // deadlines are swept at 10 ms anyway
  if (env->reply) {
    if (env->reply->done()) return;  // timed out while queued: never run it
    if (env->reply->deadline() <= now) {
      env->reply->complete(make_error(
          errc::timeout, "deadline passed before " + to_string(st.id) + " could start the turn"));
      return;
    }
  }
  if (st.svc->fence && !st.svc->fence->is_open()) {
    if (env->reply)
      env->reply->complete(
          make_error(errc::unavailable, "node is fenced, " + to_string(st.id) +
                                            " starts no turn: " + st.svc->fence->why_closed()));
    return;
  }
  if (st.load_error) {
    if (env->reply)
      env->reply->complete(make_error(
          errc::unavailable,
          "state of " + to_string(st.id) + " cannot be loaded: " + message_of(st.load_error)));
    if (st.load_error_lasts) {
      mark_active(st);
      return;
    }
    // Passivates at the next idle check, so a later activation retries the load.
    st.last_active = std::chrono::steady_clock::time_point{};
    schedule_idle_check(self, milliseconds{100});
    return;
  }
  ++st.open_turns;
  if (env->reply) env->reply->mark_started();
  auto t = acquire_turn(self, env, fast_clock::ticks());
  turn& tr = *t;
  if (env->message_type == reminder_message) {
    const auto& fired = static_cast<const ReminderFired&>(*env->payload);
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
    return;
  }
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

// Passivates if `idle_long_enough`, no turn is open and no commit is settling.
void leave_if_idle(activation_actor* self, bool idle_long_enough) {
  auto& st = self->state;
  auto stay = [self] {
    auto& st = self->state;
    if (st.load_error && !st.load_error_lasts)
      schedule_idle_check(self, milliseconds{100});
    else if (st.open_turns == 0 && holds_nothing(st))
      schedule_idle_check(self, empty_idle_timeout);
  };
  // A commit still settling keeps the activation: a new one would load older state.
  if (st.open_turns > 0 || st.has_unsettled() || !idle_long_enough) return stay();
  bool removed = st.svc->router->try_passivate(st.id, self->address(),
                                               [self] { return self->mailbox().empty(); });
  if (!removed) return stay();
  st.svc->metrics->passivations.add();
  self->quit();
}

// Passivates if no turn ran for `max_idle` (the idle timeout; less for one that holds
// nothing).
void on_idle(activation_actor* self, milliseconds max_idle) {
  auto& st = self->state;
  st.idle_scheduled = false;
  if (holds_nothing(st)) max_idle = std::min(max_idle, empty_idle_timeout);
  leave_if_idle(self, fast_clock::coarse_now() - st.last_active >= max_idle);
}

// `bytes` as lowercase hex: how a storage key (binary, with NULs) goes into a log line.
std::string hex_of(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

void load_state(activation_actor* self, const load_result& loaded) {
  auto& st = self->state;
  st.load_error = caf::error{};
  st.load_error_lasts = false;
  st.committed.reset(st.type->state_prototype->New());
  if (!st.committed->ParseFromString(loaded.state_bytes)) {
    // Its reminders and every call to it fail until the record is repaired; nothing but this
    // actor is affected. Said once per activation, with what an operator can do.
    const auto& type_name = st.committed->GetDescriptor()->full_name();
    st.load_error =
        make_error(errc::app_error, fmt::format("its stored state (version {}) does not parse "
                                                "as {}; the node's log has the record's key "
                                                "(docs/operations.md, \"Unreadable state\")",
                                                loaded.version, type_name));
    st.load_error_lasts = true;
    st.svc->log->error(
        "the state of {} (version {}, {} bytes) does not parse as {}: every call to it "
        "answers 503 and its reminders fail until the record is restored or deleted with the "
        "node stopped; state key (hex) {}; see docs/operations.md, \"Unreadable state\"",
        to_string(st.id), loaded.version, loaded.state_bytes.size(), type_name,
        hex_of(state_key(st.id)));
    return;
  }
  st.version = loaded.version;
  st.committed_bytes = serialize_deterministic(*st.committed);
  st.reminders.clear();
  for (const auto& [key, value] : loaded.reminders) {
    ReminderRecord rec;
    if (rec.ParseFromString(value)) st.reminders[rec.name()] = std::move(rec);
  }
  st.entries.clear();
  for (const auto& [name, bytes] : loaded.entries) st.entries.emplace(name, bytes);
}

caf::behavior activation(activation_actor* self, node_services* svc, actor_id id,
                         const actor_type_info* type, call_router::idle_since_ptr idle_since) {
  auto& st = self->state;
  st.svc = svc;
  st.type = type;
  st.id = std::move(id);
  st.idle_since = std::move(idle_since);
  st.last_active = fast_clock::coarse_now();
  svc->metrics->activations_started.add();
  svc->metrics->activations.add(1);
  auto* metrics = svc->metrics;
  auto* router = svc->router;
  // Also covers deaths other than passivation (a crash in Keel's own code): the id must
  // not keep pointing at a dead activation.
  self->attach_functor([metrics, router, id = st.id, addr = self->address()] {
    router->forget(id, addr);
    metrics->activations.add(-1);
  });
  if (!type->stateless()) {
    // Awaited: no turn starts before the state is loaded.
    self->request(svc->reader_for(st.id), caf::infinite, load_atom::value, st.id,
                  type->keeps_entries)
        .await([self](const load_result_ptr& loaded) { load_state(self, *loaded); },
               [self](caf::error& err) { self->state.load_error = std::move(err); });
  }
  return {
      [self](const envelope_ptr& env) { start_turn(self, env); },
      [self](timer_atom, std::string& name) {
        auto& st = self->state;
        if (!st.type->on_timer) return;
        auto env = std::make_shared<envelope>();
        env->target = st.id;
        env->message_type = timer_message;
        env->caller = "timer";
        ++st.open_turns;
        // Outlives the first step (the turn only borrows it until then); of the exact type,
        // so no temporary conversion is what the turn borrows.
        envelope_ptr timer_env = std::move(env);
        auto t = acquire_turn(self, timer_env, fast_clock::ticks());
        turn& tr = *t;
        run_first_step(std::move(t), [&] {
          st.type->on_timer(name, tr);
          tr.reply(keel::runtime::Ack{});
        });
      },
      [self](idle_atom, milliseconds max_idle) { on_idle(self, max_idle); },
      // The node nears its activation limit: leave unless a turn ended since the router saw
      // this activation idle since `seen`.
      [self](evict_atom, int64_t seen) {
        leave_if_idle(self, self->state.idle_since->load(std::memory_order_relaxed) <= seen);
      },
      // The partition is being handed off and this activation already left the directory:
      // quit once every turn has finished and every commit is durable.
      [self](drain_atom) {
        auto& st = self->state;
        if (st.open_turns > 0 || st.has_unsettled())
          return self->delayed_send(self, milliseconds{1}, drain_atom::value);
        self->quit();
      },
      [self](reload_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.generation) return;  // an earlier failure already reloaded
        ++st.generation;
        if (st.type->stateless()) return;
        st.svc->log->warn("{}: a commit failed; reloading the durable state", to_string(st.id));
        // Awaited: no turn starts on the state that was lost.
        self->request(st.svc->store_writer, caf::infinite, reload_atom::value, st.id,
                      st.type->keeps_entries)
            .await([self](const load_result_ptr& loaded) { load_state(self, *loaded); },
                   [self](caf::error& err) { self->state.load_error = std::move(err); });
      },
  };
}

}  // namespace

caf::actor spawn_activation(node_services& services, const actor_id& id,
                            const actor_type_info& type, call_router::idle_since_ptr idle_since) {
  return services.system->spawn(activation, &services, id, &type, std::move(idle_since));
}

}  // namespace keel::detail
