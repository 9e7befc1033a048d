#pragma once

#include <cstdint>
#include <map>

#include "keel/cluster/cluster_snapshot.hpp"

namespace keel::cluster {

/// The coordinator's failover plan (DESIGN.md "Replication and failover"): for each
/// partition whose owner is no longer a member and which has an in-sync replica that is,
/// the record that promotes that replica: `active(replica, epoch + 1)`. Of several in-sync
/// replicas the first in `isr` that is a member is promoted: each of them holds every
/// acknowledged write. The others stay replicas but leave `isr`, since they may differ from
/// the promoted copy in writes that were never acknowledged, and that copy is the truth.
/// A partition with no in-sync replica among the members is left as it is (`unavailable`
/// until its owner returns): never promoted out of sync, never restarted empty.
/// Each record keeps the revision it was read at, for partition_table_writer::write().
/// A pure function: thread-safe.
std::map<uint32_t, versioned_record> plan_promotions(const cluster_snapshot& now);

}  // namespace keel::cluster
