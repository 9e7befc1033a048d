#include "keel/cluster/lease_keeper.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

using namespace std::chrono_literals;

lease_keeper::lease_keeper(const membership_options& opts, std::string own_key,
                           std::shared_ptr<spdlog::logger> log)
    : opts_(opts), own_key_(std::move(own_key)), log_(std::move(log)) {}

lease_keeper::~lease_keeper() {
  stop();
}

// Coarse: a reading lags steady_clock by under one kernel tick (a few ms). `sent` lags as
// much as the check does, so the fence may stay open at most one tick longer than read
// with steady_clock: far inside fence_margin.
int64_t lease_keeper::now_ns() const noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.clock->now().time_since_epoch())
      .count();
}

caf::error lease_keeper::register_once(etcd_client& etcd, Member me) {
  auto sent = now_ns();
  auto lease = etcd.grant_lease(opts_.lease_ttl);
  if (!lease) return std::move(lease.error());
  me.set_started_ms(opts_.wall->now_ms());
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
  me_ = std::move(me);
  lease_.store(lease->id());
  own_revision_.store(res->header().revision());
  valid_until_ns_.store(sent + std::chrono::nanoseconds{opts_.lease_ttl}.count() -
                        std::chrono::nanoseconds{opts_.fence_margin}.count());
  registered_.store(true);
  return {};
}

void lease_keeper::start(tick_fn on_tick) {
  on_tick_ = std::move(on_tick);
  thread_ = std::thread{[this] { keepalive_loop(); }};
}

void lease_keeper::wake() {
  woken_.store(true);
  wake_.notify_all();
}

bool lease_keeper::own_key_deleted(int64_t revision) {
  if (revision <= own_revision_.load()) return false;
  auto seen = lost_key_revision_.load();
  while (seen < revision && !lost_key_revision_.compare_exchange_weak(seen, revision)) {
  }
  wake_.notify_all();
  return true;
}

void lease_keeper::keepalive_loop() {
  name_this_thread("keel.lease");
  etcd_client etcd{opts_.etcd, opts_.etcd_tls};
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.lease_ttl) / 3;
  bool failing = false;
  auto next_wait = interval;
  while (!stopping_.load()) {
    {
      std::unique_lock lock{wake_mutex_};
      wake_.wait_for(lock, next_wait, [this] {
        return stopping_.load() || lost_key_revision_.load() != 0 || woken_.load();
      });
    }
    if (stopping_.load()) break;
    // A deletion reported while this loop registered again (after a pause, the keepalive
    // found the lease gone) is of the old key: registering once more would fail against
    // the new one, and no keepalive would run until it lapsed.
    if (lost_key_revision_.exchange(0) > own_revision_.load()) registered_.store(false);
    if (!registered_.load()) {
      if (auto err = register_once(etcd, me_)) {
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
    woken_.store(false);
    if (on_tick_) on_tick_(etcd);
    next_wait = keep_alive(etcd, failing);
  }
}

std::chrono::milliseconds lease_keeper::keep_alive(etcd_client& etcd, bool& failing) {
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.lease_ttl) / 3;
  auto sent = now_ns();
  auto ttl = etcd.keep_alive(lease_.load());
  if (!ttl) {
    if (!failing) log_->warn("membership: keepalive failed: {}", message_of(ttl.error()));
    failing = true;
    return 100ms;  // the fence may close soon: try again quickly
  }
  if (*ttl <= 0) {
    registered_.store(false);
    log_->warn("membership: lease {} expired; fenced until registered again", lease_.load());
    return 0ms;
  }
  // The fence closes by itself when a keepalive is late (a loaded machine, a slow etcd):
  // say so when it reopens, since nothing else marks the moment.
  auto closed_ns = now_ns() - valid_until_ns_.load();
  if (closed_ns > 0 && valid_until_ns_.load() > 0)
    log_->warn("membership: the fence was closed for {} ms: no keepalive answered in time",
               closed_ns / 1000000);
  valid_until_ns_.store(sent + std::chrono::nanoseconds{std::chrono::seconds{*ttl}}.count() -
                        std::chrono::nanoseconds{opts_.fence_margin}.count());
  if (failing) log_->info("membership: keepalive answered again");
  failing = false;
  return interval;
}

void lease_keeper::close() {
  registered_.store(false);
}

void lease_keeper::stop() {
  if (stopping_.exchange(true)) return;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  registered_.store(false);
}

bool lease_keeper::is_open() const noexcept {
  return registered_.load(std::memory_order_acquire) &&
         now_ns() < valid_until_ns_.load(std::memory_order_acquire);
}

std::string lease_keeper::why_closed() const {
  if (stopping_.load()) return "node left the cluster";
  if (!registered_.load())
    return lease_.load() == 0 ? "not registered in etcd yet"
                              : "not registered in etcd (membership lost; registering again)";
  auto closed_ms = (now_ns() - valid_until_ns_.load()) / 1000000;
  return "no etcd keepalive answered in time: fenced for " + std::to_string(closed_ms) +
         " ms (the lease may have expired)";
}

}  // namespace keel::cluster
