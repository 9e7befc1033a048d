#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "keel/runtime/actor_id.hpp"

namespace keel {

/// The kinds of records in a partition's key range.
enum class record_kind : char {
  state = 's',
  reminder = 'r',
  entry = 'e',
  // One record per partition kept by the layers above with the partition's records, so
  // that whatever moves or copies the range carries it (the replication sequence).
  sequence = 'q',
};

/// Partition-prefixed keys: 2 bytes big-endian partition, the kind, then
/// `type '\0' key` (and `'\0' name` for reminders). A partition is one contiguous range.
std::string state_key(const actor_id& id);
std::string reminder_key(const actor_id& id, std::string_view name);
/// The prefix of all reminders of one actor.
std::string reminder_prefix(const actor_id& id);
/// An actor's named entry (context::put_entry), and the prefix of all its entries.
std::string entry_key(const actor_id& id, std::string_view name);
std::string entry_prefix(const actor_id& id);
/// The state key of the actor that owns a reminder or entry record; nullopt for any other
/// key. Requires names without '\0' (actor keys may hold one).
std::optional<std::string> owner_state_key(std::string_view side_record_key);
/// The prefix of one partition's records of one kind.
std::string partition_prefix(uint32_t partition, record_kind kind);
/// The prefix of every record of one partition (all kinds): what a handoff moves.
std::string partition_range(uint32_t partition);
/// The partition whose range holds `key` (its first two bytes, big-endian); nullopt for a
/// key that names none: a metadata key (0xff first), one shorter than two bytes, or one
/// naming a partition >= partition_count.
std::optional<uint32_t> partition_of_key(std::string_view key);

/// Node-level metadata keys sort after every partition (0xff > any partition's first byte).
inline constexpr std::string_view meta_partition_count_key =
    "\xff"
    "meta/partition_count";

/// A node-level metadata key: "\xff" "meta/" + name (after every partition's keys).
std::string meta_key(std::string_view name);

/// The data dir's layout: "2" once every reminder and entry record of a persistent actor
/// has its actor's state record beside it, so an actor with no state record has no side
/// records and its load skips their scans (stateless workers load nothing). Older dirs are
/// brought to it when opened.
inline constexpr std::string_view meta_layout_key =
    "\xff"
    "meta/layout";
inline constexpr std::string_view current_layout = "2";

/// Present once the DB records each actor type's partition key (partition_key_records.hpp):
/// written when it is made, or when an older one is first opened. Each type's record is
/// meta_key(meta_partition_key_prefix + type).
inline constexpr std::string_view meta_partition_keys_key =
    "\xff"
    "meta/partition_keys";
inline constexpr std::string_view meta_partition_key_prefix = "partition_key/";

/// Which cluster and node this DB belongs to, written by the cluster layer on first join.
inline constexpr std::string_view meta_cluster_key =
    "\xff"
    "meta/cluster";

/// Stored state values carry their version ahead of the bytes: 8 bytes little-endian.
std::string encode_versioned(uint64_t version, std::string_view bytes);
/// Returns false on a value too short to hold a version (a corrupt record).
bool decode_versioned(std::string_view value, uint64_t& version, std::string_view& bytes);

}  // namespace keel
