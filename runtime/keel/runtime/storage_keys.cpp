#include "keel/runtime/storage_keys.hpp"

#include <cstring>
#include <set>

#include "keel/runtime/state_store.hpp"

namespace keel {

std::string partition_range(uint32_t partition) {
  std::string out;
  out.reserve(3);
  out.push_back(static_cast<char>((partition >> 8) & 0xff));
  out.push_back(static_cast<char>(partition & 0xff));
  return out;
}

std::optional<uint32_t> partition_of_key(std::string_view key) {
  // 0xff (meta) names no partition either: 0xff00 is past every partition.
  if (key.size() < 2) return std::nullopt;
  auto p = (static_cast<uint32_t>(static_cast<unsigned char>(key[0])) << 8) |
           static_cast<unsigned char>(key[1]);
  if (p >= partition_count) return std::nullopt;
  return p;
}

std::string partition_prefix(uint32_t partition, record_kind kind) {
  auto out = partition_range(partition);
  out.push_back(static_cast<char>(kind));
  return out;
}

namespace {

std::string actor_key(const actor_id& id, record_kind kind) {
  auto out = partition_prefix(id.partition(), kind);
  out.reserve(out.size() + id.type().size() + id.key().size() + 1);
  out += id.type();
  out.push_back('\0');
  out += id.key();
  return out;
}

}  // namespace

std::string state_key(const actor_id& id) {
  return actor_key(id, record_kind::state);
}

namespace {

// Named records of one actor (reminders, entries): `actor_key '\0' name`.
std::string named_prefix(const actor_id& id, record_kind kind) {
  auto out = actor_key(id, kind);
  out.push_back('\0');
  return out;
}

std::string named_key(const actor_id& id, record_kind kind, std::string_view name) {
  auto out = named_prefix(id, kind);
  out += name;
  return out;
}

}  // namespace

std::string reminder_prefix(const actor_id& id) {
  return named_prefix(id, record_kind::reminder);
}

std::string reminder_key(const actor_id& id, std::string_view name) {
  return named_key(id, record_kind::reminder, name);
}

std::string entry_prefix(const actor_id& id) {
  return named_prefix(id, record_kind::entry);
}

std::string entry_key(const actor_id& id, std::string_view name) {
  return named_key(id, record_kind::entry, name);
}

std::optional<std::string> owner_state_key(std::string_view side_record_key) {
  constexpr size_t kind_at = 2;  // after the partition's two bytes
  if (side_record_key.size() <= kind_at) return std::nullopt;
  auto kind = static_cast<record_kind>(side_record_key[kind_at]);
  if (kind != record_kind::reminder && kind != record_kind::entry) return std::nullopt;
  if (static_cast<unsigned char>(side_record_key[0]) == 0xff) return std::nullopt;  // meta
  // `type '\0' key '\0' name`. Type names hold no '\0', and neither do the names of
  // reminders and entries, but an actor key may (it comes from a URL or a JSON string):
  // the owner's key ends at the last '\0', which must come after the type's.
  auto type_end = side_record_key.find('\0', kind_at + 1);
  auto key_end = side_record_key.rfind('\0');
  if (type_end == std::string_view::npos || key_end == type_end) return std::nullopt;
  std::string out{side_record_key.substr(0, key_end)};
  out[kind_at] = static_cast<char>(record_kind::state);
  return out;
}

void add_missing_state_records(std::vector<store_write>& writes) {
  std::set<std::string> owners, states;
  for (const auto& w : writes) {
    if (auto owner = owner_state_key(w.key))
      owners.insert(std::move(*owner));
    else
      states.insert(w.key);
  }
  for (const auto& owner : owners)
    if (!states.count(owner)) writes.push_back({owner, encode_versioned(0, {})});
}

std::string encode_versioned(uint64_t version, std::string_view bytes) {
  std::string out(8 + bytes.size(), '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((version >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, bytes.data(), bytes.size());
  return out;
}

bool decode_versioned(std::string_view value, uint64_t& version, std::string_view& bytes) {
  if (value.size() < 8) return false;
  version = 0;
  for (int i = 0; i < 8; ++i)
    version |= static_cast<uint64_t>(static_cast<unsigned char>(value[i])) << (8 * i);
  bytes = value.substr(8);
  return true;
}

std::string meta_key(std::string_view name) {
  std::string out{
      "\xff"
      "meta/"};
  out += name;
  return out;
}

}  // namespace keel
