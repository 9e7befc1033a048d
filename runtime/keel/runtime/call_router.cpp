#include "keel/runtime/call_router.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/exit_reason.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <caf/send.hpp>

#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"

namespace keel {

call_router::call_router(const type_registry& types, runtime_metrics& metrics, spawn_fn spawn,
                         size_t max_activations)
    : types_(types),
      metrics_(metrics),
      spawn_(std::move(spawn)),
      max_activations_(max_activations),
      pending_(metrics) {}

actor_id call_router::worker_for(const actor_type_info& type) {
  auto index = round_robin_.fetch_add(1, std::memory_order_relaxed) % type.max_workers;
  return actor_id{type.name, "#worker-" + std::to_string(index)};
}

void call_router::send(envelope_ptr env, caf::execution_unit* host) {
  auto fail = [&](caf::error err) {
    if (env->reply) env->reply->complete(std::move(err));
  };
  if (stopped_.load(std::memory_order_acquire))
    return fail(make_error(errc::unavailable, "node is stopping"));
  auto type = resolve_type(types_, env->target.type());
  if (!type) return fail(std::move(type.error()));
  // Internal messages ($reminder, $timer) have no registered handler.
  if (env->message_type.empty() || env->message_type[0] != '$') {
    // By the payload's type when there is one.
    auto handler = resolve_handler(**type, env->message_type,
                                   env->payload ? env->payload->GetDescriptor() : nullptr);
    if (!handler) return fail(std::move(handler.error()));
    env->handler = *handler;
  }
  if (env->reply) pending_.track(env);
  dispatch(std::move(env), **type, host);
}

void call_router::redeliver(envelope_ptr env) {
  if (stopped_.load(std::memory_order_acquire)) {
    if (env->reply) env->reply->complete(make_error(errc::unavailable, "node is stopping"));
    return;
  }
  auto type = resolve_type(types_, env->target.type());
  if (!type) {  // checked by send(); an envelope from another node may name anything
    if (env->reply) env->reply->complete(std::move(type.error()));
    return;
  }
  dispatch(std::move(env), **type, nullptr);
}

void call_router::dispatch(envelope_ptr env, const actor_type_info& type,
                           caf::execution_unit* host) {
  // Stateless workers run on any node: they own no state, so no partition.
  if (auto* directory = partitions_.load(std::memory_order_acquire);
      directory && !type.stateless() &&
      directory->route(env) == partition_directory::verdict::taken)
    return;
  actor_id worker;  // a stateless call's slot; a stateful call's key is read in place
  const actor_id& key = type.stateless() ? (worker = worker_for(type)) : env->target;
  const uint32_t partition = key.partition();  // hashes the id: once per call
  auto& shard = directory_[partition % shard_count];
  bool closed = false;
  bool full = false;
  {
    // `env` outlives the lock: if the activation just died, CAF destroys the message inside
    // the send, and the envelope's "unavailable" answer must not run under the lock.
    std::lock_guard guard{shard.mutex};
    // Checked under the lock, as close_partition() sets it before it empties the shard: a
    // message routed here just before its partition closed must not spawn a new activation
    // behind the handoff's back.
    closed = !type.stateless() && closed_[partition].load(std::memory_order_acquire);
    // Checked again under the lock: stop() empties each shard under it, so no activation
    // is spawned after stop() has passed this shard.
    if (!closed && !stopped_.load(std::memory_order_acquire)) {
      auto it = shard.activations.find(key);
      if (it == shard.activations.end()) {
        full = live_.load(std::memory_order_relaxed) >= max_activations_;
        if (!full) {
          live_.fetch_add(1, std::memory_order_relaxed);
          auto idle_since = std::make_shared<std::atomic<int64_t>>(0);
          auto handle = spawn_(key, type, idle_since);
          it =
              shard.activations.emplace(key, activation_entry{std::move(handle), idle_since}).first;
        }
      }
      if (!full) {
        auto handle = caf::actor_cast<caf::strong_actor_ptr>(it->second.handle);
        // The envelope inside the mailbox element: one allocation, not a message and its
        // element.
        handle->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, env), host);
        return;
      }
    }
  }
  if (full) {
    metrics_.activations_refused.add();
    if (env->reply)
      env->reply->complete(make_error(
          errc::unavailable, "node holds " + std::to_string(max_activations_) +
                                 " activations, its limit (--max-activations): " + to_string(key) +
                                 " cannot start until idle ones leave"));
    return;
  }
  if (closed) {
    // The directory knows the partition is moving by now and holds the message.
    auto* directory = partitions_.load(std::memory_order_acquire);
    if (directory && directory->route(env) == partition_directory::verdict::taken) return;
    if (env->reply)
      env->reply->complete(
          make_error(errc::unavailable, "partition " + std::to_string(partition) + " is moving"));
    return;
  }
  if (env->reply) env->reply->complete(make_error(errc::unavailable, "node is stopping"));
}

void call_router::close_partition(uint32_t partition, std::function<void()> drained) {
  closed_[partition].store(true, std::memory_order_release);
  std::vector<caf::actor> leaving;
  {
    auto& shard = directory_[partition % shard_count];
    std::lock_guard guard{shard.mutex};
    for (auto it = shard.activations.begin(); it != shard.activations.end();) {
      const auto* type = types_.find(it->first.type());
      if (type && !type->stateless()) {
        leaving.push_back(std::move(it->second.handle));
        it = shard.activations.erase(it);
        live_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }
  // One count per activation plus one for this call, so `drained` runs after all of them
  // even if they quit before the loop ends.
  auto left = std::make_shared<std::atomic<size_t>>(leaving.size() + 1);
  auto done = std::make_shared<std::function<void()>>(std::move(drained));
  auto finish = [left, done] {
    if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) (*done)();
  };
  for (auto& handle : leaving) {
    handle->attach_functor(finish);
    // Behind every message already queued: those turns still run here.
    caf::anon_send(handle, detail::drain_atom::value);
  }
  finish();
}

bool call_router::try_passivate(const actor_id& id, const caf::actor_addr& who,
                                const std::function<bool()>& mailbox_empty) {
  auto& shard = shard_of(id);
  std::lock_guard guard{shard.mutex};
  auto it = shard.activations.find(id);
  if (it == shard.activations.end() || it->second.handle.address() != who) return true;
  if (!mailbox_empty()) return false;
  shard.activations.erase(it);
  live_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void call_router::send_to_all_activations(const caf::message& m) {
  std::vector<caf::actor> handles;
  for (auto& shard : directory_) {
    {
      std::lock_guard guard{shard.mutex};
      for (const auto& [id, entry] : shard.activations) handles.push_back(entry.handle);
    }
    for (auto& handle : handles) caf::anon_send(handle, m);
    handles.clear();
  }
}

std::vector<caf::actor> call_router::stop() {
  stopped_.store(true, std::memory_order_release);
  std::vector<caf::actor> stopped;
  for (auto& shard : directory_) {
    std::unordered_map<actor_id, activation_entry> victims;
    {
      std::lock_guard guard{shard.mutex};
      victims.swap(shard.activations);
      live_.fetch_sub(victims.size(), std::memory_order_relaxed);
    }
    for (auto& [id, entry] : victims) {
      caf::anon_send_exit(entry.handle, caf::exit_reason::user_shutdown);
      stopped.push_back(std::move(entry.handle));
    }
  }
  return stopped;
}

void call_router::forget(const actor_id& id, const caf::actor_addr& who) {
  auto& shard = shard_of(id);
  std::lock_guard guard{shard.mutex};
  auto it = shard.activations.find(id);
  if (it != shard.activations.end() && it->second.handle.address() == who) {
    shard.activations.erase(it);
    live_.fetch_sub(1, std::memory_order_relaxed);
  }
}

size_t call_router::evict_idle(size_t count) {
  if (count == 0) return 0;
  struct candidate {
    int64_t idle_since;
    caf::actor handle;
  };
  std::vector<candidate> idle;
  idle.reserve(live_.load(std::memory_order_relaxed));
  for (auto& shard : directory_) {
    std::lock_guard guard{shard.mutex};
    for (const auto& [id, entry] : shard.activations) {
      // 0: no turn has ended there yet (it is loading, or in its first turn).
      auto since = entry.idle_since->load(std::memory_order_relaxed);
      if (since > 0) idle.push_back({since, entry.handle});
    }
  }
  count = std::min(count, idle.size());
  std::nth_element(
      idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(count), idle.end(),
      [](const candidate& a, const candidate& b) { return a.idle_since < b.idle_since; });
  // Each leaves only if no turn of it ended since.
  for (size_t i = 0; i < count; ++i)
    caf::anon_send(idle[i].handle, detail::evict_atom::value, idle[i].idle_since);
  metrics_.activations_evicted.add(count);
  return count;
}

bool call_router::is_active(const actor_id& id) const {
  auto& shard = shard_of(id);
  std::lock_guard guard{shard.mutex};
  return shard.activations.count(id) > 0;
}

}  // namespace keel
