#include "keel/runtime/detail/activation.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/activation_state.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/turn.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/node_stats.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

using keel::runtime::ReminderRecord;
using std::chrono::milliseconds;

void schedule_idle_check(activation_actor* self, milliseconds delay) {
  auto& st = self->state;
  if (st.idle_scheduled || st.svc->idle_timeout.count() <= 0) return;
  st.idle_scheduled = true;
  self->delayed_send(self, delay, idle_atom::value, std::min(delay, st.svc->idle_timeout));
}

namespace {

// Passivates if `idle_long_enough`, no turn is open and no commit is settling.
void leave_if_idle(activation_actor* self, bool idle_long_enough) {
  auto& st = self->state;
  auto stay = [self] {
    auto& st = self->state;
    if (st.load_error && !st.load_error_lasts)
      schedule_idle_check(self, milliseconds{100});
    else if (st.open_turns == 0 && st.holds_nothing())
      schedule_idle_check(self, empty_idle_timeout);
  };
  // A commit still settling keeps the activation: a new one would load older state.
  if (st.open_turns > 0 || st.has_unsettled() || !idle_long_enough) return stay();
  bool removed = st.svc->router->activations().try_passivate(
      st.id, self->address(), [self] { return self->mailbox().empty(); });
  if (!removed) return stay();
  st.svc->metrics->passivations.add();
  self->quit();
}

// Passivates if no turn ran for `max_idle` (the idle timeout; less for one that holds
// nothing).
void on_idle(activation_actor* self, milliseconds max_idle) {
  auto& st = self->state;
  st.idle_scheduled = false;
  if (st.holds_nothing()) max_idle = std::min(max_idle, empty_idle_timeout);
  leave_if_idle(self, st.svc->monotonic->now() - st.last_active >= max_idle);
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

// A commit of generation `generation` failed: reloads the durable state, once per chain of
// failed commits.
void reload_state(activation_actor* self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.generation) return;  // an earlier failure already reloaded
  ++st.generation;
  if (st.type->stateless()) return;
  st.svc->log->warn("{}: a commit failed; reloading the durable state", to_string(st.id));
  // Awaited: no turn starts on the state that was lost. The reload goes through the
  // writer, so it comes after every commit sent before it.
  self->request(st.svc->store_writer, caf::infinite, reload_atom::value, st.id,
                st.type->keeps_entries)
      .await([self](const load_result_ptr& loaded) { load_state(self, *loaded); },
             [self](caf::error& err) { self->state.load_error = std::move(err); });
}

// Sets up the state of a new activation and starts loading what is stored.
void start_activation(activation_actor* self, node_services* svc, actor_id id,
                      const actor_type_info* type, call_router::idle_since_ptr idle_since) {
  auto& st = self->state;
  st.svc = svc;
  st.type = type;
  st.id = std::move(id);
  st.idle_since = std::move(idle_since);
  st.last_active = svc->monotonic->now();
  st.type_stats = &svc->stats->of(*type);
  st.id_hash = std::hash<actor_id>{}(st.id);
  svc->metrics->activations_started.add();
  svc->metrics->activations.add(1);
  st.type_stats->activations.add(1);
  auto* metrics = svc->metrics;
  auto* router = svc->router;
  // Also covers deaths other than passivation (a crash in Keel's own code): the id must
  // not keep pointing at a dead activation.
  self->attach_functor(
      [metrics, router, type_stats = st.type_stats, id = st.id, addr = self->address()] {
        router->activations().forget(id, addr);
        metrics->activations.add(-1);
        type_stats->activations.add(-1);
      });
  if (!type->stateless()) {
    // Awaited: no turn starts before the state is loaded.
    self->request(svc->reader_for(st.id), caf::infinite, load_atom::value, st.id,
                  type->keeps_entries)
        .await([self](const load_result_ptr& loaded) { load_state(self, *loaded); },
               [self](caf::error& err) { self->state.load_error = std::move(err); });
  }
}

caf::behavior activation(activation_actor* self, node_services* svc, actor_id id,
                         const actor_type_info* type, call_router::idle_since_ptr idle_since) {
  start_activation(self, svc, std::move(id), type, std::move(idle_since));
  return {
      [self](const envelope_ptr& env) { start_turn(self, env); },
      [self](timer_atom, std::string& name) { start_timer_turn(self, name); },
      [self](idle_atom, milliseconds max_idle) { on_idle(self, max_idle); },
      // The node nears its activation limit: leave unless a turn ended since the router saw
      // this activation idle since `seen`.
      [self](evict_atom, int64_t seen) {
        leave_if_idle(self, self->state.idle_since->load(std::memory_order_relaxed) <= seen);
      },
      // The partition is being handed off and this activation already left the activation table:
      // quit once every turn has finished and every commit is durable.
      [self](drain_atom) {
        auto& st = self->state;
        if (st.open_turns > 0 || st.has_unsettled())
          return self->delayed_send(self, milliseconds{1}, drain_atom::value);
        self->quit();
      },
      [self](reload_atom, uint64_t generation) { reload_state(self, generation); },
  };
}

}  // namespace

caf::actor spawn_activation(node_services& services, const actor_id& id,
                            const actor_type_info& type, call_router::idle_since_ptr idle_since) {
  return services.system->spawn(activation, &services, id, &type, std::move(idle_since));
}

}  // namespace keel::detail
