#include "keel/runtime/detail/commit_release.hpp"

#include <deque>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/errc.hpp"

namespace keel::detail {

namespace {

// One batch the releaser holds, in commit order.
struct held_batch {
  uint64_t number = 0;  // 0: its writes went to no replicator
  settled_turns_ptr turns;
  bool acknowledged = false;  // the replication outcome is in (or none is needed)
  caf::error outcome;         // the replication failure, if any
};

struct releaser_state {
  std::deque<held_batch> held;
  // Outcomes that came before their batch's local write ended (replication runs in
  // parallel with the sync, and a replicator may fail a batch before it returns).
  std::unordered_map<uint64_t, caf::error> early;
  bool stopping = false;
};

using releaser_actor = caf::stateful_actor<releaser_state>;

void release(settled_turns& turns, const caf::error& outcome) {
  caf::error unconfirmed;
  if (outcome)
    unconfirmed =
        make_error(errc::unknown_outcome,
                   "written here, but the replicas did not acknowledge: " + message_of(outcome));
  for (auto& [turn, failure] : turns) {
    if (failure)
      turn->done(std::move(failure));
    else
      turn->done(unconfirmed);
  }
}

void release_ready(releaser_actor* self) {
  auto& held = self->state.held;
  while (!held.empty() && held.front().acknowledged) {
    release(*held.front().turns, held.front().outcome);
    held.pop_front();
  }
  if (self->state.stopping && held.empty()) self->quit();
}

// The writer stops: what is still held waited replica_wait_at_stop for its replicas.
void give_up(releaser_actor* self) {
  auto stopping = make_error(errc::unknown_outcome,
                             "node stopping while replicas had not acknowledged the commit");
  for (auto& batch : self->state.held) {
    if (!batch.acknowledged) batch.outcome = stopping;
    batch.acknowledged = true;
  }
  release_ready(self);
}

caf::behavior commit_releaser(releaser_actor* self) {
  return {
      [self](settle_atom, const settled_turns_ptr& turns) {
        auto& held = self->state.held;
        if (held.empty()) return release(*turns, {});  // no gate, or nothing held: at once
        held.push_back({0, turns, true, {}});
      },
      [self](settle_atom, uint64_t number, const settled_turns_ptr& turns) {
        auto& st = self->state;
        held_batch batch{number, turns, false, {}};
        if (auto it = st.early.find(number); it != st.early.end()) {
          batch.acknowledged = true;
          batch.outcome = std::move(it->second);
          st.early.erase(it);
        }
        st.held.push_back(std::move(batch));
        release_ready(self);
      },
      [self](replicated_atom, uint64_t number, caf::error& outcome) {
        auto& st = self->state;
        // Few batches are held at once (one per sync in flight): a scan is cheap.
        for (auto& batch : st.held) {
          if (batch.number != number) continue;
          batch.acknowledged = true;
          batch.outcome = std::move(outcome);
          return release_ready(self);
        }
        st.early.emplace(number, std::move(outcome));
      },
      [self](drain_atom) {
        self->state.stopping = true;
        if (self->state.held.empty()) return self->quit();
        self->delayed_send(self, replica_wait_at_stop, give_up_atom::value);
      },
      [self](give_up_atom) { give_up(self); },
  };
}

// Answers a commit request as the releaser, in its batch's turn.
class promised_commit final : public turn_commit {
 public:
  promised_commit(caf::response_promise promise, uint64_t version)
      : promise_(std::move(promise)), version_(version) {}

  void done(caf::error failure) override {
    if (failure)
      promise_.deliver(std::move(failure));
    else
      promise_.deliver(version_);
  }

 private:
  caf::response_promise promise_;
  uint64_t version_;
};

}  // namespace

caf::actor spawn_commit_releaser(caf::actor_system& sys) {
  return sys.spawn(commit_releaser);
}

turn_commit_ptr answer_on_release(caf::response_promise promise, uint64_t version) {
  return std::make_shared<promised_commit>(std::move(promise), version);
}

}  // namespace keel::detail
