#pragma once

#include <caf/error.hpp>

#include "keel/cluster/membership_options.hpp"

namespace keel {
class type_registry;
}

namespace keel::cluster {

/// Records each stateful actor type's partition key in etcd
/// (`keel/<cluster>/partition-keys/<type>`: recorded_name_of, "id" for a type placed by its
/// id) the first time a node of the cluster declares the type, all in one transaction, and
/// refuses with errc::conflict, writing nothing, a node whose types declare another: its
/// nodes would look for one actor in different partitions. A cluster with placed partitions
/// but no record at all was made before partition keys and placed every actor by its id.
/// A cluster's data dirs check the same against their own records
/// (partition_key_records.hpp, checked first); this check also covers a node that joins
/// with an empty dir. Blocks on etcd: call before the runtime starts.
caf::error claim_partition_keys(const membership_options& opts, const type_registry& types);

}  // namespace keel::cluster
