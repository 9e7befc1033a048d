#include "keel/runtime/call_router.hpp"

#include <string>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"

namespace keel {

call_router::call_router(const type_registry& types, runtime_metrics& metrics, spawn_fn spawn,
                         size_t max_activations)
    : types_(types),
      metrics_(metrics),
      activations_(types, std::move(spawn), max_activations),
      pending_(metrics) {}

actor_id call_router::worker_for(const actor_type_info& type) {
  auto index = round_robin_.fetch_add(1, std::memory_order_relaxed) % type.max_workers;
  return actor_id{type.name, "#worker-" + std::to_string(index)};
}

void call_router::send(envelope_ptr env, caf::execution_unit* host) {
  auto fail = [&](caf::error err) {
    if (env->reply) env->reply->complete(std::move(err));
  };
  if (stopping()) return fail(make_error(errc::unavailable, "node is stopping"));
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
  if (stopping()) {
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
  auto delivered = activations_.deliver(key, type, env, host);
  if (delivered != activation_table::delivery::delivered) refuse(env, delivered, key);
}

void call_router::refuse(const envelope_ptr& env, activation_table::delivery why,
                         const actor_id& key) {
  using delivery = activation_table::delivery;
  if (why == delivery::full) metrics_.activations_refused.add();
  if (why == delivery::closed) {
    // The partition directory knows the partition is moving by now and holds the message.
    auto* directory = partitions_.load(std::memory_order_acquire);
    if (directory && directory->route(env) == partition_directory::verdict::taken) return;
  }
  if (!env->reply) return;
  std::string why_not = "node is stopping";
  if (why == delivery::full)
    why_not = "node holds " + std::to_string(activations_.max_size()) +
              " activations, its limit (--max-activations): " + to_string(key) +
              " cannot start until idle ones leave";
  else if (why == delivery::closed)
    why_not = "partition " + std::to_string(key.partition()) + " is moving";
  env->reply->complete(make_error(errc::unavailable, std::move(why_not)));
}

std::vector<caf::actor> call_router::stop() {
  auto stopped = activations_.stop();
  for (auto& handle : stopped) caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  return stopped;
}

size_t call_router::evict_idle(size_t count) {
  auto idle = activations_.oldest_idle(count);
  // Each leaves only if no turn of it ended since.
  for (auto& [handle, since] : idle) caf::anon_send(handle, detail::evict_atom::value, since);
  metrics_.activations_evicted.add(idle.size());
  return idle.size();
}

}  // namespace keel
