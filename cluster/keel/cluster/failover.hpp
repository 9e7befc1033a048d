#pragma once

#include <cstdint>
#include <map>

#include "keel/cluster/cluster_snapshot.hpp"

namespace keel::cluster {

/// What in-sync replicas answered about a partition: (node id, partition) -> the last
/// commit it applied.
using applied_sequences = std::map<std::pair<std::string, uint32_t>, ReplicaSequence>;

/// The coordinator's failover plan (DESIGN.md "Replication and failover"): for each
/// partition whose owner is no longer a member and which has an in-sync replica that is,
/// the record that promotes that replica: `active(replica, epoch + 1)`. Each in-sync
/// replica holds every acknowledged write; of several that are members, the one that
/// `applied` says applied the latest commit is promoted (it keeps the most of the writes
/// that were never acknowledged), then one that answered, then the first in `isr`. The
/// others stay replicas but leave `isr`, since they may differ from the promoted copy in
/// writes that were never acknowledged, and that copy is the truth.
/// A partition with no in-sync replica among the members is left as it is (`unavailable`
/// until its owner returns): never promoted out of sync, never restarted empty.
/// Each record keeps the revision it was read at, for partition_table_writer::write().
/// A pure function: thread-safe.
std::map<uint32_t, versioned_record> plan_promotions(const cluster_snapshot& now,
                                                     const applied_sequences& applied = {});

/// Per node, the partitions of dead owners for which it is one of several in-sync replicas
/// that are members: whom to ask what they applied before planning. Pure: thread-safe.
std::map<std::string, std::vector<uint32_t>> contested_promotions(const cluster_snapshot& now);

/// Whether `rec`'s owner is down with no in-sync replica among the members: the partition
/// waits for a copy that has every acknowledged write. Pure: thread-safe.
bool awaits_a_copy(const cluster_snapshot& now, const PartitionRecord& rec);

/// Whether `rec` has fewer in-sync copies (its owner's and its isr) than `factor`. Pure.
inline bool under_replicated(const PartitionRecord& rec, size_t factor) {
  return 1 + static_cast<size_t>(rec.isr_size()) < factor;
}

}  // namespace keel::cluster
