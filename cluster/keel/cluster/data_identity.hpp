#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "keel/cluster/membership_options.hpp"

namespace keel {
class state_store;
}

namespace keel::cluster {

/// Checks that the data in `store` belongs to this node of this cluster (DESIGN.md
/// "Identity of data"): the first join records the cluster name, the cluster's id (random,
/// made once in etcd at `keel/<cluster>/id`) and the node id; a later start with another of them is
/// refused with `conflict` (a fresh etcd must not hand old data's partitions to someone else).
/// Blocks on etcd and the store: call before the runtime starts. It also checks the partitions this
/// DB owned (partition_epoch_record) against the table. The cluster's replication factor is
/// made then too (`keel/<cluster>/replication-factor`): `opts.replication_factor` 0 adopts
/// the cluster's (2 for a new one), and is set to it; another value than the cluster's is
/// refused with `conflict` naming both, as is an `opts.min_insync` above it.
caf::error claim_data(state_store& store, membership_options& opts);

/// The DB records the epoch of every partition its node owns under meta_key("epoch/pppp").
inline constexpr std::string_view partition_epoch_prefix = "epoch/";
std::string partition_epoch_record(uint32_t p);

}  // namespace keel::cluster
