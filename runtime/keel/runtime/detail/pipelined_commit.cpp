#include "keel/runtime/detail/pipelined_commit.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

namespace {

// A turn's commit on its way to the store writer, carrying what the turn may release only
// once the commit is durable: the reply, tells, timers and reminder schedule changes.
// Built on the activation's thread; done() runs once, on a CAF worker after the sync.
class pipelined_commit final : public turn_commit {
 public:
  envelope_ptr env;
  call_result result{make_error(errc::app_error, "no result")};
  std::vector<std::pair<actor_id, message_ptr>> tells;
  std::vector<std::pair<std::string, std::chrono::milliseconds>> timers;
  std::vector<reminder_change> reminder_changes;
  actor_id id;
  caf::actor activation;
  node_services* svc = nullptr;
  std::shared_ptr<std::atomic<uint32_t>> unsettled;
  uint64_t generation = 0;
  bool asked = false;  // the turn asked others, whose turns may have committed
  span_id span;        // the turn's: the parent of the turns its tells start

  void done(caf::error failure) override {
    if (failure) {
      // Also a turn that failed by itself: its answer was computed on state that is lost.
      // A conflict or a fenced writer wrote nothing, and says so, unless the turn asked
      // others; a commit its replicas did not acknowledge is written here and may be lost
      // at a failover (unknown_outcome); anything else may have been written.
      auto code = code_of(failure);
      if (code != errc::conflict && code != errc::unavailable && code != errc::unknown_outcome)
        code = errc::app_error;
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
      svc->router->send(make_tell(target, std::move(message), env->trace, span, id));
    for (auto& [name, delay] : timers)
      caf::delayed_anon_send(activation, delay, timer_atom::value, std::move(name));
  }
};

// Puts the turn's reminder and entry changes into `req` as side records, and into the
// activation's state, where the next turn reads them.
void add_side_records(activation_state& st, turn_effects& effects, pipelined_commit& req) {
  for (auto& change : effects.reminder_changes) {
    if (change.record) {
      req.side_ops.push_back(
          {reminder_key(st.id, change.name), change.record->SerializeAsString()});
      st.reminders[change.name] = *change.record;
    } else {
      req.side_ops.push_back({reminder_key(st.id, change.name), {}, true});
      st.reminders.erase(change.name);
    }
  }
  for (auto& change : effects.entry_changes) {
    auto key = entry_key(st.id, change.name);
    if (change.bytes) {
      req.side_ops.push_back({std::move(key), *change.bytes});
      st.entries.insert_or_assign(std::move(change.name), std::move(*change.bytes));
    } else {
      req.side_ops.push_back({std::move(key), {}, true});
      st.entries.erase(change.name);
    }
  }
  req.reminder_changes = std::move(effects.reminder_changes);
}

}  // namespace

void hand_to_writer(activation_actor* self, finished_turn done) {
  auto& st = self->state;
  auto req = std::make_shared<pipelined_commit>();
  req->asked = done.asked;
  req->span = done.span;
  if (st.committed) {
    req->state_key = state_key(st.id);
    req->expected_version = st.version;
    // Every turn that writes writes the state record at the next version, also one that
    // changed only reminders or entries: a turn pipelined behind it expects that version,
    // so if this commit fails, that one fails too instead of landing on what was lost.
    req->write_state = done.writes;
    if (done.writes) req->state_bytes = done.state_changed ? done.bytes : st.committed_bytes;
  }
  if (done.writes) add_side_records(st, done.effects, *req);
  // A successful turn's tells and timers leave once its commit, or the one it waited
  // behind, is durable, whether or not it wrote (done() releases nothing of a failed turn).
  req->tells = std::move(done.effects.tells);
  req->timers = std::move(done.effects.timers);
  if (!st.unsettled) st.unsettled = std::make_shared<std::atomic<uint32_t>>(0);
  st.unsettled->fetch_add(1, std::memory_order_acq_rel);
  req->env = std::move(done.env);
  req->result = done.result;
  req->id = st.id;
  req->activation = caf::actor_cast<caf::actor>(self);
  req->svc = st.svc;
  req->unsettled = st.unsettled;
  req->generation = st.generation;
  self->send(st.svc->store_writer, commit_atom::value, turn_commit_ptr{std::move(req)});
}

}  // namespace keel::detail
