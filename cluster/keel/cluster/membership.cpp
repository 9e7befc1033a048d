#include "keel/cluster/membership.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_event_log.hpp"
#include "keel/cluster/cluster_events.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

using namespace std::chrono_literals;

namespace {

membership_options with_clocks(membership_options opts) {
  if (!opts.clock) opts.clock = std::make_shared<monotonic_clock>();
  if (!opts.wall) opts.wall = make_system_clock();
  return opts;
}

}  // namespace

membership::membership(membership_options opts, std::shared_ptr<spdlog::logger> log)
    : opts_(with_clocks(std::move(opts))),
      keys_(opts_.cluster_name),
      log_(std::move(log)),
      view_(keys_, opts_.node_id, log_),
      lease_(opts_, keys_.member(opts_.node_id), log_),
      writer_(opts_.etcd, opts_.etcd_tls),
      election_(keys_, opts_.node_id, opts_.cluster_name, view_, lease_, writer_, log_),
      placement_(keys_, opts_.node_id, view_, election_, writer_, stopping_, *opts_.clock,
                 opts_.replication_factor, log_),
      table_writer_(keys_, opts_.node_id, view_, election_, writer_),
      drains_(keys_, opts_.cluster_name, view_, writer_, log_),
      progress_(keys_, opts_.node_id, view_, election_, writer_),
      watch_client_(std::make_unique<etcd_client>(opts_.etcd, opts_.etcd_tls)) {
  if (opts_.events)
    view_.set_publish_listener(
        [events = opts_.events](const cluster_snapshot& before, const cluster_snapshot& after,
                                const std::vector<partition_change>& changed) {
          events->record(events_between(before, after, changed));
        });
}

membership::~membership() {
  leave();
}

caf::error membership::join(std::string http_address, std::string cluster_address) {
  Member me;
  me.set_node_id(opts_.node_id);
  me.set_http_address(std::move(http_address));
  me.set_cluster_address(std::move(cluster_address));
  etcd_client etcd{opts_.etcd, opts_.etcd_tls};
  // A process restarted right after a crash finds its predecessor's key until that lease
  // expires: keep trying that long. A live holder keeps its lease, so it is still refused.
  auto give_up = opts_.clock->now() + opts_.lease_ttl + 1s;
  while (auto err = lease_.register_once(etcd, me)) {
    if (code_of(err) != errc::conflict || opts_.clock->now() >= give_up) return err;
    pause_unless_stopping(200ms);
    if (stopping_.load()) return make_error(errc::unavailable, "the node left while joining");
  }
  if (auto err = load(*watch_client_)) {
    lease_.close();
    (void)etcd.revoke_lease(lease_.lease());
    return err;
  }
  election_.campaign_if_vacant(etcd);  // the watch reports the outcome to the others
  lease_.start([this](etcd_client& keeper_etcd) { election_.campaign_if_vacant(keeper_etcd); });
  watch_thread_ = std::thread{[this] { watch_loop(); }};
  return {};
}

caf::error membership::load(etcd_client& etcd) {
  auto res = etcd.get_prefix(keys_.root);
  if (!res) return std::move(res.error());
  auto loaded = view_.load(*res);
  if (loaded.own_key_missing) (void)lease_.own_key_deleted(res->header().revision());
  if (loaded.office_vacant) lease_.wake();
  return {};
}

void membership::on_events(const etcd::WatchResponse& res) {
  // The fence closes before the view publishes what else the response holds: its
  // listeners may open partitions and release held calls, and a node whose key was deleted
  // must start no turn on them.
  auto own_key = keys_.member(opts_.node_id);
  for (const auto& ev : res.events())
    if (ev.type() == etcd::Event::DELETE && ev.kv().key() == own_key &&
        lease_.own_key_deleted(ev.kv().mod_revision()))
      // A deletion of an older registration than the current one is history, not news.
      log_->warn("membership: own key {} was deleted at revision {}; fenced", ev.kv().key(),
                 ev.kv().mod_revision());
  for (auto news : view_.apply(res))
    if (news == cluster_view::news::office_vacant) lease_.wake();  // its thread campaigns
}

void membership::watch_loop() {
  name_this_thread("keel.watch");
  bool reload = false;
  while (!stopping_.load()) {
    if (reload) {
      if (auto err = load(*watch_client_)) {
        log_->warn("membership: cannot read the members: {}", message_of(err));
        pause_unless_stopping(200ms);
        continue;
      }
      reload = false;
    }
    auto from = view_.watched_revision() + 1;
    auto err = watch_client_->watch(keys_.root, from, [this](const etcd::WatchResponse& res) {
      on_events(res);
      return !stopping_.load();
    });
    if (stopping_.load()) break;
    log_->warn("membership: member watch ended ({}); resuming from revision {}",
               err ? message_of(err) : std::string{"closed"}, view_.watched_revision() + 1);
    // A compacted history cannot be resumed: read the current members instead.
    reload = true;
    pause_unless_stopping(200ms);
  }
}

void membership::pause_unless_stopping(std::chrono::milliseconds pause) {
  std::unique_lock lock{stop_mutex_};
  stop_cv_.wait_for(lock, pause, [this] { return stopping_.load(); });
}

caf::expected<PartitionRecord> membership::place(uint32_t p) {
  if (auto err = placement_.place(std::vector<uint32_t>{p})) return err;
  if (auto known = view_.partition(p)) return *known;
  return make_error(errc::unavailable, "partition " + std::to_string(p) + " was not placed");
}

caf::error membership::declare_down(const std::string& node_id, const std::string& cluster_address,
                                    const std::string& lease) {
  auto member = view_.member(node_id);
  // Already gone, or back as a new process (on another port, or on the same one with
  // another lease).
  if (!member || member->cluster_address() != cluster_address || member->lease() != lease)
    return {};
  auto etcd = writer_.borrow();
  if (auto err = etcd->revoke_lease(std::stoll(member->lease()))) return err;
  log_->warn("membership: declared {} down (its port {} refused a connection)", node_id,
             cluster_address);
  if (opts_.events) {
    ClusterEvent ev;
    ev.set_kind("member_declared_down");
    ev.set_node(node_id);
    ev.set_detail("its port " + cluster_address + " refused a connection");
    opts_.events->record(std::move(ev));
  }
  return {};
}

caf::expected<std::optional<PartitionRecord>> membership::partition_in_etcd(uint32_t p) {
  auto etcd = writer_.borrow();
  auto kv = etcd->get(keys_.partition(p));
  if (!kv) return std::move(kv.error());
  if (!*kv) return std::optional<PartitionRecord>{};
  auto rec = parse_partition_record((*kv)->value());
  if (!rec) return std::move(rec.error());
  return std::optional<PartitionRecord>{std::move(*rec)};
}

caf::expected<size_t> membership::partitions_held_in_etcd() {
  auto etcd = writer_.borrow();
  auto table = read_partition_table(*etcd, opts_.cluster_name);
  if (!table) return std::move(table.error());
  size_t held = 0;
  for (const auto& [p, rec] : *table) held += holds_or_receives(rec, opts_.node_id);
  return held;
}

void membership::leave() {
  {
    std::lock_guard guard{stop_mutex_};
    if (stopping_.exchange(true)) return;
  }
  stop_cv_.notify_all();
  watch_client_->stop();
  lease_.stop();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (lease_.lease() == 0) return;  // never joined
  deregister();
}

void membership::deregister() {
  etcd_client etcd{opts_.etcd, opts_.etcd_tls};
  const auto own_key = keys_.member(opts_.node_id);
  const auto own_mark = keys_.drain_mark(opts_.node_id);
  // A drain of this node is done once it leaves owning nothing; a mark left behind would
  // drain it again when it returns. One that leaves still owning partitions (a leave
  // timeout) keeps an operator's drain for its return. The mark goes in the same
  // transaction as the membership: a coordinator that saw a member no longer draining
  // would move partitions back to it.
  etcd::TxnRequest txn;
  auto* ours = txn.add_compare();  // not a successor's registration under this node id
  ours->set_key(own_key);
  ours->set_target(etcd::Compare::LEASE);
  ours->set_result(etcd::Compare::EQUAL);
  ours->set_lease(lease_.lease());
  txn.add_success()->mutable_request_delete_range()->set_key(own_key);
  if (view_.is_draining(opts_.node_id) && view_.owned_by(opts_.node_id) == 0) {
    txn.add_success()->mutable_request_delete_range()->set_key(own_mark);
    txn.add_failure()->mutable_request_delete_range()->set_key(own_mark);
  }
  if (auto res = etcd.txn(txn); !res)
    log_->warn("membership: could not deregister: {}", message_of(res.error()));
  if (auto err = etcd.revoke_lease(lease_.lease()))
    log_->warn("membership: could not revoke lease {}: {}", lease_.lease(), message_of(err));
  else
    log_->info("membership: left cluster '{}'", opts_.cluster_name);
}

}  // namespace keel::cluster
