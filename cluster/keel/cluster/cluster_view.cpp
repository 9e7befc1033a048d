#include "keel/cluster/cluster_view.hpp"

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "keel/cluster/etcd.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

struct cluster_view::snapshot {
  std::map<std::string, Member> members;
  std::string coordinator;
  std::map<uint32_t, PartitionRecord> partitions;
  std::map<uint32_t, int64_t> partition_revisions;
  std::map<std::string, std::string> draining;
  RebalanceView rebalance;
};

cluster_view::cluster_view(const cluster_keys& keys, std::string node_id,
                           std::shared_ptr<spdlog::logger> log)
    : keys_(keys), node_id_(std::move(node_id)), log_(std::move(log)) {}

cluster_view::snapshot cluster_view::read_snapshot(const etcd::RangeResponse& res) const {
  snapshot out;
  for (const auto& kv : res.kvs()) {
    const auto& key = kv.key();
    if (key == keys_.coordinator) {
      out.coordinator = kv.value();
    } else if (key == keys_.rebalance) {
      (void)from_etcd_json(kv.value(), out.rebalance);
    } else if (key.starts_with(keys_.drain)) {
      out.draining[key.substr(keys_.drain.size())] = kv.value();
    } else if (key.starts_with(keys_.partitions)) {
      auto p = partition_in(key, keys_.partitions);
      if (!p) continue;
      auto rec = parse_partition_record(kv.value());
      if (!rec) {
        log_->warn("membership: ignoring partition {}: {}", *p, message_of(rec.error()));
        continue;
      }
      out.partitions[*p] = std::move(*rec);
      out.partition_revisions[*p] = kv.mod_revision();
    } else if (key.starts_with(keys_.members)) {
      Member m;
      if (from_etcd_json(kv.value(), m)) {
        log_->warn("membership: ignoring unreadable member record {}", key);
        continue;
      }
      out.members[key.substr(keys_.members.size())] = std::move(m);
    }
  }
  return out;
}

cluster_view::load_outcome cluster_view::load(const etcd::RangeResponse& res) {
  auto fresh = read_snapshot(res);
  auto read_at = res.header().revision();
  load_outcome out;
  out.own_key_missing = fresh.members.count(node_id_) == 0;
  out.office_vacant = fresh.coordinator.empty();
  std::map<uint32_t, PartitionRecord> before;
  {
    std::unique_lock guard{mutex_};
    members_ = std::move(fresh.members);
    coordinator_ = std::move(fresh.coordinator);
    // Records this node wrote after the snapshot was read (a placement on the placer's
    // thread) are newer than it: kept, not rolled back until the watch repeats them.
    for (const auto& [p, revision] : partition_revisions_)
      if (revision > read_at && partitions_.count(p)) {
        fresh.partitions[p] = partitions_[p];
        fresh.partition_revisions[p] = revision;
      }
    before = std::move(partitions_);
    partitions_ = fresh.partitions;
    partition_revisions_ = std::move(fresh.partition_revisions);
    draining_ = std::move(fresh.draining);
    rebalance_ = std::move(fresh.rebalance);
    revision_ = read_at;
  }
  // A reload (after a compaction) may have skipped events: report what changed.
  for (const auto& [p, rec] : fresh.partitions) {
    auto it = before.find(p);
    if (it == before.end() || it->second.SerializeAsString() != rec.SerializeAsString())
      notify(p, it == before.end() ? std::nullopt : std::optional{it->second});
  }
  return out;
}

cluster_view::news cluster_view::apply(const etcd::Event& ev) {
  const auto& key = ev.kv().key();
  const auto& value = ev.kv().value();
  bool deleted = ev.type() == etcd::Event::DELETE;
  auto revision = ev.kv().mod_revision();
  if (key == keys_.coordinator) return apply_coordinator(value, deleted, revision);
  if (key.starts_with(keys_.partitions)) {
    if (auto p = partition_in(key, keys_.partitions))
      apply_partition_event(*p, value, deleted, revision);
    return news::nothing;
  }
  if (key == keys_.rebalance || key.starts_with(keys_.drain)) {
    std::unique_lock guard{mutex_};
    if (key == keys_.rebalance) {
      rebalance_ = RebalanceView{};
      if (!deleted) (void)from_etcd_json(value, rebalance_);
    } else if (deleted) {
      draining_.erase(key.substr(keys_.drain.size()));
    } else {
      draining_[key.substr(keys_.drain.size())] = value;
    }
    revision_ = std::max(revision_, revision);
    return news::nothing;
  }
  return apply_member(key, value, deleted, revision);
}

cluster_view::news cluster_view::apply_coordinator(const std::string& value, bool deleted,
                                                   int64_t revision) {
  {
    std::unique_lock guard{mutex_};
    coordinator_ = deleted ? std::string{} : value;
    revision_ = std::max(revision_, revision);
  }
  if (deleted) {
    log_->info("membership: the coordinator's office is vacant; campaigning");
    return news::office_vacant;
  }
  log_->info("membership: {} is the coordinator", value);
  return news::nothing;
}

void cluster_view::apply_partition_event(uint32_t p, const std::string& value, bool deleted,
                                         int64_t revision) {
  if (deleted) return notify(p, put_partition(p, nullptr, revision));
  auto rec = parse_partition_record(value);
  if (!rec) {
    log_->warn("membership: ignoring partition {}: {}", p, message_of(rec.error()));
    return;
  }
  notify(p, put_partition(p, &*rec, revision));
}

cluster_view::news cluster_view::apply_member(const std::string& key, const std::string& value,
                                              bool deleted, int64_t revision) {
  if (key.size() <= keys_.members.size() || !key.starts_with(keys_.members)) return news::nothing;
  auto node_id = key.substr(keys_.members.size());
  {
    std::unique_lock guard{mutex_};
    if (deleted) {
      members_.erase(node_id);
    } else {
      Member m;
      if (!from_etcd_json(value, m)) members_[node_id] = std::move(m);
    }
    revision_ = std::max(revision_, revision);
  }
  return deleted && node_id == node_id_ ? news::own_key_deleted : news::nothing;
}

std::optional<PartitionRecord> cluster_view::put_partition(uint32_t p, const PartitionRecord* rec,
                                                           int64_t revision) {
  std::unique_lock guard{mutex_};
  std::optional<PartitionRecord> before;
  if (auto it = partitions_.find(p); it != partitions_.end()) before = it->second;
  // Records written by this node's own transactions were applied at once; the watch
  // repeats them later and must not roll back a newer write.
  if (auto it = partition_revisions_.find(p);
      it != partition_revisions_.end() && it->second > revision)
    return before;
  if (rec) {
    partitions_[p] = *rec;
    partition_revisions_[p] = revision;
  } else {
    partitions_.erase(p);
    partition_revisions_.erase(p);
  }
  revision_ = std::max(revision_, revision);
  return before;
}

void cluster_view::notify(uint32_t p, const std::optional<PartitionRecord>& before) {
  if (!listener_) return;
  auto after = partition(p);
  if (before && after && before->SerializeAsString() == after->SerializeAsString()) return;
  listener_(p, before, after);
}

void cluster_view::record_partition(uint32_t p, const PartitionRecord& rec, int64_t revision) {
  notify(p, put_partition(p, &rec, revision));
}

void cluster_view::adopt_partition(uint32_t p, const PartitionRecord& rec, int64_t revision) {
  std::unique_lock guard{mutex_};
  partitions_.emplace(p, rec);
  partition_revisions_.emplace(p, revision);
}

void cluster_view::set_coordinator(const std::string& node_id, int64_t revision) {
  std::unique_lock guard{mutex_};
  if (revision >= revision_) coordinator_ = node_id;
}

void cluster_view::clear_coordinator(const std::string& node_id) {
  std::unique_lock guard{mutex_};
  if (coordinator_ == node_id) coordinator_.clear();
}

void cluster_view::set_draining(const std::string& node_id, const std::string& reason) {
  std::unique_lock guard{mutex_};
  draining_[node_id] = reason;
}

void cluster_view::clear_draining(const std::string& node_id) {
  std::unique_lock guard{mutex_};
  draining_.erase(node_id);
}

void cluster_view::set_rebalance(const RebalanceView& view) {
  std::unique_lock guard{mutex_};
  rebalance_ = view;
}

std::vector<Member> cluster_view::members() const {
  std::shared_lock guard{mutex_};
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

std::optional<Member> cluster_view::member(const std::string& node_id) const {
  std::shared_lock guard{mutex_};
  auto it = members_.find(node_id);
  if (it == members_.end()) return std::nullopt;
  return it->second;
}

std::string cluster_view::cluster_address_of(const std::string& node_id) const {
  std::shared_lock guard{mutex_};
  auto it = members_.find(node_id);
  return it == members_.end() ? std::string{} : it->second.cluster_address();
}

int64_t cluster_view::revision() const {
  std::shared_lock guard{mutex_};
  return revision_;
}

std::string cluster_view::coordinator() const {
  std::shared_lock guard{mutex_};
  return coordinator_;
}

std::optional<PartitionRecord> cluster_view::partition(uint32_t p) const {
  std::shared_lock guard{mutex_};
  auto it = partitions_.find(p);
  if (it == partitions_.end()) return std::nullopt;
  return it->second;
}

std::map<uint32_t, PartitionRecord> cluster_view::partitions() const {
  std::shared_lock guard{mutex_};
  return partitions_;
}

std::map<uint32_t, versioned_record> cluster_view::partitions_versioned() const {
  std::shared_lock guard{mutex_};
  std::map<uint32_t, versioned_record> out;
  for (const auto& [p, rec] : partitions_) {
    auto it = partition_revisions_.find(p);
    out.emplace(p, versioned_record{rec, it == partition_revisions_.end() ? 0 : it->second});
  }
  return out;
}

size_t cluster_view::owned_by(const std::string& node_id) const {
  std::shared_lock guard{mutex_};
  size_t n = 0;
  for (const auto& [p, rec] : partitions_) n += rec.owner() == node_id;
  return n;
}

std::vector<std::string> cluster_view::draining() const {
  std::shared_lock guard{mutex_};
  std::vector<std::string> out;
  for (const auto& [id, reason] : draining_) out.push_back(id);
  return out;
}

bool cluster_view::is_draining(const std::string& node_id) const {
  std::shared_lock guard{mutex_};
  return draining_.count(node_id) > 0;
}

std::vector<std::string> cluster_view::placement_targets() const {
  std::shared_lock guard{mutex_};
  std::vector<std::string> out;
  for (const auto& [id, m] : members_)
    if (!draining_.count(id)) out.push_back(id);
  return out;
}

RebalanceView cluster_view::rebalance() const {
  std::shared_lock guard{mutex_};
  return rebalance_;
}

}  // namespace keel::cluster
