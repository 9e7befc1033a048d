#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace keel {

/// What an actor is placed by: the actor (or group) it lives with. Its partition is the one
/// an actor `type/key` of a type without a partition key would have: FNV-1a-64 over
/// `type + '\0' + key`, mod partition_count. A group needs no actor type of its own
/// ("region/3:4" places every actor whose partition key returns it in one partition).
struct placement_key {
  std::string type;
  std::string key;
};

/// An actor type's partition key (DESIGN.md "Placement affinity"): a pure function of the
/// actor's key, called on any thread for every id made of the type (also while CAF reads one
/// off the wire), so it must be cheap, must not block or throw, and must always give the
/// same answer for the same key. To live with an
/// actor whose type declares a partition key itself, return what that type's function
/// returns for it: the result is hashed as it is, not resolved again.
using partition_key_fn = placement_key (*)(std::string_view key) noexcept;

/// A partition key with the name it is recorded under in the data dir and in etcd: a
/// node whose types declare another name (or none) for a type than what was recorded
/// refuses to start, since the type's actors would be looked for in other partitions than
/// their records are in. Change the name whenever the function maps any key differently.
struct partition_key {
  std::string name;
  partition_key_fn fn = nullptr;
};

/// The partition keys of this process, by actor type name: process-wide because every
/// actor_id computes its partition from them when it is made, wherever it is made.
/// Thread safety: declare() is for wiring (type_builder::partition_key), before the ids of
/// the type are made; find() and placement_of() are safe on any thread at any time.
class partition_keys {
 public:
  /// Declares `type`'s partition key. errc::conflict if the type was declared before with
  /// another name (the first declaration stays); declaring the same name again is a no-op.
  [[nodiscard]] static caf::error declare(std::string_view type, partition_key key);

  /// The type's partition key; nullopt for a type placed by its own id.
  static std::optional<partition_key> find(std::string_view type);

  /// The type's partition key function; null for a type placed by its own id. While no
  /// type declared one, one atomic load.
  static partition_key_fn function_of(std::string_view type) noexcept;

  /// What `type/key` is placed by: the partition key's result, or the id itself.
  static placement_key placement_of(std::string_view type, std::string_view key);

  /// The name recorded for a type without a partition key.
  static constexpr std::string_view default_name = "id";
};

}  // namespace keel
