#include "keel/runtime/detail/local_partition_host.hpp"

#include <future>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

void local_partition_host::deliver(envelope_ptr env) {
  router_.send(std::move(env));
}

void local_partition_host::redeliver(envelope_ptr env) {
  router_.redeliver(std::move(env));
}

void local_partition_host::close(uint32_t partition, std::function<void()> drained) {
  // Reminders first: a firing sent now is held with the partition's other messages.
  caf::anon_send(services_.reminders, drop_atom::value, partition);
  router_.close_partition(partition, std::move(drained));
}

void local_partition_host::open(uint32_t partition) {
  router_.activations().open_partition(partition);
  caf::anon_send(services_.reminders, scan_atom::value, partition);
}

bool local_partition_host::is_closed(uint32_t partition) const noexcept {
  return router_.activations().is_closed(partition);
}

caf::expected<partition_host::records> local_partition_host::read_range(uint32_t partition) {
  return store_.scan(partition_range(partition));
}

caf::expected<partition_host::records> local_partition_host::read_range_live(
    uint32_t partition, std::function<void()> at_snapshot) {
  caf::scoped_actor self{*services_.system};
  store_snapshot_ptr snapshot;
  caf::error failure;
  // Bounded: a writer that died would never answer (CAF 0.17 sends no broken promise).
  self->request(services_.store_writer, std::chrono::minutes{2}, snapshot_atom::value,
                std::make_shared<std::function<void()>>(std::move(at_snapshot)))
      .receive([&](store_snapshot_ptr& taken) { snapshot = std::move(taken); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure) return failure;
  return snapshot->scan(partition_range(partition));
}

caf::error local_partition_host::replace_range(uint32_t partition,
                                               std::vector<store_write> writes) {
  // What the range holds now is read here, on the caller's thread, not on the writer's,
  // which every commit of the node waits for: the partition is closed, and only this
  // caller changes its range, so nothing writes it between this scan and the batch.
  auto existing = store_.scan(partition_range(partition));
  if (!existing) return std::move(existing.error());
  std::vector<store_write> batch;
  batch.reserve(existing->size() + writes.size());
  for (auto& [key, value] : *existing) batch.push_back({std::move(key), {}, true});
  for (auto& write : writes) batch.push_back(std::move(write));
  return write_through_writer(partition, std::move(batch));
}

void local_partition_host::apply_replicated(std::vector<uint32_t> partitions,
                                            std::vector<store_write> writes,
                                            std::function<void(caf::error)> applied) {
  caf::anon_send(services_.store_writer, replace_atom::value, std::move(partitions),
                 std::make_shared<std::vector<store_write>>(std::move(writes)),
                 std::make_shared<std::function<void(caf::error)>>(std::move(applied)));
}

caf::expected<std::optional<std::string>> local_partition_host::read_record(std::string_view key) {
  return store_.get(key);
}

caf::error local_partition_host::write_through_writer(uint32_t partition,
                                                      std::vector<store_write> writes) {
  caf::scoped_actor self{*services_.system};
  caf::error failure;
  // Bounded: a writer that died would never answer (CAF 0.17 sends no broken promise).
  self->request(services_.store_writer, std::chrono::minutes{2}, replace_atom::value, partition,
                std::make_shared<std::vector<store_write>>(std::move(writes)))
      .receive([](uint64_t) {}, [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

void local_partition_host::set_replicator(std::shared_ptr<commit_replicator> replicator) {
  caf::anon_send(services_.store_writer, replicator_atom::value, std::move(replicator));
}

caf::error local_partition_host::write_meta(const std::vector<store_write>& writes) {
  return store_.write(writes);
}

}  // namespace keel::detail

namespace keel {

caf::error partition_host::apply_replicated(std::vector<uint32_t> partitions,
                                            std::vector<store_write> writes) {
  auto answered = std::make_shared<std::promise<caf::error>>();
  auto outcome = answered->get_future();
  apply_replicated(std::move(partitions), std::move(writes),
                   [answered](caf::error err) { answered->set_value(std::move(err)); });
  // Bounded: a writer that died would never answer.
  if (outcome.wait_for(std::chrono::minutes{2}) != std::future_status::ready)
    return make_error(errc::unavailable, "the store writer did not answer");
  return outcome.get();
}

}  // namespace keel
