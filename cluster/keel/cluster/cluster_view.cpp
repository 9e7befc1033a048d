#include "keel/cluster/cluster_view.hpp"

#include <algorithm>
#include <mutex>

#include <google/protobuf/util/message_differencer.h>

#include <spdlog/spdlog.h>

#include "keel/cluster/etcd.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

namespace {

bool same(const PartitionRecord& a, const PartitionRecord& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace

cluster_view::cluster_view(const cluster_keys& keys, std::string node_id,
                           std::shared_ptr<spdlog::logger> log)
    : keys_(keys),
      node_id_(std::move(node_id)),
      log_(std::move(log)),
      current_(std::make_shared<const cluster_snapshot>()) {}

cluster_snapshot cluster_view::read_snapshot(const etcd::RangeResponse& res) const {
  cluster_snapshot out;
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
      out.partitions.set(*p, std::make_shared<const versioned_record>(
                                 versioned_record{std::move(*rec), kv.mod_revision()}));
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

template <class F>
void cluster_view::update(F&& change) {
  changed_partitions changed;
  std::unique_lock write{write_mutex_};
  auto before = current();
  auto draft = std::make_shared<cluster_snapshot>(*before);
  if (!change(*draft, changed)) return;  // nothing changed: no snapshot, no wake-up
  snapshot_ptr after = draft;
  publish(std::move(draft));
  // Taken before the writers' lock is let go: listeners hear of the changes in the order
  // they were published, each (before, after) pair exactly as that change made it.
  std::lock_guard notifying{notify_mutex_};
  write.unlock();
  notify(changed);
  // The first load is where this node's view starts, not a change of the cluster.
  if (published_ && before->revision > 0) published_(*before, *after, changed);
}

void cluster_view::publish(std::shared_ptr<cluster_snapshot> next) {
  current_.store(std::move(next), std::memory_order_release);
  std::lock_guard guard{changed_mutex_};
  changed_.notify_all();
}

snapshot_ptr cluster_view::wait_for_change(const snapshot_ptr& seen,
                                           std::chrono::milliseconds timeout) const {
  std::unique_lock lock{changed_mutex_};
  changed_.wait_for(lock, timeout, [&] { return current() != seen; });
  return current();
}

cluster_view::load_outcome cluster_view::load(const etcd::RangeResponse& res) {
  auto fresh = read_snapshot(res);
  auto read_at = res.header().revision();
  load_outcome out;
  out.own_key_missing = !fresh.is_member(node_id_);
  out.office_vacant = fresh.coordinator.empty();
  update([&](cluster_snapshot& draft, changed_partitions& changed) {
    // Records this node wrote after the snapshot was read (a placement on the placer's
    // thread) are newer than it: kept, not rolled back until the watch repeats them.
    draft.partitions.for_each([&](uint32_t p, const versioned_record& rec) {
      if (rec.mod_revision > read_at) fresh.partitions.set(p, draft.partitions.find_shared(p));
    });
    // A reload (after a compaction) may have skipped events: report what changed, records
    // that are gone included.
    auto record_of = [](const versioned_record* rec) {
      return rec ? std::optional{rec->record} : std::nullopt;
    };
    fresh.partitions.for_each([&](uint32_t p, const versioned_record& rec) {
      const auto* before = draft.partitions.find(p);
      if (!before || !same(before->record, rec.record))
        changed.push_back({p, record_of(before), rec.record});
    });
    draft.partitions.for_each([&](uint32_t p, const versioned_record& rec) {
      if (!fresh.partitions.find(p)) changed.push_back({p, rec.record, std::nullopt});
    });
    fresh.revision = read_at;
    draft = std::move(fresh);
    return true;
  });
  watched_.store(read_at, std::memory_order_release);
  return out;
}

std::vector<cluster_view::news> cluster_view::apply(const etcd::WatchResponse& res) {
  std::vector<news> out;
  out.reserve(res.events_size());
  if (res.events_size() == 0) return out;  // created, or progress: nothing to publish
  int64_t watched = 0;
  update([&](cluster_snapshot& draft, changed_partitions& changed) {
    for (const auto& ev : res.events()) {
      out.push_back(apply_event(draft, ev, changed));
      watched = std::max(watched, ev.kv().mod_revision());
    }
    return true;
  });
  if (watched > watched_.load(std::memory_order_acquire))
    watched_.store(watched, std::memory_order_release);
  return out;
}

cluster_view::news cluster_view::apply_event(cluster_snapshot& draft, const etcd::Event& ev,
                                             changed_partitions& changed) {
  const auto& key = ev.kv().key();
  const auto& value = ev.kv().value();
  bool deleted = ev.type() == etcd::Event::DELETE;
  auto revision = ev.kv().mod_revision();
  draft.revision = std::max(draft.revision, revision);
  if (key == keys_.coordinator) return apply_coordinator(draft, value, deleted);
  if (key.starts_with(keys_.partitions)) {
    auto p = partition_in(key, keys_.partitions);
    if (!p) return news::nothing;
    if (deleted) {
      put_partition(draft, *p, nullptr, revision, changed);
    } else if (auto rec = parse_partition_record(value)) {
      put_partition(draft, *p, &*rec, revision, changed);
    } else {
      log_->warn("membership: ignoring partition {}: {}", *p, message_of(rec.error()));
    }
    return news::nothing;
  }
  if (key == keys_.rebalance) {
    draft.rebalance = RebalanceView{};
    if (!deleted) (void)from_etcd_json(value, draft.rebalance);
    return news::nothing;
  }
  if (key.starts_with(keys_.drain)) {
    if (deleted)
      draft.draining.erase(key.substr(keys_.drain.size()));
    else
      draft.draining[key.substr(keys_.drain.size())] = value;
    return news::nothing;
  }
  apply_member(draft, key, value, deleted);
  return news::nothing;
}

cluster_view::news cluster_view::apply_coordinator(cluster_snapshot& draft,
                                                   const std::string& value, bool deleted) {
  draft.coordinator = deleted ? std::string{} : value;
  if (deleted) {
    log_->info("membership: the coordinator's office is vacant; campaigning");
    return news::office_vacant;
  }
  log_->info("membership: {} is the coordinator", value);
  return news::nothing;
}

void cluster_view::apply_member(cluster_snapshot& draft, const std::string& key,
                                const std::string& value, bool deleted) {
  if (key.size() <= keys_.members.size() || !key.starts_with(keys_.members)) return;
  auto node_id = key.substr(keys_.members.size());
  if (deleted) {
    draft.members.erase(node_id);
  } else {
    Member m;
    if (!from_etcd_json(value, m)) draft.members[node_id] = std::move(m);
  }
}

void cluster_view::put_partition(cluster_snapshot& draft, uint32_t p, const PartitionRecord* rec,
                                 int64_t revision, changed_partitions& changed) {
  const auto* known = draft.partitions.find(p);
  // Records written by this node's own transactions were applied at once; the watch
  // repeats them later and must not roll back a newer write.
  if (known && known->mod_revision > revision) return;
  changed.push_back({p, known ? std::optional{known->record} : std::nullopt,
                     rec ? std::optional{*rec} : std::nullopt});
  if (rec)
    draft.partitions.set(
        p, std::make_shared<const versioned_record>(versioned_record{*rec, revision}));
  else
    draft.partitions.erase(p);
  draft.revision = std::max(draft.revision, revision);
}

void cluster_view::notify(const changed_partitions& changed) {
  if (!listener_) return;
  for (const auto& change : changed)
    if (!change.before || !change.after || !same(*change.before, *change.after))
      listener_(change.partition, change.before, change.after);
}

void cluster_view::record_partitions(const std::vector<std::pair<uint32_t, PartitionRecord>>& recs,
                                     int64_t revision) {
  update([&](cluster_snapshot& draft, changed_partitions& changed) {
    for (const auto& [p, rec] : recs) put_partition(draft, p, &rec, revision, changed);
    return !changed.empty();
  });
}

void cluster_view::adopt_partitions(
    const std::vector<std::pair<uint32_t, versioned_record>>& recs) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    bool adopted = false;
    for (const auto& [p, rec] : recs)
      if (!draft.partitions.find(p)) {
        draft.partitions.set(p, std::make_shared<const versioned_record>(rec));
        adopted = true;
      }
    return adopted;
  });
}

void cluster_view::set_coordinator(const std::string& node_id, int64_t revision) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    if (revision < draft.revision || draft.coordinator == node_id) return false;
    draft.coordinator = node_id;
    return true;
  });
}

void cluster_view::clear_coordinator(const std::string& node_id) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    if (draft.coordinator != node_id) return false;
    draft.coordinator.clear();
    return true;
  });
}

void cluster_view::set_draining(const std::string& node_id, const std::string& reason) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    draft.draining[node_id] = reason;
    return true;
  });
}

void cluster_view::clear_draining(const std::string& node_id) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    return draft.draining.erase(node_id) > 0;
  });
}

void cluster_view::set_rebalance(const RebalanceView& view) {
  update([&](cluster_snapshot& draft, changed_partitions&) {
    draft.rebalance = view;
    return true;
  });
}

std::vector<Member> cluster_view::members() const {
  auto now = current();
  std::vector<Member> out;
  out.reserve(now->members.size());
  for (const auto& [id, m] : now->members) out.push_back(m);
  return out;
}

std::optional<Member> cluster_view::member(const std::string& node_id) const {
  auto now = current();
  auto it = now->members.find(node_id);
  if (it == now->members.end()) return std::nullopt;
  return it->second;
}

std::string cluster_view::cluster_address_of(const std::string& node_id) const {
  auto m = member(node_id);
  return m ? m->cluster_address() : std::string{};
}

std::optional<PartitionRecord> cluster_view::partition(uint32_t p) const {
  auto now = current();
  const auto* rec = now->partition(p);
  if (!rec) return std::nullopt;
  return *rec;
}

std::map<uint32_t, PartitionRecord> cluster_view::partitions() const {
  std::map<uint32_t, PartitionRecord> out;
  current()->partitions.for_each(
      [&](uint32_t p, const versioned_record& rec) { out.emplace(p, rec.record); });
  return out;
}

std::vector<std::string> cluster_view::draining() const {
  std::vector<std::string> out;
  for (const auto& [id, reason] : current()->draining) out.push_back(id);
  return out;
}

}  // namespace keel::cluster
