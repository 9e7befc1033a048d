#include "keel/cluster/partition_placement.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/coordinator_election.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/shared_etcd_client.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

using namespace std::chrono_literals;

partition_placement::partition_placement(const cluster_keys& keys, std::string node_id,
                                         cluster_view& view, const coordinator_election& election,
                                         shared_etcd_client& writer,
                                         const std::atomic<bool>& stopping,
                                         const monotonic_clock& clock, size_t replication_factor,
                                         std::shared_ptr<spdlog::logger> log)
    : keys_(keys),
      node_id_(std::move(node_id)),
      view_(view),
      election_(election),
      writer_(writer),
      stopping_(stopping),
      clock_(clock),
      replicas_(replication_factor > 0 ? replication_factor - 1 : 0),
      log_(std::move(log)) {}

namespace {

// Over "id/p", so every node computes the same scores. The seed is not FNV's offset basis
// (a digit short) and stays so: another would move partitions of running clusters.
uint64_t rendezvous_score(uint32_t p, const std::string& id) {
  uint64_t h = fnv1a64(std::to_string(p), fnv1a64("/", fnv1a64(id, 1469598103934665603ull)));
  // FNV-1a alone barely spreads keys that differ in their last bytes ("n1/7", "n2/7"): one
  // node got half the share of the others. A 64-bit finalizer (MurmurHash3's fmix64)
  // spreads them.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::string partition_placement::rendezvous_owner(uint32_t p,
                                                  const std::vector<std::string>& node_ids) {
  std::string best;
  uint64_t best_score = 0;
  for (const auto& id : node_ids) {
    auto h = rendezvous_score(p, id);
    if (best.empty() || h > best_score) {
      best = id;
      best_score = h;
    }
  }
  return best;
}

std::vector<std::string> partition_placement::rendezvous_replicas(
    uint32_t p, const std::string& owner, const std::vector<std::string>& node_ids, size_t count) {
  std::vector<std::pair<uint64_t, const std::string*>> ranked;
  for (const auto& id : node_ids)
    if (id != owner) ranked.emplace_back(rendezvous_score(p, id), &id);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < ranked.size() && out.size() < count; ++i) out.push_back(*ranked[i].second);
  return out;
}

caf::error partition_placement::place(const std::vector<uint32_t>& wanted) {
  std::vector<uint32_t> todo;
  for (auto p : wanted)
    if (!view_.partition(p)) todo.push_back(p);
  std::sort(todo.begin(), todo.end());  // etcd refuses a transaction naming a key twice
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  if (todo.empty()) return {};
  auto etcd = writer_.borrow();
  auto coordinator_id = view_.coordinator();
  // Right after a coordinator's death the office is vacant until someone campaigns; a node
  // that just joined may not have seen the election in its watch yet. Bounded by time:
  // the shared etcd client is held, and drains and table writes wait for it.
  auto give_up = clock_.now() + 1s;
  auto seen = view_.current();
  while (coordinator_id.empty() && !stopping_.load()) {
    coordinator_id = election_.coordinator_in_etcd(*etcd);
    auto left = std::chrono::ceil<std::chrono::milliseconds>(give_up - clock_.now());
    if (!coordinator_id.empty() || left.count() <= 0) break;
    // An election shows up in the view (the watch, or this node's own campaign); etcd is
    // asked again at least every 100 ms in case the watch lags.
    seen = view_.wait_for_change(seen, std::min<std::chrono::milliseconds>(left, 100ms));
    coordinator_id = seen->coordinator;
  }
  if (coordinator_id.empty())
    return make_error(errc::unavailable, "partition " + std::to_string(todo.front()) +
                                             " has no owner and no coordinator is elected yet");
  auto up = view_.placement_targets();
  // etcd takes at most 128 conditions per transaction: the election check, and per partition
  // its absence and at most two about its owner.
  constexpr size_t per_transaction = 42;
  for (size_t first = 0; first < todo.size(); first += per_transaction) {
    std::vector<uint32_t> chunk(
        todo.begin() + static_cast<std::ptrdiff_t>(first),
        todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), first + per_transaction)));
    if (auto err = place_chunk_until_done(*etcd, std::move(chunk), coordinator_id, up)) return err;
  }
  log_->debug("membership: placed {} partitions", todo.size());
  return {};
}

caf::error partition_placement::place_chunk_until_done(etcd_client& etcd,
                                                       std::vector<uint32_t> chunk,
                                                       std::string& coordinator_id,
                                                       std::vector<std::string>& up) {
  // A refused transaction adopted the partitions placed meanwhile; the others are tried
  // again as etcd says now: the office may have moved, or an owner begun to leave, before
  // this node's watch showed it.
  constexpr int attempts = 5;
  auto refuse = [&chunk](const std::string& why) {
    return make_error(errc::unavailable, "partition " + std::to_string(chunk.front()) +
                                             " could not be placed: " + why);
  };
  for (int attempt = 1;; ++attempt) {
    std::erase_if(chunk, [this](uint32_t p) { return view_.partition(p).has_value(); });
    if (chunk.empty()) return {};
    auto outcome = place_chunk(etcd, chunk, coordinator_id, up);
    if (outcome == chunk_outcome::placed) return {};
    if (outcome == chunk_outcome::failed) return refuse("etcd did not answer");
    if (attempt == attempts || stopping_.load())
      return refuse(fmt::format(
          "the coordinator or the members changed {} times meanwhile (coordinator {}, targets {})",
          attempt, coordinator_id, fmt::join(up, ",")));
    coordinator_id = election_.coordinator_in_etcd(etcd);
    auto fresh = placement_targets_in_etcd(etcd);
    if (coordinator_id.empty() || !fresh) return refuse("no coordinator, or etcd did not answer");
    up = std::move(*fresh);
    log_->debug("membership: placing {} partitions again (attempt {}): the view was stale",
                chunk.size(), attempt + 1);
  }
}

partition_placement::chunk_outcome partition_placement::place_chunk(
    etcd_client& etcd, const std::vector<uint32_t>& chunk, const std::string& coordinator_id,
    const std::vector<std::string>& up) {
  etcd::TxnRequest txn;
  election_.require_coordinator(txn, coordinator_id);
  std::vector<PartitionRecord> records;
  std::set<std::string> owners;
  for (auto p : chunk) {
    auto key = keys_.partition(p);
    etcd_client::require_absent(txn, key);
    PartitionRecord rec;
    // Every member is leaving (a whole cluster stopping): place here meanwhile.
    rec.set_owner(up.empty() ? node_id_ : rendezvous_owner(p, up));
    rec.set_epoch(1);
    rec.set_state(PartitionRecord::active);
    // Nothing is written yet, so every copy starts in sync.
    for (auto& id : rendezvous_replicas(p, rec.owner(), up, replicas_)) {
      rec.add_isr(id);
      *rec.add_replicas() = std::move(id);
    }
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(to_etcd_json(rec));
    txn.add_failure()->mutable_request_range()->set_key(key);
    owners.insert(rec.owner());
    records.push_back(std::move(rec));
  }
  // An owner that began to drain or left after this node's view was taken would get a
  // partition nobody moves away again before it goes.
  for (const auto& owner : owners) {
    etcd_client::require_present(txn, keys_.member(owner));
    if (!up.empty()) etcd_client::require_absent(txn, keys_.drain_mark(owner));
  }
  auto res = etcd.txn(txn);
  if (!res) {
    log_->warn("membership: placing {} partitions failed: {}", chunk.size(),
               message_of(res.error()));
    return chunk_outcome::failed;
  }
  if (res->succeeded()) {
    std::vector<std::pair<uint32_t, versioned_record>> placed;
    for (size_t i = 0; i < chunk.size(); ++i)
      placed.push_back({chunk[i], {records[i], res->header().revision()}});
    view_.adopt_partitions(placed);
    return chunk_outcome::placed;
  }
  bool all_present = true;
  std::vector<std::pair<uint32_t, versioned_record>> theirs_all;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const auto& range = res->responses(static_cast<int>(i)).response_range();
    std::optional<PartitionRecord> theirs;
    if (range.kvs_size() > 0)
      if (auto rec = parse_partition_record(range.kvs(0).value())) theirs = std::move(*rec);
    if (theirs)
      theirs_all.push_back({chunk[i], {std::move(*theirs), range.kvs(0).mod_revision()}});
    else
      all_present = false;
  }
  view_.adopt_partitions(theirs_all);
  return all_present ? chunk_outcome::placed : chunk_outcome::stale_view;
}

caf::expected<std::vector<std::string>> partition_placement::placement_targets_in_etcd(
    etcd_client& etcd) {
  auto members = etcd.get_prefix(keys_.members);
  if (!members) return std::move(members.error());
  auto marks = etcd.get_prefix(keys_.drain);
  if (!marks) return std::move(marks.error());
  std::set<std::string> draining;
  for (const auto& kv : marks->kvs()) draining.insert(kv.key().substr(keys_.drain.size()));
  std::vector<std::string> out;
  for (const auto& kv : members->kvs())
    if (auto id = kv.key().substr(keys_.members.size()); !draining.count(id)) out.push_back(id);
  return out;
}

}  // namespace keel::cluster
