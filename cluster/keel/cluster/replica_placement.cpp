#include "keel/cluster/replica_placement.hpp"

#include <algorithm>

#include "keel/cluster/partition_placement.hpp"

namespace keel::cluster {

std::map<uint32_t, versioned_record> plan_replica_changes(const cluster_snapshot& now,
                                                          size_t copies) {
  std::map<uint32_t, versioned_record> changes;
  auto targets = now.placement_targets();
  now.partitions.for_each([&](uint32_t p, const versioned_record& current) {
    const auto& rec = current.record;
    if (rec.state() != PartitionRecord::active || !now.is_member(rec.owner())) return;
    std::vector<std::string> keep;
    for (const auto& id : rec.replicas())
      if (id != rec.owner() && now.is_member(id) && !now.is_draining(id) && keep.size() < copies &&
          std::find(keep.begin(), keep.end(), id) == keep.end())
        keep.push_back(id);
    if (keep.size() < copies) {
      auto ranked =
          partition_placement::rendezvous_replicas(p, rec.owner(), targets, targets.size());
      for (const auto& id : ranked)
        if (keep.size() < copies && std::find(keep.begin(), keep.end(), id) == keep.end())
          keep.push_back(id);
    }
    std::vector<std::string> isr;
    for (const auto& id : rec.isr())
      if (std::find(keep.begin(), keep.end(), id) != keep.end()) isr.push_back(id);
    bool same_replicas =
        std::equal(keep.begin(), keep.end(), rec.replicas().begin(), rec.replicas().end());
    bool same_isr = std::equal(isr.begin(), isr.end(), rec.isr().begin(), rec.isr().end());
    if (same_replicas && same_isr) return;
    versioned_record next = current;
    next.record.clear_replicas();
    for (auto& id : keep) *next.record.add_replicas() = std::move(id);
    next.record.clear_isr();
    for (auto& id : isr) *next.record.add_isr() = std::move(id);
    changes.emplace(p, std::move(next));
  });
  return changes;
}

}  // namespace keel::cluster
