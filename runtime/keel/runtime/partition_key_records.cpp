#include "keel/runtime/partition_key_records.hpp"

#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel {

namespace {

std::string declared_name(const actor_type_info& type) {
  return type.partition_key_name.empty() ? std::string{partition_keys::default_name}
                                         : type.partition_key_name;
}

}  // namespace

caf::error check_partition_keys(state_store& store, const type_registry& types) {
  auto marker = store.get(meta_partition_keys_key);
  if (!marker) return marker.error();
  // Before the marker, nothing was recorded and every actor was placed by its id.
  bool recorded_since_creation = marker->has_value();
  std::vector<store_write> writes;
  for (const auto& [name, type] : types.types()) {
    auto key = meta_key(std::string{meta_partition_key_prefix} + name);
    auto recorded = store.get(key);
    if (!recorded) return recorded.error();
    auto wanted = declared_name(*type);
    std::optional<std::string> was = *recorded;
    if (!was && !recorded_since_creation) was = std::string{partition_keys::default_name};
    if (was && *was != wanted)
      return make_error(errc::conflict,
                        "actor type '" + name + "' declares partition key '" + wanted +
                            "' but this data dir placed its actors by '" + *was +
                            "': they would be looked for in other partitions (start with "
                            "the build that wrote it, or an empty data dir)");
    if (!*recorded) writes.push_back({std::move(key), std::move(wanted), false});
  }
  if (!recorded_since_creation)
    writes.push_back({std::string{meta_partition_keys_key}, "1", false});
  if (writes.empty()) return {};
  return store.write(writes);
}

}  // namespace keel
