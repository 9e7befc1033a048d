#pragma once

#include <caf/error.hpp>

#include "keel/runtime/registry.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel {

/// Checks the partition keys the registry's types declare against those the data dir
/// recorded (meta_partition_key_prefix + type: the name, or partition_keys::default_name),
/// and records those of types it has not seen. errc::conflict, writing nothing, if a type
/// declares another partition key than the one its records were placed by: its actors
/// would be looked for in other partitions. A data dir made before partition keys existed
/// (no meta_partition_keys_key) placed every actor by its id.
/// Thread safety: call once, before the node starts, on the thread that opened the store.
[[nodiscard]] caf::error check_partition_keys(state_store& store, const type_registry& types);

}  // namespace keel
