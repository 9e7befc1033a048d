#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "keel/cluster/cluster_snapshot.hpp"

namespace keel::cluster {

/// Where each partition's copies go (DESIGN.md "Replication and failover"), as the
/// coordinator keeps it: every active partition whose owner is a member gets `copies`
/// replicas (or as many as there are other placement targets). A replica that is no longer
/// a member, or is being drained, or has become the owner, is replaced by the next node in
/// the partition's rendezvous order that is not a replica yet; the others stay, so a
/// membership change moves few copies. A replica that leaves `replicas` leaves `isr` too;
/// one that joins is not in `isr` until its owner has caught it up (replica_catch_up.hpp).
/// Returns the records to write, each with the revision it was read at. Pure: thread-safe.
std::map<uint32_t, versioned_record> plan_replica_changes(const cluster_snapshot& now,
                                                          size_t copies);

}  // namespace keel::cluster
