#include "keel/cluster/membership.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <spdlog/spdlog.h>

#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string membership::member_key(const std::string& cluster, const std::string& node_id) {
  return "keel/" + cluster + "/members/" + node_id;
}

std::string membership::partition_key(const std::string& cluster, uint32_t p) {
  return "keel/" + cluster + "/partitions/" + partition_digits(p);
}

std::string membership::rendezvous_owner(uint32_t p, const std::vector<std::string>& node_ids) {
  std::string best;
  uint64_t best_score = 0;
  for (const auto& id : node_ids) {
    // Over "id/p", so every node computes the same scores. The seed is not FNV's offset
    // basis (a digit short) and stays so: another would move partitions of running clusters.
    uint64_t h = fnv1a64(std::to_string(p), fnv1a64("/", fnv1a64(id, 1469598103934665603ull)));
    // FNV-1a alone barely spreads keys that differ in their last bytes ("n1/7", "n2/7"):
    // one node got half the share of the others. A 64-bit finalizer (MurmurHash3's fmix64)
    // spreads them.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    if (best.empty() || h > best_score) {
      best = id;
      best_score = h;
    }
  }
  return best;
}

membership::membership(membership_options opts, std::shared_ptr<spdlog::logger> log)
    : opts_(std::move(opts)),
      root_("keel/" + opts_.cluster_name + "/"),
      prefix_(root_ + "members/"),
      coordinator_key_(root_ + "coordinator"),
      partitions_prefix_(root_ + "partitions/"),
      drain_prefix_(root_ + "drain/"),
      rebalance_key_(root_ + "rebalance"),
      own_key_(member_key(opts_.cluster_name, opts_.node_id)),
      log_(std::move(log)),
      watch_client_(std::make_unique<etcd_client>(opts_.etcd)) {}

caf::error membership::join(std::string http_address, std::string cluster_address) {
  http_address_ = std::move(http_address);
  cluster_address_ = std::move(cluster_address);
  etcd_client etcd{opts_.etcd};
  // A process restarted right after a crash finds its predecessor's key until that lease
  // expires: keep trying that long. A live holder keeps its lease, so it is still refused.
  auto give_up = std::chrono::steady_clock::now() + opts_.lease_ttl + 1s;
  while (auto err = register_self(etcd)) {
    if (code_of(err) != errc::conflict || std::chrono::steady_clock::now() >= give_up) return err;
    std::this_thread::sleep_for(200ms);
  }
  if (auto err = load_cluster(*watch_client_)) {
    registered_.store(false);
    (void)etcd.revoke_lease(lease_.load());
    return err;
  }
  if (coordinator().empty() && !resigned_.load()) campaign(etcd);  // the watch reports it
  keepalive_thread_ = std::thread{[this] { keepalive_loop(); }};
  watch_thread_ = std::thread{[this] { watch_loop(); }};
  return {};
}

membership::~membership() {
  leave();
}

caf::error membership::register_self(etcd_client& etcd) {
  auto sent = steady_ns();
  auto lease = etcd.grant_lease(opts_.lease_ttl);
  if (!lease) return std::move(lease.error());
  Member me;
  me.set_node_id(opts_.node_id);
  me.set_http_address(http_address_);
  me.set_cluster_address(cluster_address_);
  me.set_started_ms(wall_ms());
  me.set_lease(std::to_string(lease->id()));
  etcd::TxnRequest txn;
  etcd_client::require_absent(txn, own_key_);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(own_key_);
  put->set_value(to_etcd_json(me));
  put->set_lease(lease->id());
  txn.add_failure()->mutable_request_range()->set_key(own_key_);
  auto res = etcd.txn(txn);
  if (!res || !res->succeeded()) {
    (void)etcd.revoke_lease(lease->id());
    if (!res) return std::move(res.error());
    std::string holder;
    if (res->responses_size() > 0 && res->responses(0).response_range().kvs_size() > 0) {
      Member other;
      if (!from_etcd_json(res->responses(0).response_range().kvs(0).value(), other))
        holder = " (http=" + other.http_address() + ", registered at " +
                 std::to_string(other.started_ms()) + " ms since the epoch)";
    }
    return make_error(errc::conflict, "node id '" + opts_.node_id +
                                          "' is already registered in cluster '" +
                                          opts_.cluster_name + "' by a live process" + holder);
  }
  lease_.store(lease->id());
  own_revision_.store(res->header().revision());
  valid_until_ns_.store(sent + std::chrono::nanoseconds{opts_.lease_ttl}.count() -
                        std::chrono::nanoseconds{opts_.fence_margin}.count());
  registered_.store(true);
  return {};
}

void membership::keepalive_loop() {
  etcd_client etcd{opts_.etcd};
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.lease_ttl) / 3;
  bool failing = false;
  auto next_wait = interval;
  while (!stopping_.load()) {
    {
      std::unique_lock lock{wake_mutex_};
      wake_.wait_for(lock, next_wait,
                     [this] { return stopping_.load() || lost_key_.load() || vacancy_.load(); });
    }
    if (stopping_.load()) break;
    if (lost_key_.exchange(false)) registered_.store(false);
    if (!registered_.load()) {
      if (auto err = register_self(etcd)) {
        if (!failing) log_->error("membership: cannot register again: {}", message_of(err));
        failing = true;
        next_wait = 200ms;
        continue;
      }
      log_->warn("membership: registered again as {} (lease {}); the fence is open", opts_.node_id,
                 lease_.load());
      failing = false;
      next_wait = interval;
      continue;
    }
    vacancy_.store(false);
    if (coordinator().empty() && is_open() && !resigned_.load()) campaign(etcd);
    auto sent = steady_ns();
    auto ttl = etcd.keep_alive(lease_.load());
    if (ttl && *ttl > 0) {
      // The fence closes by itself when a keepalive is late (a loaded machine, a slow etcd):
      // say so when it reopens, since nothing else marks the moment.
      auto closed_ns = steady_ns() - valid_until_ns_.load();
      if (closed_ns > 0 && valid_until_ns_.load() > 0)
        log_->warn("membership: the fence was closed for {} ms: no keepalive answered in time",
                   closed_ns / 1000000);
      valid_until_ns_.store(sent + std::chrono::nanoseconds{std::chrono::seconds{*ttl}}.count() -
                            std::chrono::nanoseconds{opts_.fence_margin}.count());
      if (failing) log_->info("membership: keepalive answered again");
      failing = false;
      next_wait = interval;
    } else if (ttl) {
      registered_.store(false);
      log_->warn("membership: lease {} expired; fenced until registered again", lease_.load());
      next_wait = 0ms;
    } else {
      if (!failing) log_->warn("membership: keepalive failed: {}", message_of(ttl.error()));
      failing = true;
      next_wait = 100ms;  // the fence may close soon: try again quickly
    }
  }
}

caf::error membership::load_cluster(etcd_client& etcd) {
  auto res = etcd.get_prefix(root_);
  if (!res) return std::move(res.error());
  std::map<std::string, Member> fresh;
  std::string elected;
  std::map<uint32_t, PartitionRecord> placed;
  std::map<uint32_t, int64_t> placed_revisions;
  std::map<std::string, std::string> draining;
  RebalanceView progress;
  for (const auto& kv : res->kvs()) {
    if (kv.key() == coordinator_key_) {
      elected = kv.value();
      continue;
    }
    if (kv.key() == rebalance_key_) {
      (void)from_etcd_json(kv.value(), progress);
      continue;
    }
    if (kv.key().starts_with(drain_prefix_)) {
      draining[kv.key().substr(drain_prefix_.size())] = kv.value();
      continue;
    }
    if (kv.key().starts_with(partitions_prefix_)) {
      auto p = partition_in(kv.key(), partitions_prefix_);
      if (!p) continue;
      auto rec = parse_partition_record(kv.value());
      if (!rec) {
        log_->warn("membership: ignoring partition {}: {}", *p, message_of(rec.error()));
        continue;
      }
      placed[*p] = std::move(*rec);
      placed_revisions[*p] = kv.mod_revision();
      continue;
    }
    if (kv.key().compare(0, prefix_.size(), prefix_) != 0) continue;
    Member m;
    if (from_etcd_json(kv.value(), m)) {
      log_->warn("membership: ignoring unreadable member record {}", kv.key());
      continue;
    }
    fresh[kv.key().substr(prefix_.size())] = std::move(m);
  }
  bool own_missing = fresh.count(opts_.node_id) == 0;
  std::map<uint32_t, PartitionRecord> before;
  {
    std::unique_lock guard{members_mutex_};
    members_ = std::move(fresh);
    coordinator_ = std::move(elected);
    // Records this node wrote after the snapshot was read (a placement on the placer's
    // thread) are newer than it: kept, not rolled back until the watch repeats them.
    for (const auto& [p, revision] : partition_revisions_)
      if (revision > res->header().revision() && partitions_.count(p)) {
        placed[p] = partitions_[p];
        placed_revisions[p] = revision;
      }
    before = std::move(partitions_);
    partitions_ = placed;
    partition_revisions_ = std::move(placed_revisions);
    draining_ = std::move(draining);
    rebalance_ = std::move(progress);
    revision_ = res->header().revision();
  }
  // A reload (after a compaction) may have skipped events: report what changed.
  for (const auto& [p, rec] : placed) {
    auto it = before.find(p);
    if (it == before.end() || it->second.SerializeAsString() != rec.SerializeAsString())
      notify(p, it == before.end() ? std::nullopt : std::optional{it->second});
  }
  if (own_missing && registered_.load() && res->header().revision() > own_revision_.load())
    lost_key_.store(true);
  if (coordinator().empty()) vacancy_.store(true);
  wake_.notify_all();
  return {};
}

void membership::apply(const std::string& key, const std::string& value, bool deleted,
                       int64_t revision) {
  if (key == coordinator_key_) {
    {
      std::unique_lock guard{members_mutex_};
      coordinator_ = deleted ? std::string{} : value;
      revision_ = std::max(revision_, revision);
    }
    if (deleted) {
      log_->info("membership: the coordinator's office is vacant; campaigning");
      vacancy_.store(true);
      wake_.notify_all();
    } else {
      log_->info("membership: {} is the coordinator", value);
    }
    return;
  }
  if (key.starts_with(partitions_prefix_)) {
    auto p = partition_in(key, partitions_prefix_);
    if (!p) return;
    if (deleted) return notify(*p, apply_partition(*p, nullptr, revision));
    auto rec = parse_partition_record(value);
    if (!rec) {
      log_->warn("membership: ignoring partition {}: {}", *p, message_of(rec.error()));
      return;
    }
    notify(*p, apply_partition(*p, &*rec, revision));
    return;
  }
  if (key == rebalance_key_ || key.starts_with(drain_prefix_)) {
    std::unique_lock guard{members_mutex_};
    if (key == rebalance_key_) {
      rebalance_ = RebalanceView{};
      if (!deleted) (void)from_etcd_json(value, rebalance_);
    } else if (deleted) {
      draining_.erase(key.substr(drain_prefix_.size()));
    } else {
      draining_[key.substr(drain_prefix_.size())] = value;
    }
    revision_ = std::max(revision_, revision);
    return;
  }
  if (key.size() <= prefix_.size() || key.compare(0, prefix_.size(), prefix_) != 0) return;
  auto node_id = key.substr(prefix_.size());
  {
    std::unique_lock guard{members_mutex_};
    if (deleted) {
      members_.erase(node_id);
    } else {
      Member m;
      if (!from_etcd_json(value, m)) members_[node_id] = std::move(m);
    }
    revision_ = std::max(revision_, revision);
  }
  // A deletion of an older registration than the current one is history, not news.
  if (deleted && node_id == opts_.node_id && revision > own_revision_.load()) {
    log_->warn("membership: own key {} was deleted at revision {}; fenced", key, revision);
    lost_key_.store(true);
    wake_.notify_all();
  }
}

void membership::watch_loop() {
  bool reload = false;
  while (!stopping_.load()) {
    if (reload) {
      if (auto err = load_cluster(*watch_client_)) {
        log_->warn("membership: cannot read the members: {}", message_of(err));
        std::this_thread::sleep_for(200ms);
        continue;
      }
      reload = false;
    }
    auto from = revision() + 1;
    auto err = watch_client_->watch(root_, from, [this](const etcd::WatchResponse& res) {
      for (const auto& ev : res.events())
        apply(ev.kv().key(), ev.kv().value(), ev.type() == etcd::Event::DELETE,
              ev.kv().mod_revision());
      return !stopping_.load();
    });
    if (stopping_.load()) break;
    log_->warn("membership: member watch ended ({}); resuming from revision {}",
               err ? message_of(err) : std::string{"closed"}, revision() + 1);
    // A compacted history cannot be resumed: read the current members instead.
    reload = true;
    std::this_thread::sleep_for(200ms);
  }
}

bool membership::campaign(etcd_client& etcd) {
  etcd::TxnRequest txn;
  etcd_client::require_absent(txn, coordinator_key_);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(coordinator_key_);
  put->set_value(opts_.node_id);
  put->set_lease(lease_.load());
  txn.add_failure()->mutable_request_range()->set_key(coordinator_key_);
  auto res = etcd.txn(txn);
  if (!res) {
    log_->warn("membership: campaign for coordinator failed: {}", message_of(res.error()));
    return false;
  }
  // Learn the outcome now rather than from the watch, so placement need not wait for it.
  std::string holder = opts_.node_id;
  if (!res->succeeded()) {
    const auto& range = res->responses(0).response_range();
    holder = range.kvs_size() > 0 ? range.kvs(0).value() : std::string{};
  }
  {
    std::unique_lock guard{members_mutex_};
    if (res->header().revision() >= revision_) coordinator_ = holder;
  }
  if (res->succeeded()) log_->info("membership: elected coordinator of '{}'", opts_.cluster_name);
  return res->succeeded();
}

caf::error membership::declare_down(const std::string& node_id) {
  std::string lease;
  {
    std::shared_lock guard{members_mutex_};
    auto it = members_.find(node_id);
    if (it == members_.end()) return {};  // already gone
    lease = it->second.lease();
  }
  std::lock_guard placing{placer_mutex_};
  if (auto err = placer_client().revoke_lease(std::stoll(lease))) return err;
  log_->warn("membership: declared {} down (its link broke and its port refused a reconnect)",
             node_id);
  return {};
}

std::string membership::coordinator() const {
  std::shared_lock guard{members_mutex_};
  return coordinator_;
}

bool membership::is_coordinator() const {
  return is_open() && coordinator() == opts_.node_id;
}

std::optional<PartitionRecord> membership::partition(uint32_t p) const {
  std::shared_lock guard{members_mutex_};
  auto it = partitions_.find(p);
  if (it == partitions_.end()) return std::nullopt;
  return it->second;
}

std::map<uint32_t, PartitionRecord> membership::partitions() const {
  std::shared_lock guard{members_mutex_};
  return partitions_;
}

caf::expected<PartitionRecord> membership::place(uint32_t p) {
  if (auto err = place(std::vector<uint32_t>{p})) return err;
  if (auto known = partition(p)) return *known;
  return make_error(errc::unavailable, "partition " + std::to_string(p) + " was not placed");
}

caf::error membership::place(const std::vector<uint32_t>& wanted) {
  std::vector<uint32_t> todo;
  for (auto p : wanted)
    if (!partition(p)) todo.push_back(p);
  std::sort(todo.begin(), todo.end());  // etcd refuses a transaction naming a key twice
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  if (todo.empty()) return {};
  std::lock_guard placing{placer_mutex_};
  auto coordinator_id = coordinator();
  // Right after a coordinator's death the office is vacant until someone campaigns; a node
  // that just joined may not have seen the election in its watch yet. Bounded by time:
  // placer_mutex_ is held, and drains and table writes wait for it.
  auto give_up = std::chrono::steady_clock::now() + 1s;
  while (coordinator_id.empty() && !stopping_.load() &&
         std::chrono::steady_clock::now() < give_up) {
    coordinator_id = coordinator_in_etcd();
    if (coordinator_id.empty()) std::this_thread::sleep_for(20ms);
  }
  if (coordinator_id.empty())
    return make_error(errc::unavailable, "partition " + std::to_string(todo.front()) +
                                             " has no owner and no coordinator is elected yet");
  auto up = placement_targets();
  // etcd takes at most 128 conditions per transaction: the election check, and per partition
  // its absence and at most two about its owner.
  constexpr size_t per_transaction = 42;
  for (size_t first = 0; first < todo.size(); first += per_transaction) {
    std::vector<uint32_t> chunk(
        todo.begin() + static_cast<std::ptrdiff_t>(first),
        todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), first + per_transaction)));
    if (auto err = place_chunk_until_done(std::move(chunk), coordinator_id, up)) return err;
  }
  log_->debug("membership: placed {} partitions", todo.size());
  return {};
}

caf::error membership::place_chunk_until_done(std::vector<uint32_t> chunk,
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
    std::erase_if(chunk, [this](uint32_t p) { return partition(p).has_value(); });
    if (chunk.empty()) return {};
    auto outcome = place_chunk(chunk, coordinator_id, up);
    if (outcome == chunk_outcome::placed) return {};
    if (outcome == chunk_outcome::failed) return refuse("etcd did not answer");
    if (attempt == attempts || stopping_.load())
      return refuse(fmt::format(
          "the coordinator or the members changed {} times meanwhile (coordinator {}, targets {})",
          attempt, coordinator_id, fmt::join(up, ",")));
    coordinator_id = coordinator_in_etcd();
    auto fresh = placement_targets_in_etcd();
    if (coordinator_id.empty() || !fresh) return refuse("no coordinator, or etcd did not answer");
    up = std::move(*fresh);
    log_->debug("membership: placing {} partitions again (attempt {}): the view was stale",
                chunk.size(), attempt + 1);
  }
}

membership::chunk_outcome membership::place_chunk(const std::vector<uint32_t>& chunk,
                                                  const std::string& coordinator_id,
                                                  const std::vector<std::string>& up) {
  etcd::TxnRequest txn;
  require_coordinator(txn, coordinator_id);
  std::vector<PartitionRecord> records;
  std::set<std::string> owners;
  for (auto p : chunk) {
    auto key = partition_key(opts_.cluster_name, p);
    etcd_client::require_absent(txn, key);
    PartitionRecord rec;
    // Every member is leaving (a whole cluster stopping): place here meanwhile.
    rec.set_owner(up.empty() ? opts_.node_id : rendezvous_owner(p, up));
    rec.set_epoch(1);
    rec.set_state(PartitionRecord::active);
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
    etcd_client::require_present(txn, member_key(opts_.cluster_name, owner));
    if (!up.empty()) etcd_client::require_absent(txn, drain_prefix_ + owner);
  }
  auto res = placer_client().txn(txn);
  if (!res) {
    log_->warn("membership: placing {} partitions failed: {}", chunk.size(),
               message_of(res.error()));
    return chunk_outcome::failed;
  }
  std::unique_lock guard{members_mutex_};
  if (res->succeeded()) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      partitions_.emplace(chunk[i], records[i]);
      partition_revisions_.emplace(chunk[i], res->header().revision());
    }
    return chunk_outcome::placed;
  }
  bool all_present = true;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const auto& range = res->responses(static_cast<int>(i)).response_range();
    std::optional<PartitionRecord> theirs;
    if (range.kvs_size() > 0)
      if (auto rec = parse_partition_record(range.kvs(0).value())) theirs = std::move(*rec);
    if (theirs) {
      partitions_.emplace(chunk[i], std::move(*theirs));
      partition_revisions_.emplace(chunk[i], range.kvs(0).mod_revision());
    } else {
      all_present = false;
    }
  }
  return all_present ? chunk_outcome::placed : chunk_outcome::stale_view;
}

size_t membership::owned_partitions() const {
  std::shared_lock guard{members_mutex_};
  size_t n = 0;
  for (const auto& [p, rec] : partitions_) n += rec.owner() == opts_.node_id;
  return n;
}

caf::expected<std::vector<std::string>> membership::placement_targets_in_etcd() {
  auto members = placer_client().get_prefix(prefix_);
  if (!members) return std::move(members.error());
  auto marks = placer_client().get_prefix(drain_prefix_);
  if (!marks) return std::move(marks.error());
  std::set<std::string> draining;
  for (const auto& kv : marks->kvs()) draining.insert(kv.key().substr(drain_prefix_.size()));
  std::vector<std::string> out;
  for (const auto& kv : members->kvs())
    if (auto id = kv.key().substr(prefix_.size()); !draining.count(id)) out.push_back(id);
  return out;
}

std::string membership::coordinator_in_etcd() {
  auto res = placer_client().get(coordinator_key_);
  return res && *res ? (*res)->value() : std::string{};
}

std::optional<PartitionRecord> membership::apply_partition(uint32_t p, const PartitionRecord* rec,
                                                           int64_t mod_revision) {
  std::unique_lock guard{members_mutex_};
  std::optional<PartitionRecord> before;
  if (auto it = partitions_.find(p); it != partitions_.end()) before = it->second;
  // Records written by this node's own transactions were applied at once; the watch
  // repeats them later and must not roll back a newer write.
  if (auto it = partition_revisions_.find(p);
      it != partition_revisions_.end() && it->second > mod_revision)
    return before;
  if (rec) {
    partitions_[p] = *rec;
    partition_revisions_[p] = mod_revision;
  } else {
    partitions_.erase(p);
    partition_revisions_.erase(p);
  }
  revision_ = std::max(revision_, mod_revision);
  return before;
}

void membership::notify(uint32_t p, const std::optional<PartitionRecord>& before) {
  if (!listener_) return;
  auto after = partition(p);
  if (before && after && before->SerializeAsString() == after->SerializeAsString()) return;
  listener_(p, before, after);
}

etcd_client& membership::placer_client() {
  if (!placer_client_) placer_client_ = std::make_unique<etcd_client>(opts_.etcd);
  return *placer_client_;
}

void membership::require_coordinator(etcd::TxnRequest& txn, const std::string& id) const {
  auto* elected = txn.add_compare();
  elected->set_key(coordinator_key_);
  elected->set_target(etcd::Compare::VALUE);
  elected->set_result(etcd::Compare::EQUAL);
  elected->set_value(id);
}

std::map<uint32_t, membership::versioned_record> membership::partitions_versioned() const {
  std::shared_lock guard{members_mutex_};
  std::map<uint32_t, versioned_record> out;
  for (const auto& [p, rec] : partitions_) {
    auto it = partition_revisions_.find(p);
    out.emplace(p, versioned_record{rec, it == partition_revisions_.end() ? 0 : it->second});
  }
  return out;
}

caf::error membership::write_partitions(const std::map<uint32_t, versioned_record>& updates) {
  if (!is_coordinator())
    return make_error(errc::conflict, "node " + opts_.node_id + " is not the coordinator");
  std::lock_guard placing{placer_mutex_};
  // etcd takes at most 128 operations per list: 120 partition checks plus the election's.
  constexpr size_t per_transaction = 120;
  std::vector<std::pair<uint32_t, const versioned_record*>> all;
  for (const auto& [p, update] : updates) all.emplace_back(p, &update);
  for (size_t first = 0; first < all.size(); first += per_transaction) {
    auto last = std::min(all.size(), first + per_transaction);
    etcd::TxnRequest txn;
    require_coordinator(txn, opts_.node_id);
    for (size_t i = first; i < last; ++i) {
      auto key = partition_key(opts_.cluster_name, all[i].first);
      auto* same = txn.add_compare();
      same->set_key(key);
      same->set_target(etcd::Compare::MOD);
      same->set_result(etcd::Compare::EQUAL);
      same->set_mod_revision(all[i].second->mod_revision);
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(key);
      put->set_value(to_etcd_json(all[i].second->record));
    }
    auto res = placer_client().txn(txn);
    if (!res) return std::move(res.error());
    if (!res->succeeded())
      return make_error(errc::conflict,
                        "the partition table changed meanwhile (or the coordinator did)");
    // Known at once, not only when the watch reports it: the next step builds on it.
    for (size_t i = first; i < last; ++i)
      notify(all[i].first,
             apply_partition(all[i].first, &all[i].second->record, res->header().revision()));
  }
  return {};
}

caf::error membership::drain(const std::string& node_id, const std::string& reason,
                             drain_scope scope) {
  std::string lease;
  {
    std::shared_lock guard{members_mutex_};
    auto it = members_.find(node_id);
    if (it == members_.end())
      return make_error(errc::not_found, "node '" + node_id + "' is not a member of cluster '" +
                                             opts_.cluster_name + "'");
    lease = it->second.lease();
  }
  etcd::TxnRequest txn;
  // A leave on SIGTERM must not turn an operator's drain, which outlives this process,
  // into one that ends with its lease.
  if (scope == drain_scope::this_run) etcd_client::require_absent(txn, drain_prefix_ + node_id);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(drain_prefix_ + node_id);
  put->set_value(reason);
  if (scope == drain_scope::this_run) put->set_lease(std::stoll(lease));
  std::lock_guard placing{placer_mutex_};
  auto res = placer_client().txn(txn);
  if (!res) return std::move(res.error());
  {
    std::unique_lock guard{members_mutex_};
    draining_[node_id] = reason;
  }
  log_->info("membership: {} is leaving: {}", node_id, reason);
  return {};
}

caf::error membership::cancel_drain(const std::string& node_id) {
  std::lock_guard placing{placer_mutex_};
  auto mark = placer_client().get(drain_prefix_ + node_id);
  if (!mark) return std::move(mark.error());
  if (!*mark) return make_error(errc::not_found, "node '" + node_id + "' is not being drained");
  const auto& found = *mark;
  // Under a lease: the node leaves because it was told to stop (SIGTERM), not drained.
  if (found->lease() != 0)
    return make_error(errc::conflict,
                      "node '" + node_id + "' is stopping, not drained: it leaves anyway");
  etcd::TxnRequest txn;
  auto* unchanged = txn.add_compare();
  unchanged->set_key(found->key());
  unchanged->set_target(etcd::Compare::MOD);
  unchanged->set_result(etcd::Compare::EQUAL);
  unchanged->set_mod_revision(found->mod_revision());
  txn.add_success()->mutable_request_delete_range()->set_key(found->key());
  auto res = placer_client().txn(txn);
  if (!res) return std::move(res.error());
  if (!res->succeeded())
    return make_error(errc::conflict, "the drain of '" + node_id + "' changed meanwhile");
  {
    std::unique_lock guard{members_mutex_};
    draining_.erase(node_id);
  }
  log_->info("membership: the drain of {} was withdrawn", node_id);
  return {};
}

std::vector<std::string> membership::draining() const {
  std::shared_lock guard{members_mutex_};
  std::vector<std::string> out;
  for (const auto& [id, reason] : draining_) out.push_back(id);
  return out;
}

bool membership::is_draining(const std::string& node_id) const {
  std::shared_lock guard{members_mutex_};
  return draining_.count(node_id) > 0;
}

std::vector<std::string> membership::placement_targets() const {
  std::shared_lock guard{members_mutex_};
  std::vector<std::string> out;
  for (const auto& [id, m] : members_)
    if (!draining_.count(id)) out.push_back(id);
  return out;
}

void membership::resign() {
  resigned_.store(true);
  if (coordinator() != opts_.node_id) return;
  etcd::TxnRequest txn;
  require_coordinator(txn, opts_.node_id);
  txn.add_success()->mutable_request_delete_range()->set_key(coordinator_key_);
  std::lock_guard placing{placer_mutex_};
  auto res = placer_client().txn(txn);
  if (!res) {
    log_->warn("membership: could not resign as coordinator: {}", message_of(res.error()));
    return;
  }
  {
    std::unique_lock guard{members_mutex_};
    if (coordinator_ == opts_.node_id) coordinator_.clear();
  }
  log_->info("membership: resigned as coordinator");
}

caf::error membership::publish_rebalance(const RebalanceView& view) {
  etcd::TxnRequest txn;
  require_coordinator(txn, opts_.node_id);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(rebalance_key_);
  put->set_value(to_etcd_json(view));
  std::lock_guard placing{placer_mutex_};
  auto res = placer_client().txn(txn);
  if (!res) return std::move(res.error());
  std::unique_lock guard{members_mutex_};
  rebalance_ = view;
  return {};
}

RebalanceView membership::rebalance() const {
  std::shared_lock guard{members_mutex_};
  return rebalance_;
}

std::string membership::cluster_address_of(const std::string& node_id) const {
  std::shared_lock guard{members_mutex_};
  auto it = members_.find(node_id);
  return it == members_.end() ? std::string{} : it->second.cluster_address();
}

std::vector<Member> membership::members() const {
  std::shared_lock guard{members_mutex_};
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

int64_t membership::revision() const {
  std::shared_lock guard{members_mutex_};
  return revision_;
}

bool membership::is_open() const noexcept {
  return registered_.load(std::memory_order_acquire) &&
         steady_ns() < valid_until_ns_.load(std::memory_order_acquire);
}

std::string membership::why_closed() const {
  if (stopping_.load()) return "node left the cluster";
  if (!registered_.load())
    return lease_.load() == 0 ? "not registered in etcd yet"
                              : "not registered in etcd (membership lost; registering again)";
  auto closed_ms = (steady_ns() - valid_until_ns_.load()) / 1000000;
  return "no etcd keepalive answered in time: fenced for " + std::to_string(closed_ms) +
         " ms (the lease may have expired)";
}

void membership::leave() {
  if (stopping_.exchange(true)) return;
  wake_.notify_all();
  watch_client_->stop();
  if (keepalive_thread_.joinable()) keepalive_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  registered_.store(false);
  if (lease_.load() == 0) return;  // never joined
  etcd_client etcd{opts_.etcd};
  // A drain of this node is done once it leaves owning nothing; a mark left behind would
  // drain it again when it returns. One that leaves still owning partitions (a leave
  // timeout) keeps an operator's drain for its return. The mark goes in the same
  // transaction as the membership: a coordinator that saw a member no longer draining
  // would move partitions back to it.
  etcd::TxnRequest txn;
  auto* ours = txn.add_compare();  // not a successor's registration under this node id
  ours->set_key(own_key_);
  ours->set_target(etcd::Compare::LEASE);
  ours->set_result(etcd::Compare::EQUAL);
  ours->set_lease(lease_.load());
  txn.add_success()->mutable_request_delete_range()->set_key(own_key_);
  if (is_draining(opts_.node_id) && owned_partitions() == 0) {
    txn.add_success()->mutable_request_delete_range()->set_key(drain_prefix_ + opts_.node_id);
    txn.add_failure()->mutable_request_delete_range()->set_key(drain_prefix_ + opts_.node_id);
  }
  if (auto res = etcd.txn(txn); !res)
    log_->warn("membership: could not deregister: {}", message_of(res.error()));
  if (auto err = etcd.revoke_lease(lease_.load()))
    log_->warn("membership: could not revoke lease {}: {}", lease_.load(), message_of(err));
  else
    log_->info("membership: left cluster '{}'", opts_.cluster_name);
}

caf::expected<size_t> membership::partitions_held_in_etcd() {
  std::lock_guard placing{placer_mutex_};
  auto table = read_partition_table(placer_client(), opts_.cluster_name);
  if (!table) return std::move(table.error());
  size_t held = 0;
  for (const auto& [p, rec] : *table) held += holds_or_receives(rec, opts_.node_id);
  return held;
}

}  // namespace keel::cluster
