#include "keel/runtime/detail/store_actors.hpp"

#include <chrono>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/commit_replicator.hpp"
#include "keel/runtime/detail/commit_release.hpp"
#include "keel/runtime/detail/version_cache.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/node_fence.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::detail {

namespace {

// A commit the writer has accepted or refused, answered after the next sync in arrival
// order: through the promise (a request) or through the turn's done().
struct waiting_commit {
  caf::response_promise promise;
  turn_commit_ptr turn;
  uint64_t version = 0;
  caf::error refused;
  bool writes = false;  // puts something in the batch (not only a version check)
  // The promise answers a commit request behind the output gate: the releaser delivers it.
  bool on_release = false;
  // Answers a replica's applied writes instead of the promise (partition_host).
  applied_fn_ptr applied;
};

struct writer_state {
  std::vector<store_write> batch;
  std::vector<waiting_commit> waiting;
  // Versions written by the open batch: a second write to one key in the same batch must
  // see the first, which LevelDB cannot show before the batch is applied.
  std::unordered_map<std::string, uint64_t> batch_versions;
  // Versions of recently committed or read keys. Every write of a partition's records goes
  // through this actor (turns, a handoff's replacement of a whole range, a replica's
  // applied writes), so an entry is authoritative and saves a LevelDB read per commit.
  version_cache known_versions{1 << 18};
  bool flush_scheduled = false;
  caf::actor releaser;
  std::shared_ptr<const node_fence> fence;
  std::function<void(const std::string&)> on_failure;
  bool failure_reported = false;
  // The output gate (null: none). Commit requests are answered by the releaser once one was
  // ever installed, since batches it gated may still be held there.
  commit_replicator_ptr replicator;
  bool gate_used = false;
  uint64_t last_gated_batch = 0;
  // [begin, end) of st.batch holding writes that are not a turn's (replace_range,
  // apply_replicated): they never go to the replicator.
  std::vector<std::pair<size_t, size_t>> unreplicated;
  std::vector<store_write> extra;  // the replicator's records for the open batch
};

using writer_actor = caf::stateful_actor<writer_state>;

caf::expected<uint64_t> stored_version(writer_state& st, state_store& store,
                                       const std::string& key) {
  if (auto it = st.batch_versions.find(key); it != st.batch_versions.end()) return it->second;
  if (auto known = st.known_versions.find(key)) return *known;
  auto value = store.get(key);
  if (!value) return value.error();
  uint64_t version = 0;
  if (*value) {
    std::string_view bytes;
    if (!decode_versioned(**value, version, bytes))
      return make_error(errc::app_error, "corrupt state record");
  }
  st.known_versions.put(key, version);
  return version;
}

// Hands the open batch's turn writes to the replicator, before the local write so that
// replication runs in parallel with the sync, and adds its records to the batch. Returns the
// batch's number, or 0 if it holds no turn writes (nothing to acknowledge).
uint64_t hand_to_replicator(writer_state& st) {
  const std::vector<store_write>* writes = &st.batch;
  std::vector<store_write> turn_writes;  // only when the batch also holds other writes
  if (!st.unreplicated.empty()) {
    size_t from = 0;
    for (auto [begin, end] : st.unreplicated) {
      turn_writes.insert(turn_writes.end(), st.batch.begin() + from, st.batch.begin() + begin);
      from = end;
    }
    turn_writes.insert(turn_writes.end(), st.batch.begin() + from, st.batch.end());
    writes = &turn_writes;
  }
  if (writes->empty()) return 0;
  auto number = ++st.last_gated_batch;
  st.extra.clear();
  st.replicator->replicate(*writes, st.extra, [releaser = st.releaser, number](caf::error outcome) {
    caf::anon_send(releaser, replicated_atom::value, number, std::move(outcome));
  });
  for (auto& write : st.extra) st.batch.push_back(std::move(write));
  st.extra.clear();
  return number;
}

// Answers every waiting commit with `err` (or its own refusal): requests outside the gate
// at once, turns (and gated requests) through the releaser, in commit order. `gated`: the
// batch's number if the replicator must acknowledge it first, else 0. replace_range and
// apply_replicated are answered on the local sync even then: their writes are no turn's,
// and a replica's acknowledgement that waited for its own node's replicas could wait in a
// cycle between two nodes.
void settle(writer_actor* self, const caf::error& err, uint64_t gated) {
  auto& st = self->state;
  auto settled = std::make_shared<settled_turns>();
  for (auto& w : st.waiting) {
    auto failure = w.refused ? std::move(w.refused) : err;
    if (w.turn)
      settled->emplace_back(std::move(w.turn), std::move(failure));
    else if (w.on_release)
      settled->emplace_back(answer_on_release(std::move(w.promise), w.version), std::move(failure));
    else if (w.applied)
      (*w.applied)(std::move(failure));
    else if (failure)
      w.promise.deliver(std::move(failure));
    else
      w.promise.deliver(w.version);
  }
  st.waiting.clear();
  // The turns' releases (replies turned into HTTP responses, tells, timers, reminder
  // schedule changes) run on a CAF worker: on this thread they would delay the next sync.
  // One releaser for every batch, so they happen in commit order: a reminder removed by
  // one turn and registered again by the next must reach the reminder service in that order.
  if (gated)
    self->send(st.releaser, settle_atom::value, gated, std::move(settled));
  else if (!settled->empty())
    self->send(st.releaser, settle_atom::value, std::move(settled));
}

void flush(writer_actor* self, state_store* store, runtime_metrics* metrics) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.waiting.empty()) return;
  auto start = std::chrono::steady_clock::now();
  caf::error err;
  uint64_t gated = 0;
  // The codes tell the callers what happened: a fenced node, or a store that refused the
  // write, wrote nothing (`unavailable`); a failed write may be on disk (`app_error`), and
  // the store takes no more writes after it (state_store::write).
  if (st.fence && !st.fence->is_open()) {
    err = make_error(errc::unavailable, "node is fenced: " + st.fence->why_closed());
  } else if (!st.batch.empty()) {
    if (st.replicator) gated = hand_to_replicator(st);
    err = store->write(st.batch);
    if (err && code_of(err) == errc::app_error && !st.failure_reported && st.on_failure) {
      st.failure_reported = true;
      st.on_failure(message_of(err) + "; the node takes no writes until it is restarted");
    }
  }
  metrics->commit_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics->commit_batches.add();
  metrics->commit_writes.add(st.waiting.size());
  if (!err) {
    // Turns that wrote, not those that only waited behind an unsettled commit.
    uint64_t durable = 0;
    for (const auto& w : st.waiting) durable += w.turn && w.writes && !w.refused;
    metrics->durable_turns.add(durable);
  }
  if (err) {
    // Nothing of the batch was applied: forget the versions it would have written, and those
    // it was checked against, since a later commit must see what is really stored.
    st.known_versions.clear();
  } else {
    // Also when the replicas fail the batch later: it is on the local disk.
    for (auto& [key, version] : st.batch_versions) st.known_versions.put(key, version);
  }
  st.batch.clear();
  st.batch_versions.clear();
  st.unreplicated.clear();
  settle(self, err, gated);
}

// `w` is answered at the next flush. The flush message queues behind every commit already
// in the mailbox, so one sync covers them all.
void wait_for_flush(writer_actor* self, waiting_commit w) {
  auto& st = self->state;
  st.waiting.push_back(std::move(w));
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// The partition whose records `req` writes; nullopt if it writes none (a version check).
std::optional<uint32_t> written_partition(const commit_request& req) {
  if (!req.state_key.empty() && req.write_state) return partition_of_key(req.state_key);
  if (!req.side_ops.empty()) return partition_of_key(req.side_ops.front().key);
  return std::nullopt;
}

// Adds `req` to the open batch, or records why it is refused; answered at the next flush.
void accept(writer_actor* self, state_store* store, const commit_request& req, waiting_commit w) {
  auto& st = self->state;
  if (st.replicator) {
    // Refused before anything of it is in the batch: the commit did not happen.
    if (auto partition = written_partition(req)) w.refused = st.replicator->admit(*partition);
    if (w.refused) return wait_for_flush(self, std::move(w));
  }
  if (!req.state_key.empty()) {
    auto current = stored_version(st, *store, req.state_key);
    if (!current) {
      w.refused = std::move(current.error());
    } else if (*current != req.expected_version) {
      w.refused = make_error(errc::conflict, "stale version: turn read version " +
                                                 std::to_string(req.expected_version) +
                                                 ", stored is " + std::to_string(*current));
    } else if (req.write_state) {
      w.writes = true;
      w.version = *current + 1;
      st.batch_versions[req.state_key] = w.version;
      st.batch.push_back({req.state_key, encode_versioned(w.version, req.state_bytes)});
    } else {
      w.version = *current;
    }
  }
  if (!w.refused) {
    for (const auto& op : req.side_ops) st.batch.push_back({op.key, op.value, op.erase});
    if (!req.side_ops.empty()) w.writes = true;
  }
  wait_for_flush(self, std::move(w));
}

// Applies `writes` to `partition`'s records in the open batch (a handoff's ingest, or a drop:
// the erases of its records come first; or what a replica received), and forgets the
// partition's cached versions, since they no longer say what is stored. The replicator
// never sees these writes: they are not this node's turns.
void replace(writer_actor* self, const std::vector<uint32_t>& partitions,
             std::vector<store_write>& writes, waiting_commit w) {
  auto& st = self->state;
  st.unreplicated.emplace_back(st.batch.size(), st.batch.size() + writes.size());
  for (auto& write : writes) st.batch.push_back(std::move(write));
  w.writes = true;
  for (auto partition : partitions) {
    st.known_versions.forget_partition(partition);
    std::erase_if(st.batch_versions, [range = partition_range(partition)](const auto& kv) {
      return kv.first.starts_with(range);
    });
  }
  wait_for_flush(self, std::move(w));
}

caf::expected<load_result_ptr> load_actor(state_store& store, const actor_id& id,
                                          bool with_entries) {
  auto result = std::make_shared<load_result>();
  auto value = store.get(state_key(id));
  if (!value) return std::move(value.error());
  // A new actor: every turn that writes reminders or entries writes the state record too
  // (and opening a dir brings older ones to that layout), so there are none to scan for.
  // The scans cost a LevelDB iterator each, on every new ride and payment.
  if (!*value) return load_result_ptr{std::move(result)};
  std::string_view bytes;
  if (!decode_versioned(**value, result->version, bytes))
    return make_error(errc::app_error, "corrupt state record of " + to_string(id));
  result->state_bytes.assign(bytes);
  auto reminders = store.scan(reminder_prefix(id));
  if (!reminders) return std::move(reminders.error());
  result->reminders = std::move(*reminders);
  if (with_entries) {
    auto prefix = entry_prefix(id);
    auto entries = store.scan(prefix);
    if (!entries) return std::move(entries.error());
    result->entries = std::move(*entries);
    for (auto& [key, value] : result->entries) key.erase(0, prefix.size());
  }
  return load_result_ptr{std::move(result)};
}

caf::result<load_result_ptr> as_result(caf::expected<load_result_ptr> loaded) {
  if (!loaded) return std::move(loaded.error());
  return std::move(*loaded);
}

caf::behavior store_writer(writer_actor* self, state_store* store, runtime_metrics* metrics,
                           std::shared_ptr<const node_fence> fence,
                           std::function<void(const std::string&)> on_failure) {
  // Detached: its behavior is made on the thread it keeps for life.
  name_this_thread("keel.writer");
  self->state.fence = std::move(fence);
  self->state.on_failure = std::move(on_failure);
  // A commit accepted before the exit is still written and answered: its flush message
  // would otherwise queue behind the exit and be lost.
  self->state.releaser = spawn_commit_releaser(self->system());
  self->set_exit_handler([self, store, metrics](caf::exit_msg& msg) {
    flush(self, store, metrics);
    // Queued behind the last batch it was sent, so that batch is still released (after its
    // replicas acknowledged, or replica_wait_at_stop). Awaited (this is the writer's own
    // thread): whoever waits for the writer to stop, as the node runtime does before it
    // frees the services that done() uses, also waits for every synced commit to be settled.
    caf::scoped_actor waiter{self->system()};
    waiter->monitor(self->state.releaser);
    self->send(self->state.releaser, drain_atom::value);
    waiter->receive([](const caf::down_msg&) {});
    self->quit(msg.reason);
  });
  return {
      [=](commit_atom, const commit_request_ptr& req) {
        waiting_commit w;
        if (self->state.gate_used) {
          // Delivered on the releaser's thread, so made with the releaser as the responder.
          w.promise =
              caf::response_promise{caf::actor_cast<caf::strong_actor_ptr>(self->state.releaser),
                                    *self->current_mailbox_element()};
          w.on_release = true;
        } else {
          w.promise = self->make_response_promise();
        }
        accept(self, store, *req, std::move(w));
      },
      [=](commit_atom, const turn_commit_ptr& req) {
        waiting_commit w;
        w.turn = req;
        accept(self, store, *req, std::move(w));
      },
      [=](replace_atom, uint32_t partition, const partition_writes_ptr& writes) {
        waiting_commit w;
        w.promise = self->make_response_promise();
        replace(self, {partition}, *writes, std::move(w));
      },
      // A replica's writes, answered through `applied` once durable: the replica sends the
      // next ones meanwhile, and they are written in the order they arrive.
      [=](replace_atom, const std::vector<uint32_t>& partitions, const partition_writes_ptr& writes,
          const applied_fn_ptr& applied) {
        waiting_commit w;
        w.applied = applied;
        replace(self, partitions, *writes, std::move(w));
      },
      [=](flush_atom) { flush(self, store, metrics); },
      // Between two batches: every batch flushed so far is in the snapshot, and `at_snapshot`
      // sees the replicator before the next one is handed to it.
      [=](snapshot_atom, const at_snapshot_ptr& at_snapshot) -> store_snapshot_ptr {
        (*at_snapshot)();
        return store->snapshot();
      },
      // Later batches are handed to `replicator` (null: to none); those already handed over
      // stay held until it answers for them.
      [=](replicator_atom, const commit_replicator_ptr& replicator) {
        self->state.replicator = replicator;
        if (replicator) self->state.gate_used = true;
      },
      // An activation whose pipelined commit failed reloads what is durable; through the
      // writer, so that every commit it sent before is settled first.
      [=](reload_atom, const actor_id& id, bool with_entries) -> caf::result<load_result_ptr> {
        flush(self, store, metrics);
        return as_result(load_actor(*store, id, with_entries));
      },
  };
}

caf::behavior store_reader(caf::event_based_actor*, state_store* store) {
  name_this_thread("keel.reader");  // detached, as the writer
  return {
      [=](load_atom, const actor_id& id, bool with_entries) -> caf::result<load_result_ptr> {
        return as_result(load_actor(*store, id, with_entries));
      },
      // The reminders of partitions [first, first + count).
      [=](scan_atom, uint32_t first, uint32_t count) -> caf::result<load_result_ptr> {
        auto result = std::make_shared<load_result>();
        // Past the last partition, not past UINT32_MAX: first + count may wrap.
        auto end = first + std::min(count, partition_count - std::min(first, partition_count));
        for (uint32_t p = first; p < end; ++p) {
          auto records = store->scan(partition_prefix(p, record_kind::reminder));
          if (!records) return std::move(records.error());
          for (auto& kv : *records) result->reminders.push_back(std::move(kv));
        }
        return load_result_ptr{std::move(result)};
      },
      [=](scan_atom, uint32_t partition) -> caf::result<load_result_ptr> {
        auto result = std::make_shared<load_result>();
        auto records = store->scan(partition_prefix(partition, record_kind::reminder));
        if (!records) return std::move(records.error());
        result->reminders = std::move(*records);
        return load_result_ptr{std::move(result)};
      },
  };
}

}  // namespace

caf::actor spawn_store_writer(caf::actor_system& sys, state_store& store, runtime_metrics& metrics,
                              std::shared_ptr<const node_fence> fence,
                              std::function<void(const std::string&)> on_failure) {
  return sys.spawn<caf::detached>(store_writer, &store, &metrics, std::move(fence),
                                  std::move(on_failure));
}

caf::actor spawn_store_reader(caf::actor_system& sys, state_store& store) {
  return sys.spawn<caf::detached>(store_reader, &store);
}

}  // namespace keel::detail
