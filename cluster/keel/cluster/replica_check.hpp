#pragma once

#include <optional>
#include <string_view>

#include <caf/error.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/wire.hpp"

namespace keel::cluster {

/// Whether a replica may apply `part`, one partition's writes of a commit that `from` sent
/// (DESIGN.md "Replication and failover"): the writes are well formed and stay inside the
/// partition's key range; the table (`rec`, this node's record of the partition, null if it
/// has none) gives the partition to `from` at exactly the writes' epoch, so a paused
/// ex-owner is refused once the table moved on; `self` is one of its replicas; and the
/// writes are the next commit of that epoch (`last`: the last one accepted here), none
/// missed and none twice. Returns an error with code bad_payload for malformed writes,
/// conflict for writes that must not be applied here now; none if they may.
/// Thread safety: a pure function.
caf::error check_replicated(const PartitionRecord* rec, std::string_view self,
                            std::string_view from, const wire_partition_writes& part,
                            const std::optional<ReplicaSequence>& last);

/// The key of partition `p`'s ReplicaSequence record, inside its key range.
std::string replica_sequence_key(uint32_t p);

}  // namespace keel::cluster
