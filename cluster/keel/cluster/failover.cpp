#include "keel/cluster/failover.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

namespace keel::cluster {

namespace {

auto first_live(const cluster_snapshot& now, const PartitionRecord& rec) {
  return std::find_if(rec.isr().begin(), rec.isr().end(),
                      [&](const std::string& id) { return now.is_member(id); });
}

bool awaits_promotion(const cluster_snapshot& now, const PartitionRecord& rec) {
  return rec.state() == PartitionRecord::active && !now.is_member(rec.owner());
}

// The in-sync member to promote: the latest applied commit, then answered, then isr order.
std::string heir_of(const cluster_snapshot& now, uint32_t p, const PartitionRecord& rec,
                    const applied_sequences& applied) {
  std::string heir;
  std::optional<ReplicaSequence> best;
  for (const auto& id : rec.isr()) {
    if (!now.is_member(id)) continue;
    auto it = applied.find({id, p});
    if (heir.empty()) heir = id;
    if (it == applied.end()) continue;
    const auto& seq = it->second;
    if (!best || std::pair{seq.epoch(), seq.seq()} > std::pair{best->epoch(), best->seq()}) {
      best = seq;
      heir = id;
    }
  }
  return heir;
}

}  // namespace

bool awaits_a_copy(const cluster_snapshot& now, const PartitionRecord& rec) {
  return !now.is_member(rec.owner()) && first_live(now, rec) == rec.isr().end();
}

std::map<uint32_t, versioned_record> plan_promotions(const cluster_snapshot& now,
                                                     const applied_sequences& applied) {
  std::map<uint32_t, versioned_record> promotions;
  now.partitions.for_each([&](uint32_t p, const versioned_record& current) {
    const auto& rec = current.record;
    // A moving partition is first aborted back to its owner by the rebalancer.
    if (!awaits_promotion(now, rec)) return;
    auto heir = heir_of(now, p, rec, applied);
    if (heir.empty()) return;
    versioned_record next = current;
    auto& promoted = next.record;
    promoted.set_owner(heir);
    promoted.set_epoch(rec.epoch() + 1);
    promoted.set_state(PartitionRecord::active);
    promoted.clear_to();
    promoted.clear_isr();
    promoted.clear_replicas();
    for (const auto& id : rec.replicas())
      if (id != heir && id != rec.owner()) promoted.add_replicas(id);
    promotions.emplace(p, std::move(next));
  });
  return promotions;
}

std::map<std::string, std::vector<uint32_t>> contested_promotions(const cluster_snapshot& now) {
  std::map<std::string, std::vector<uint32_t>> out;
  now.partitions.for_each([&](uint32_t p, const versioned_record& current) {
    const auto& rec = current.record;
    if (!awaits_promotion(now, rec)) return;
    auto live = std::count_if(rec.isr().begin(), rec.isr().end(),
                              [&](const std::string& id) { return now.is_member(id); });
    if (live < 2) return;
    for (const auto& id : rec.isr())
      if (now.is_member(id)) out[id].push_back(p);
  });
  return out;
}

}  // namespace keel::cluster
