#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace keel {

/// Number of partitions; fixed for the life of a cluster and recorded in every DB.
inline constexpr uint32_t partition_count = 4096;

/// Names one virtual actor: its type plus a key unique within that type. Actors are never
/// "created": an actor_id is enough to call one.
/// Immutable and cheap to copy; safe to share between threads.
class actor_id {
 public:
  actor_id() = default;
  actor_id(std::string type, std::string key) : type_(std::move(type)), key_(std::move(key)) {}

  /// Parses "type/key" (the key may contain further slashes); anything else yields
  /// errc::bad_payload.
  static caf::expected<actor_id> parse(std::string_view text);

  const std::string& type() const noexcept { return type_; }
  const std::string& key() const noexcept { return key_; }

  /// FNV-1a-64 over `type + '\0' + key`, mod partition_count.
  uint32_t partition() const noexcept;

  friend auto operator<=>(const actor_id&, const actor_id&) = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, actor_id& x) {
    return f(x.type_, x.key_);
  }

 private:
  std::string type_;
  std::string key_;
};

/// "type/key".
std::string to_string(const actor_id& id);

/// 64-bit FNV-1a over `bytes`, continuing from `seed`.
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL) noexcept;

}  // namespace keel

template <>
struct std::hash<keel::actor_id> {
  size_t operator()(const keel::actor_id& id) const noexcept;
};
