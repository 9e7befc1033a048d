#pragma once

#include "keel/runtime/partition_host.hpp"

namespace keel {
class call_router;
class state_store;
}  // namespace keel

namespace keel::detail {

struct node_services;

/// The runtime's partition_host: partitions as this node's router and store hold them.
/// Thread safety: as partition_host. Requires: the router, the store and the services
/// outlive it (node_runtime owns all four).
class local_partition_host final : public partition_host {
 public:
  local_partition_host(call_router& router, state_store& store, node_services& services)
      : router_(router), store_(store), services_(services) {}

  void deliver(envelope_ptr env) override;
  void redeliver(envelope_ptr env) override;
  void close(uint32_t partition, std::function<void()> drained) override;
  void open(uint32_t partition) override;
  bool is_closed(uint32_t partition) const noexcept override;
  caf::expected<records> read_range(uint32_t partition) override;
  caf::expected<records> read_range_live(uint32_t partition,
                                         std::function<void()> at_snapshot) override;
  caf::error replace_range(uint32_t partition, std::vector<store_write> writes) override;
  using partition_host::apply_replicated;
  void apply_replicated(std::vector<uint32_t> partitions, std::vector<store_write> writes,
                        std::function<void(caf::error)> applied) override;
  caf::expected<std::optional<std::string>> read_record(std::string_view key) override;
  void set_replicator(std::shared_ptr<commit_replicator> replicator) override;
  caf::error write_meta(const std::vector<store_write>& writes) override;

 private:
  // One synced batch of `writes` for `partition` through the store writer.
  caf::error write_through_writer(uint32_t partition, std::vector<store_write> writes);

  call_router& router_;
  state_store& store_;
  node_services& services_;
};

}  // namespace keel::detail
