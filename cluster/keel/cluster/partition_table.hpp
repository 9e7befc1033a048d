#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "keel/cluster/cluster.pb.h"

namespace keel::cluster {

class etcd_client;

/// The partition number ending a key that starts with `prefix`: keel/<c>/partitions/pppp in
/// etcd, meta/epoch/pppp in the DB. Nullopt for anything else: a key another client wrote
/// must not stop the watch. A pure function.
std::optional<uint32_t> partition_in(std::string_view key, std::string_view prefix);

/// `p` in four digits, so that etcd and LevelDB list partition keys in order.
std::string partition_digits(uint32_t p);

/// Reads a record as etcd stores it (its protobuf JSON). A record with no state, or with a
/// state name this build does not know, is `app_error` naming the text: a newer node's state
/// must never be taken for `active`.
caf::expected<PartitionRecord> parse_partition_record(std::string_view json);

/// Whether `node_id` holds partition `rec` now or is receiving it: what a leaving node must
/// see reach zero. A pure function.
bool holds_or_receives(const PartitionRecord& rec, const std::string& node_id);

/// Row `p` of GET /v1/cluster/partitions; the state is printed by name, as it is stored.
PartitionView partition_view(uint32_t p, const PartitionRecord& rec);

/// The partition table as etcd holds it now, by partition (records that do not parse are
/// left out). Blocks on etcd; `etcd` is used from the calling thread only.
caf::expected<std::map<uint32_t, PartitionRecord>> read_partition_table(
    etcd_client& etcd, const std::string& cluster_name);

}  // namespace keel::cluster
