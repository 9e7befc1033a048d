#include "keel/runtime/detail/version_cache.hpp"

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {

version_cache::version_cache(size_t capacity)
    : by_partition_(partition_count), capacity_(capacity) {}

version_cache::map* version_cache::partition_of(std::string_view state_key) {
  auto p = partition_of_key(state_key);
  return p ? &by_partition_[*p] : nullptr;
}

const version_cache::map* version_cache::partition_of(std::string_view state_key) const {
  auto p = partition_of_key(state_key);
  return p ? &by_partition_[*p] : nullptr;
}

std::optional<uint64_t> version_cache::find(const std::string& state_key) const {
  const auto* versions = partition_of(state_key);
  if (!versions) return std::nullopt;
  auto it = versions->find(state_key);
  if (it == versions->end()) return std::nullopt;
  return it->second;
}

void version_cache::put(const std::string& state_key, uint64_t version) {
  auto* versions = partition_of(state_key);
  if (!versions) return;
  if (size_ >= capacity_) clear();
  auto [it, added] = versions->try_emplace(state_key, version);
  if (added)
    ++size_;
  else
    it->second = version;
}

void version_cache::forget_partition(uint32_t partition) {
  if (partition >= partition_count) return;
  size_ -= by_partition_[partition].size();
  map{}.swap(by_partition_[partition]);
}

void version_cache::clear() {
  for (auto& versions : by_partition_)
    if (!versions.empty()) map{}.swap(versions);
  size_ = 0;
}

}  // namespace keel::detail
