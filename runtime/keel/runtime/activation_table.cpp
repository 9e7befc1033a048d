#include "keel/runtime/activation_table.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/exit_reason.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <caf/send.hpp>

#include "keel/runtime/detail/wire.hpp"

namespace keel {

activation_table::activation_table(const type_registry& types, spawn_fn spawn,
                                   size_t max_activations)
    : types_(types), spawn_(std::move(spawn)), max_activations_(max_activations) {}

activation_table::delivery activation_table::deliver(const actor_id& key,
                                                     const actor_type_info& type,
                                                     const envelope_ptr& env,
                                                     caf::execution_unit* host) {
  const uint32_t partition = key.partition();  // hashes the id: once per message
  auto& sh = shards_[partition % shard_count];
  std::lock_guard guard{sh.mutex};
  // Checked under the lock, as close_partition() sets it before it empties the shard: a
  // message routed here just before its partition closed must not spawn a new activation
  // behind the handoff's back.
  if (!type.stateless() && closed_[partition].load(std::memory_order_acquire))
    return delivery::closed;
  // Checked again under the lock: stop() empties each shard under it, so no activation is
  // spawned after stop() has passed this shard.
  if (stopped_.load(std::memory_order_acquire)) return delivery::stopped;
  auto it = sh.activations.find(key);
  if (it == sh.activations.end()) {
    if (live_.load(std::memory_order_relaxed) >= max_activations_) return delivery::full;
    live_.fetch_add(1, std::memory_order_relaxed);
    auto idle_since = std::make_shared<std::atomic<int64_t>>(0);
    auto handle = spawn_(key, type, idle_since);
    it = sh.activations.emplace(key, entry{std::move(handle), std::move(idle_since)}).first;
  }
  auto handle = caf::actor_cast<caf::strong_actor_ptr>(it->second.handle);
  // The envelope inside the mailbox element: one allocation, not a message and its element.
  handle->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, env), host);
  return delivery::delivered;
}

void activation_table::close_partition(uint32_t partition, std::function<void()> drained) {
  closed_[partition].store(true, std::memory_order_release);
  std::vector<caf::actor> leaving;
  {
    auto& sh = shards_[partition % shard_count];
    std::lock_guard guard{sh.mutex};
    for (auto it = sh.activations.begin(); it != sh.activations.end();) {
      const auto* type = types_.find(it->first.type());
      if (type && !type->stateless()) {
        leaving.push_back(std::move(it->second.handle));
        it = sh.activations.erase(it);
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

bool activation_table::try_passivate(const actor_id& id, const caf::actor_addr& who,
                                     const std::function<bool()>& mailbox_empty) {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mutex};
  auto it = sh.activations.find(id);
  if (it == sh.activations.end() || it->second.handle.address() != who) return true;
  if (!mailbox_empty()) return false;
  sh.activations.erase(it);
  live_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void activation_table::forget(const actor_id& id, const caf::actor_addr& who) {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mutex};
  auto it = sh.activations.find(id);
  if (it != sh.activations.end() && it->second.handle.address() == who) {
    sh.activations.erase(it);
    live_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void activation_table::send_to_all(const caf::message& m) {
  std::vector<caf::actor> handles;
  for (auto& sh : shards_) {
    {
      std::lock_guard guard{sh.mutex};
      for (const auto& [id, e] : sh.activations) handles.push_back(e.handle);
    }
    for (auto& handle : handles) caf::anon_send(handle, m);
    handles.clear();
  }
}

std::vector<std::pair<caf::actor, int64_t>> activation_table::oldest_idle(size_t count) const {
  std::vector<std::pair<caf::actor, int64_t>> idle;
  if (count == 0) return idle;
  idle.reserve(live_.load(std::memory_order_relaxed));
  for (const auto& sh : shards_) {
    std::lock_guard guard{sh.mutex};
    for (const auto& [id, e] : sh.activations) {
      // 0: no turn has ended there yet (it is loading, or in its first turn).
      auto since = e.idle_since->load(std::memory_order_relaxed);
      if (since > 0) idle.emplace_back(e.handle, since);
    }
  }
  count = std::min(count, idle.size());
  std::nth_element(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(count), idle.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  idle.resize(count);
  return idle;
}

std::vector<caf::actor> activation_table::stop() {
  stopped_.store(true, std::memory_order_release);
  std::vector<caf::actor> stopped;
  for (auto& sh : shards_) {
    std::unordered_map<actor_id, entry> victims;
    {
      std::lock_guard guard{sh.mutex};
      victims.swap(sh.activations);
      live_.fetch_sub(victims.size(), std::memory_order_relaxed);
    }
    for (auto& [id, e] : victims) stopped.push_back(std::move(e.handle));
  }
  return stopped;
}

bool activation_table::is_active(const actor_id& id) const {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mutex};
  return sh.activations.count(id) > 0;
}

}  // namespace keel
