#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/none.hpp>

namespace keel {

/// Number of partitions; fixed for the life of a cluster and recorded in every DB.
inline constexpr uint32_t partition_count = 4096;

/// 64-bit FNV-1a over `bytes`, continuing from `seed`.
constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL) noexcept {
  uint64_t hash = seed;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// Names one virtual actor: its type plus a key unique within that type. Actors are never
/// "created": an actor_id is enough to call one.
/// Immutable and cheap to copy; safe to share between threads.
class actor_id {
 public:
  actor_id() = default;
  actor_id(std::string type, std::string key)
      : type_(std::move(type)),
        key_(std::move(key)),
        hash_(hash_of(type_, key_)),
        partition_(partition_of(type_, key_, hash_)) {}

  /// Parses "type/key" (the key may contain further slashes); anything else yields
  /// errc::bad_payload.
  static caf::expected<actor_id> parse(std::string_view text);

  const std::string& type() const noexcept { return type_; }
  const std::string& key() const noexcept { return key_; }

  /// The partition the actor lives in: FNV-1a-64 over `type + '\0' + key`, mod
  /// partition_count, or over what its type's partition key places it by
  /// (partition_key.hpp).
  uint32_t partition() const noexcept { return partition_; }
  /// That FNV-1a-64 itself, computed once per id: every call hashes its target for the
  /// partition and again for the activation table.
  uint64_t hash() const noexcept { return hash_; }

  friend bool operator==(const actor_id& a, const actor_id& b) noexcept {
    return a.hash_ == b.hash_ && a.type_ == b.type_ && a.key_ == b.key_;
  }
  friend std::strong_ordering operator<=>(const actor_id& a, const actor_id& b) noexcept {
    if (auto c = a.type_ <=> b.type_; c != 0) return c;
    return a.key_ <=> b.key_;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, actor_id& x) {
    return f(x.type_, x.key_, caf::meta::load_callback([&x]() -> caf::error {
               x.hash_ = hash_of(x.type_, x.key_);
               x.partition_ = partition_of(x.type_, x.key_, x.hash_);
               return caf::none;
             }));
  }

  /// FNV-1a-64 over `type + '\0' + key`: the id's hash, and what places an id or group
  /// (partition_key.hpp).
  static constexpr uint64_t hash_of(std::string_view type, std::string_view key) noexcept {
    return fnv1a64(key, fnv1a64(std::string_view{"\0", 1}, fnv1a64(type)));
  }

 private:
  static uint32_t partition_of(std::string_view type, std::string_view key, uint64_t hash);

  std::string type_;
  std::string key_;
  uint64_t hash_ = hash_of({}, {});
  uint32_t partition_ = static_cast<uint32_t>(hash_of({}, {}) % partition_count);
};

/// "type/key".
std::string to_string(const actor_id& id);

}  // namespace keel

template <>
struct std::hash<keel::actor_id> {
  size_t operator()(const keel::actor_id& id) const noexcept;
};
