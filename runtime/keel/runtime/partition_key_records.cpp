#include "keel/runtime/partition_key_records.hpp"

#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel {

caf::expected<std::string> recorded_name_of(const actor_type_info& type) {
  std::string declared = type.partition_key_name.empty() ? std::string{partition_keys::default_name}
                                                         : type.partition_key_name;
  auto in_process = partition_keys::find(type.name);
  std::string placed = in_process ? in_process->name : std::string{partition_keys::default_name};
  if (placed != declared)
    return make_error(errc::conflict, "actor type '" + type.name + "' declares partition key '" +
                                          declared + "' but this process places it by '" + placed +
                                          "' (declared by another registry)");
  return declared;
}

caf::error check_partition_keys(state_store& store, const type_registry& types, bool record) {
  auto marker = store.get(meta_partition_keys_key);
  if (!marker) return marker.error();
  // Before the marker, nothing was recorded and every actor was placed by its id.
  bool recorded_since_creation = marker->has_value();
  std::vector<store_write> writes;
  for (const auto& [name, type] : types.types()) {
    if (type->stateless()) continue;
    auto wanted = recorded_name_of(*type);
    if (!wanted) return std::move(wanted.error());
    auto key = meta_key(std::string{meta_partition_key_prefix} + name);
    auto recorded = store.get(key);
    if (!recorded) return recorded.error();
    std::optional<std::string> was = *recorded;
    if (!was && !recorded_since_creation) was = std::string{partition_keys::default_name};
    if (was && *was != *wanted)
      return make_error(errc::conflict,
                        "actor type '" + name + "' declares partition key '" + *wanted +
                            "' but this data dir placed its actors by '" + *was +
                            "': they would be looked for in other partitions (start with "
                            "the build that wrote it, or an empty data dir)");
    if (!*recorded) writes.push_back({std::move(key), std::move(*wanted), false});
  }
  if (!recorded_since_creation)
    writes.push_back({std::string{meta_partition_keys_key}, "1", false});
  if (!record || writes.empty()) return {};
  return store.write(writes);
}

}  // namespace keel
