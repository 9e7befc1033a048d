#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keel::detail {

/// The store writer's memory of the versions stored under state keys, so that a commit's
/// version check needs no LevelDB read. Kept per partition because a partition's range
/// can change under it (a handoff ingests or drops it): the writer then forgets that
/// partition, and the cache always agrees with the disk. Bounded: when full it forgets
/// everything. Thread safety: none; only the store writer's thread uses it.
class version_cache {
 public:
  explicit version_cache(size_t capacity);

  std::optional<uint64_t> find(const std::string& state_key) const;
  /// Requires: `state_key` starts with a partition prefix (storage_keys.hpp).
  void put(const std::string& state_key, uint64_t version);
  void forget_partition(uint32_t partition);
  void clear();
  size_t size() const noexcept { return size_; }

 private:
  using map = std::unordered_map<std::string, uint64_t>;
  map* partition_of(std::string_view state_key);
  const map* partition_of(std::string_view state_key) const;

  std::vector<map> by_partition_;
  size_t size_ = 0;
  size_t capacity_;
};

}  // namespace keel::detail
