#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/actor_id.hpp"

namespace keel::cluster {

/// A partition record with the etcd revision it was written at (a table transaction
/// checks it, so that a record changed meanwhile is never overwritten).
struct versioned_record {
  PartitionRecord record;
  int64_t mod_revision = 0;
};

/// The partition table of one snapshot: every partition's record, or none while it was
/// never placed. Copies share what they did not change: set() copies one chunk of 64
/// pointers, so a snapshot per change does not copy 4,096 records.
/// Thread safety: immutable once published; a draft is changed by one thread.
class partition_records {
 public:
  partition_records();

  /// Null while `p` was never placed (or `p` is out of range).
  const versioned_record* find(uint32_t p) const noexcept;
  /// The same record as find(), shared.
  std::shared_ptr<const versioned_record> find_shared(uint32_t p) const;
  void set(uint32_t p, std::shared_ptr<const versioned_record> rec);
  void erase(uint32_t p) { set(p, nullptr); }

  /// Calls `fn(p, const versioned_record&)` for each placed partition, in order.
  template <class F>
  void for_each(F&& fn) const {
    for (uint32_t c = 0; c < chunks_.size(); ++c)
      for (uint32_t i = 0; i < chunk_size; ++i)
        if (const auto& rec = (*chunks_[c])[i]) fn(c * chunk_size + i, *rec);
  }

 private:
  static constexpr uint32_t chunk_size = 64;
  using chunk = std::array<std::shared_ptr<const versioned_record>, chunk_size>;
  std::vector<std::shared_ptr<const chunk>> chunks_;
};

/// The cluster as this node knew it at one etcd revision: members, coordinator, partition
/// table, drain marks and rebalance progress, taken whole. Routing and the rebalancer's
/// planning each read one snapshot, so what they see cannot disagree with itself.
/// Thread safety: immutable once published by cluster_view; read from any thread.
struct cluster_snapshot {
  int64_t revision = 0;
  std::map<std::string, Member> members;
  std::string coordinator;  // empty while there is none
  partition_records partitions;
  std::map<std::string, std::string> draining;  // node id -> reason, members or not
  RebalanceView rebalance;

  const PartitionRecord* partition(uint32_t p) const noexcept {
    const auto* rec = partitions.find(p);
    return rec ? &rec->record : nullptr;
  }
  bool is_member(const std::string& node_id) const { return members.count(node_id) > 0; }
  bool is_draining(const std::string& node_id) const { return draining.count(node_id) > 0; }
  /// Every member not being drained, sorted.
  std::vector<std::string> placement_targets() const;
  /// Partitions the table gives to `node_id`.
  size_t owned_by(const std::string& node_id) const;
};

using snapshot_ptr = std::shared_ptr<const cluster_snapshot>;

/// One change of a partition's record, as one etcd event or one of this node's writes
/// made it (either side nullopt: not placed). A plain value.
struct partition_change {
  uint32_t partition;
  std::optional<PartitionRecord> before;
  std::optional<PartitionRecord> after;
};

}  // namespace keel::cluster
