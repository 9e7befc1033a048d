#include "keel/runtime/detail/store_actors.hpp"

#include <chrono>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

namespace {

struct writer_state {
  std::vector<store_write> batch;
  std::vector<std::pair<caf::response_promise, uint64_t>> waiting;  // promise, new version
  // Versions written by the open batch: a second write to one key in the same batch must
  // see the first, which LevelDB cannot show before the batch is applied.
  std::unordered_map<std::string, uint64_t> batch_versions;
  // Versions of recently committed keys. This actor is the DB's only writer, so an entry is
  // authoritative and saves a LevelDB read per commit; bounded by clearing when full.
  std::unordered_map<std::string, uint64_t> known_versions;
  bool flush_scheduled = false;
};

caf::expected<uint64_t> stored_version(writer_state& st, state_store& store,
                                       const std::string& key) {
  if (auto it = st.batch_versions.find(key); it != st.batch_versions.end()) return it->second;
  if (auto it = st.known_versions.find(key); it != st.known_versions.end()) return it->second;
  auto value = store.get(key);
  if (!value) return value.error();
  if (!*value) return uint64_t{0};
  uint64_t version = 0;
  std::string_view bytes;
  if (!decode_versioned(**value, version, bytes))
    return make_error(errc::app_error, "corrupt state record");
  return version;
}

void flush(caf::stateful_actor<writer_state>* self, state_store* store, runtime_metrics* metrics) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.waiting.empty()) return;
  auto start = std::chrono::steady_clock::now();
  auto err = st.batch.empty() ? caf::error{} : store->write(st.batch);
  metrics->commit_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics->commit_batches.add();
  metrics->commit_writes.add(st.waiting.size());
  for (auto& [rp, version] : st.waiting) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(version);
  }
  if (!err) {
    constexpr size_t max_known_versions = 1 << 18;
    if (st.known_versions.size() + st.batch_versions.size() > max_known_versions)
      st.known_versions.clear();
    for (auto& [key, version] : st.batch_versions) st.known_versions[key] = version;
  }
  st.batch.clear();
  st.waiting.clear();
  st.batch_versions.clear();
}

caf::behavior store_writer(caf::stateful_actor<writer_state>* self, state_store* store,
                           runtime_metrics* metrics) {
  // A commit accepted before the exit is still written and answered: its flush message
  // would otherwise queue behind the exit and be lost.
  self->set_exit_handler([self, store, metrics](caf::exit_msg& msg) {
    flush(self, store, metrics);
    self->quit(msg.reason);
  });
  return {
      [=](commit_atom, const commit_request_ptr& req) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        uint64_t new_version = 0;
        if (!req->state_key.empty()) {
          auto current = stored_version(st, *store, req->state_key);
          if (!current) {
            rp.deliver(std::move(current.error()));
            return;
          }
          if (*current != req->expected_version) {
            rp.deliver(make_error(errc::conflict, "stale version: turn read version " +
                                                      std::to_string(req->expected_version) +
                                                      ", stored is " + std::to_string(*current)));
            return;
          }
          new_version = *current + 1;
          st.batch_versions[req->state_key] = new_version;
          st.batch.push_back({req->state_key, encode_versioned(new_version, req->state_bytes)});
        }
        for (const auto& op : req->side_ops) st.batch.push_back({op.key, op.value, op.erase});
        st.waiting.emplace_back(std::move(rp), new_version);
        if (!st.flush_scheduled) {
          // The flush message queues behind every commit already in the mailbox, so one sync
          // covers them all.
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](flush_atom) { flush(self, store, metrics); },
  };
}

caf::behavior store_reader(caf::event_based_actor*, state_store* store) {
  return {
      [=](load_atom, const actor_id& id) -> caf::result<load_result_ptr> {
        auto result = std::make_shared<load_result>();
        auto value = store->get(state_key(id));
        if (!value) return std::move(value.error());
        if (*value) {
          std::string_view bytes;
          if (!decode_versioned(**value, result->version, bytes))
            return make_error(errc::app_error, "corrupt state record of " + to_string(id));
          result->state_bytes.assign(bytes);
        }
        auto reminders = store->scan(reminder_prefix(id));
        if (!reminders) return std::move(reminders.error());
        result->reminders = std::move(*reminders);
        return load_result_ptr{std::move(result)};
      },
      [=](scan_atom) -> caf::result<load_result_ptr> {
        auto result = std::make_shared<load_result>();
        for (uint32_t p = 0; p < partition_count; ++p) {
          auto records = store->scan(partition_prefix(p, record_kind::reminder));
          if (!records) return std::move(records.error());
          for (auto& kv : *records) result->reminders.push_back(std::move(kv));
        }
        return load_result_ptr{std::move(result)};
      },
  };
}

}  // namespace

caf::actor spawn_store_writer(caf::actor_system& sys, state_store& store,
                              runtime_metrics& metrics) {
  return sys.spawn<caf::detached>(store_writer, &store, &metrics);
}

caf::actor spawn_store_reader(caf::actor_system& sys, state_store& store) {
  return sys.spawn<caf::detached>(store_reader, &store);
}

}  // namespace keel::detail
