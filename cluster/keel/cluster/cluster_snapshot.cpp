#include "keel/cluster/cluster_snapshot.hpp"

namespace keel::cluster {

partition_records::partition_records()
    : chunks_(partition_count / chunk_size, std::make_shared<const chunk>()) {
  static_assert(partition_count % chunk_size == 0);
}

const versioned_record* partition_records::find(uint32_t p) const noexcept {
  if (p >= partition_count) return nullptr;
  return (*chunks_[p / chunk_size])[p % chunk_size].get();
}

std::shared_ptr<const versioned_record> partition_records::find_shared(uint32_t p) const {
  if (p >= partition_count) return nullptr;
  return (*chunks_[p / chunk_size])[p % chunk_size];
}

void partition_records::set(uint32_t p, std::shared_ptr<const versioned_record> rec) {
  if (p >= partition_count) return;
  auto copy = std::make_shared<chunk>(*chunks_[p / chunk_size]);
  (*copy)[p % chunk_size] = std::move(rec);
  chunks_[p / chunk_size] = std::move(copy);
}

std::vector<std::string> cluster_snapshot::placement_targets() const {
  std::vector<std::string> out;
  for (const auto& [id, m] : members)
    if (!draining.count(id)) out.push_back(id);
  return out;
}

size_t cluster_snapshot::owned_by(const std::string& node_id) const {
  size_t n = 0;
  partitions.for_each(
      [&](uint32_t, const versioned_record& rec) { n += rec.record.owner() == node_id; });
  return n;
}

}  // namespace keel::cluster
