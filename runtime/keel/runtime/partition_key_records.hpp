#pragma once

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "keel/runtime/registry.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel {

/// The name a type's partition key is recorded under: its declared name, or
/// partition_keys::default_name for a type placed by its id. errc::conflict if this process
/// places the type otherwise than `type` declares (another registry in the process declared
/// it): its ids would be placed by that.
[[nodiscard]] caf::expected<std::string> recorded_name_of(const actor_type_info& type);

/// Checks the partition keys the registry's types declare against those the data dir
/// recorded (meta_partition_key_prefix + type: recorded_name_of), and with `record` records
/// those of types it has not seen. errc::conflict, writing nothing, if a type declares
/// another partition key than the one its records were placed by: its actors would be
/// looked for in other partitions. A data dir made before partition keys existed (no
/// meta_partition_keys_key) placed every actor by its id. Stateless types are placed where
/// they are called and are not recorded.
/// Thread safety: call before the node starts, on the thread that opened the store.
[[nodiscard]] caf::error check_partition_keys(state_store& store, const type_registry& types,
                                              bool record = true);

}  // namespace keel
