#include "keel/cluster/failover.hpp"

#include <algorithm>

namespace keel::cluster {

std::map<uint32_t, versioned_record> plan_promotions(const cluster_snapshot& now) {
  std::map<uint32_t, versioned_record> promotions;
  now.partitions.for_each([&](uint32_t p, const versioned_record& current) {
    const auto& rec = current.record;
    // A moving partition is first aborted back to its owner by the rebalancer.
    if (rec.state() != PartitionRecord::active || now.is_member(rec.owner())) return;
    auto heir = std::find_if(rec.isr().begin(), rec.isr().end(),
                             [&](const std::string& id) { return now.is_member(id); });
    if (heir == rec.isr().end()) return;
    versioned_record next = current;
    auto& promoted = next.record;
    promoted.set_owner(*heir);
    promoted.set_epoch(rec.epoch() + 1);
    promoted.set_state(PartitionRecord::active);
    promoted.clear_to();
    promoted.clear_isr();
    promoted.clear_replicas();
    for (const auto& id : rec.replicas())
      if (id != *heir && id != rec.owner()) promoted.add_replicas(id);
    promotions.emplace(p, std::move(next));
  });
  return promotions;
}

}  // namespace keel::cluster
