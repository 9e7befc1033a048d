#include "keel/runtime/detail/reminder_service.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

namespace {

using reminder_key_t = std::pair<actor_id, std::string>;

// Firings delivered at once at most: a restart after a long stop finds every reminder due,
// and firing them all together activated every actor at once (89k firings in 5 s doubled
// the node's memory) and filled this actor's mailbox with their answers.
constexpr size_t max_in_flight = 1024;

// The due-time index holds a pointer to its entry's key in `due_by_key` (map nodes never
// move) rather than a second copy of actor id and name: it halves the memory per reminder.
struct due_entry {
  int64_t due_ms;
  const reminder_key_t* key;
  friend bool operator<(const due_entry& a, const due_entry& b) {
    if (a.due_ms != b.due_ms) return a.due_ms < b.due_ms;
    return std::less<const reminder_key_t*>{}(a.key, b.key);
  }
};

// Partitions loaded per store read at start: firing begins after the first chunk instead
// of after the whole store was read, and the reader serves activations between chunks.
constexpr uint32_t partitions_per_load = 64;
constexpr int max_load_retries = 4;

struct reminder_state {
  node_services* svc = nullptr;
  std::map<reminder_key_t, int64_t> due_by_key;  // every reminder this node owns
  // The reminders waiting for their due time: all but those in flight (being delivered,
  // or waiting out a backoff), so the next one to arm for is always the first.
  std::set<due_entry> by_due;
  // While the start-up load runs (next_chunk < partition_count): the reminders of
  // partitions not read yet that activations changed meanwhile. Their change is at least
  // as new as what a chunk will read from the store, so it wins.
  uint32_t next_chunk = 0;  // the first partition the load has not read
  std::set<reminder_key_t> changed_while_loading;
  std::set<uint32_t> dropped_while_loading;  // handed off: a chunk read before is stale
  // Bounded by max_in_flight: copies of the key are cheap here.
  std::set<reminder_key_t> in_flight;
  std::map<reminder_key_t, int64_t> backoff_ms;
  // The ticks pending: an immediate one (a reminder due already), and the delayed one armed
  // last, for this due time (-1: none). A delayed tick stays pending in CAF's clock when an
  // immediate one comes first; arming another for the same time would cost the clock thread
  // a wake-up per due-now reminder.
  bool immediate_tick = false;
  int64_t delayed_tick_ms = -1;
  // Firings the stopping node refused: they stay due in the store and fire after the next
  // start. Reported once, when this actor ends.
  std::shared_ptr<size_t> refused_while_stopping = std::make_shared<size_t>(0);
};

using reminder_actor = caf::stateful_actor<reminder_state>;

void schedule(reminder_state& st, std::map<reminder_key_t, int64_t>::const_iterator it) {
  st.by_due.insert({it->second, &it->first});
}

void unschedule(reminder_state& st, std::map<reminder_key_t, int64_t>::const_iterator it) {
  st.by_due.erase({it->second, &it->first});
}

void erase_entry(reminder_state& st, const reminder_key_t& key) {
  auto it = st.due_by_key.find(key);
  if (it == st.due_by_key.end()) return;
  unschedule(st, it);
  st.due_by_key.erase(it);
  st.svc->metrics->reminders.add(-1);
}

// A reminder no longer in flight waits for its (possibly changed) due time again.
void land(reminder_state& st, const reminder_key_t& key) {
  // Not in flight any more: its partition was dropped meanwhile, and a rescan (a handoff
  // aborted) already scheduled what is stored; scheduling it again would fire it twice.
  if (st.in_flight.erase(key) == 0) return;
  if (auto it = st.due_by_key.find(key); it != st.due_by_key.end()) schedule(st, it);
}

void arm(reminder_actor* self) {
  auto& st = self->state;
  // Full: the next firing that lands arms again.
  if (st.by_due.empty() || st.in_flight.size() >= max_in_flight) return;
  auto due = st.by_due.begin()->due_ms;
  auto delay = due - st.svc->clock->now_ms();
  // Due already (an outbox's "process now"): a plain message, as each delayed one costs a
  // wake-up of CAF's clock thread.
  if (delay <= 0) {
    if (st.immediate_tick) return;
    st.immediate_tick = true;
    self->send(self, fire_atom::value, int64_t{-1});
    return;
  }
  if (st.delayed_tick_ms >= 0 && st.delayed_tick_ms <= due) return;
  st.delayed_tick_ms = due;
  self->delayed_send(self, std::chrono::milliseconds{delay}, fire_atom::value, due);
}

void set_entry(reminder_actor* self, const reminder_key_t& key, int64_t due_ms) {
  auto& st = self->state;
  erase_entry(st, key);
  auto it = st.due_by_key.emplace(key, due_ms).first;
  st.svc->metrics->reminders.add(1);
  // One in flight is scheduled again when its answer lands, at its due time by then.
  if (!st.in_flight.count(key)) schedule(st, it);
  arm(self);
}

void fire_due(reminder_actor* self) {
  auto& st = self->state;
  auto now = st.svc->clock->now_ms();
  std::vector<std::pair<int64_t, reminder_key_t>> due;
  auto room = max_in_flight - std::min(max_in_flight, st.in_flight.size());
  auto end = st.by_due.begin();
  for (; end != st.by_due.end() && end->due_ms <= now && due.size() < room; ++end)
    due.emplace_back(end->due_ms, *end->key);
  st.by_due.erase(st.by_due.begin(), end);
  for (auto& [when, key] : due) {
    st.in_flight.insert(key);
    auto fired = std::make_shared<keel::runtime::ReminderFired>();
    fired->set_name(key.second);
    fired->set_due_ms(when);
    caf::actor me = caf::actor_cast<caf::actor>(self);
    auto env = make_call(key.first, st.svc->monotonic->now() + st.svc->default_timeout,
                         [me, key = key, when = when](call_result result) {
                           auto code =
                               result ? uint8_t{0} : static_cast<uint8_t>(code_of(result.error()));
                           caf::anon_send(me, fired_atom::value, key.first, key.second, when, code,
                                          result ? std::string{} : message_of(result.error()));
                         });
    env->message_type = "$reminder";
    env->payload = fired;
    env->caller = "reminder";
    env->trace = trace_id::make();
    st.svc->router->send(std::move(env));
  }
  arm(self);
}

void note_change(reminder_state& st, const actor_id& id, const std::string& name) {
  // Once loaded, next_chunk is past every partition.
  if (id.partition() >= st.next_chunk) st.changed_while_loading.emplace(id, name);
}

// Schedules the reminders of `loaded` (records as stored: the key names the actor). A chunk
// of the start-up load skips what changed or left meanwhile; a partition's rescan (it came
// to this node) reads the store after every change it holds.
void schedule_loaded(reminder_actor* self, const load_result& loaded, bool startup_chunk) {
  for (const auto& [key, value] : loaded.reminders) {
    keel::runtime::ReminderRecord rec;
    // The key holds the actor id: partition(2) kind(1) type '\0' key '\0' name. Type
    // names have no NUL; the key is whatever lies between them and '\0' name.
    auto rest = std::string_view{key}.substr(3);
    auto type_end = rest.find('\0');
    if (!rec.ParseFromString(value) || type_end == rest.npos ||
        rest.size() < type_end + rec.name().size() + 2 ||
        !rest.ends_with(std::string{'\0'} + rec.name())) {
      self->state.svc->log->warn("skipping a corrupt reminder record");
      continue;
    }
    auto key_size = rest.size() - type_end - 1 - rec.name().size() - 1;
    actor_id id{std::string{rest.substr(0, type_end)},
                std::string{rest.substr(type_end + 1, key_size)}};
    reminder_key_t entry{std::move(id), rec.name()};
    if (startup_chunk && (self->state.changed_while_loading.count(entry) ||
                          self->state.dropped_while_loading.count(entry.first.partition())))
      continue;
    set_entry(self, entry, rec.due_ms());
  }
}

// Loads the stored reminders from partition `first` on, a chunk at a time, each scheduled
// (and firing, if due) before the next is read. A chunk the store cannot read is tried
// again after 1, 2, 4 and 8 s, then skipped: its reminders fire after the next start that
// reads them (an error log and keel_reminder_load_failures_total say so).
void load_from(reminder_actor* self, uint32_t first, int attempt = 0) {
  auto& st = self->state;
  st.next_chunk = first;
  std::erase_if(st.changed_while_loading,
                [first](const reminder_key_t& key) { return key.first.partition() < first; });
  if (first >= partition_count) {
    st.dropped_while_loading.clear();
    st.svc->log->info("loaded {} reminders", st.due_by_key.size());
    return;
  }
  self->request(st.svc->store_readers.front(), caf::infinite, scan_atom::value, first,
                partitions_per_load)
      .then(
          [self, first](const load_result_ptr& chunk) {
            schedule_loaded(self, *chunk, true);
            load_from(self, first + partitions_per_load);
          },
          [self, first, attempt](caf::error& err) {
            auto& st = self->state;
            auto last = std::min(partition_count, first + partitions_per_load) - 1;
            if (attempt < max_load_retries) {
              st.svc->log->error(
                  "cannot load the reminders of partitions {}-{}: {}; trying "
                  "again in {} s",
                  first, last, message_of(err), 1 << attempt);
              self->delayed_send(self, std::chrono::seconds{1 << attempt}, load_atom::value, first,
                                 attempt + 1);
              return;
            }
            st.svc->metrics->reminder_load_failures.add();
            st.svc->log->error(
                "cannot load the reminders of partitions {}-{}: {}; they fire "
                "after a start that reads them",
                first, last, message_of(err));
            load_from(self, first + partitions_per_load);
          });
}

// A partition handed to this node (or whose handoff was aborted): its reminders are in the
// store now.
void scan_partition(reminder_actor* self, uint32_t partition) {
  self->state.dropped_while_loading.erase(partition);
  self->request(self->state.svc->store_readers.front(), caf::infinite, scan_atom::value, partition)
      .await([self](const load_result_ptr& loaded) { schedule_loaded(self, *loaded, false); },
             [self, partition](caf::error& err) {
               self->state.svc->log->error("cannot load the reminders of partition {}: {}",
                                           partition, message_of(err));
             });
}

// A partition handed off: its reminders fire on the new owner from now on.
void drop_partition(reminder_state& st, uint32_t partition) {
  if (st.next_chunk < partition_count) {  // loading
    st.dropped_while_loading.insert(partition);
    std::erase_if(st.changed_while_loading, [partition](const reminder_key_t& key) {
      return key.first.partition() == partition;
    });
  }
  std::vector<reminder_key_t> gone;
  for (const auto& [key, due] : st.due_by_key)
    if (key.first.partition() == partition) gone.push_back(key);
  for (const auto& key : gone) {
    erase_entry(st, key);
    st.backoff_ms.erase(key);
    st.in_flight.erase(key);
  }
}

// A firing answered: done, superseded, or failed (retried after a growing backoff).
void on_fired(reminder_actor* self, reminder_key_t key, int64_t due_ms, uint8_t code,
              const std::string& error) {
  auto& st = self->state;
  auto it = st.due_by_key.find(key);
  if (it == st.due_by_key.end() || it->second != due_ms) {  // removed or rescheduled
    land(st, key);
    return arm(self);
  }
  if (error.empty()) {
    // Answered without a reschedule: a duplicate, or a one-shot whose removal came first.
    st.in_flight.erase(key);
    erase_entry(st, key);
    return arm(self);
  }
  if (errc_from_wire(code) == errc::unavailable && st.svc->router->stopping()) {
    // Stays in flight: nothing fires here any more, and the store still has it due.
    ++*st.refused_while_stopping;
    return;
  }
  auto& backoff = st.backoff_ms[key];
  backoff = backoff == 0 ? 500 : std::min<int64_t>(backoff * 2, 60000);
  st.svc->log->warn("reminder {} of {} failed ({}); retry in {} ms", key.second,
                    to_string(key.first), error, backoff);
  // The entry keeps its durable due time, so the actor still sees the original firing; it
  // stays in flight (not fired again) until the backoff has passed.
  self->delayed_send(self, std::chrono::milliseconds{backoff}, retry_atom::value, key.first,
                     key.second);
}

caf::behavior reminder_service(reminder_actor* self, node_services* svc) {
  self->state.svc = svc;
  // The state is gone when attached functors run: they keep their own references.
  self->attach_functor([refused = self->state.refused_while_stopping, log = svc->log] {
    if (*refused > 0)
      log->info(
          "{} reminder firings were refused as the node stopped; they are still due and fire "
          "after the next start",
          *refused);
  });
  load_from(self, 0);
  return {
      [self](load_atom, uint32_t first, int attempt) { load_from(self, first, attempt); },
      [self](upsert_atom, const actor_id& id, const std::string& name, int64_t due_ms) {
        note_change(self->state, id, name);
        self->state.backoff_ms.erase({id, name});
        set_entry(self, {id, name}, due_ms);
      },
      [self](remove_atom, const actor_id& id, const std::string& name) {
        note_change(self->state, id, name);
        erase_entry(self->state, {id, name});
        self->state.backoff_ms.erase({id, name});
      },
      [self](fire_atom, int64_t tick_ms) {
        auto& st = self->state;
        if (tick_ms < 0)
          st.immediate_tick = false;
        else if (tick_ms == st.delayed_tick_ms)
          st.delayed_tick_ms = -1;
        fire_due(self);
      },
      // A tick armed before the jump still waits out its real-time delay.
      [self](moved_atom) { fire_due(self); },
      [self](scan_atom, uint32_t partition) { scan_partition(self, partition); },
      [self](drop_atom, uint32_t partition) { drop_partition(self->state, partition); },
      [self](fired_atom, const actor_id& id, const std::string& name, int64_t due_ms, uint8_t code,
             const std::string& error) {
        on_fired(self, {id, name}, due_ms, code, error);
      },
      [self](retry_atom, const actor_id& id, const std::string& name) {
        land(self->state, {id, name});
        fire_due(self);
      },
  };
}

}  // namespace

caf::actor spawn_reminder_service(node_services& services) {
  return services.system->spawn(reminder_service, &services);
}

}  // namespace keel::detail
