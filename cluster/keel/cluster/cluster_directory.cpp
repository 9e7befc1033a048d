#include "keel/cluster/cluster_directory.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "keel/cluster/data_identity.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/node_endpoint.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/cluster/peer_link.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

constexpr uint8_t max_hops = 3;

using clock_duration = std::chrono::steady_clock::duration;

// A call that never left this node: it did not run.
void fail_call(const envelope_ptr& env, const std::string& why) {
  if (env->reply) env->reply->complete(make_error(errc::unavailable, why));
}

}  // namespace

cluster_directory::cluster_directory(membership& members, node_runtime& runtime,
                                     caf::actor_system& sys, std::shared_ptr<spdlog::logger> log,
                                     std::function<void(uint32_t)> before_ingest)
    : members_(members),
      runtime_(runtime),
      sys_(sys),
      log_(std::move(log)),
      self_(members.options().node_id),
      links_(
          sys, self_,
          [this](const std::string& lost, const std::string& address) { suspect(lost, address); },
          runtime.options().monotonic, log_, metrics_.wire_damaged) {
  start_handoff(std::move(before_ingest));
  replicas_ =
      std::make_unique<replica_applier>(members_, runtime_.partitions(), sys_, metrics_, log_);
  endpoint_ = spawn_node_endpoint(sys_, runtime_, *handoff_, *replicas_, metrics_);
  if (members_.options().replication_factor > 1) start_replication();
  placer_ = std::thread{[this] { placer_loop(); }};
  start_rebalancer();
}

cluster_directory::~cluster_directory() {
  stop();
}

void cluster_directory::render_metrics(std::string& out) const {
  metrics_.render(out, *members_.snapshot(), self_, members_.options().replication_factor);
}

caf::expected<uint16_t> cluster_directory::publish(const std::string& host, uint16_t port) {
  // With cluster TLS a peer reaches the endpoint only through a mutually authenticated
  // session; nothing listens in plaintext.
  if (sys_.has_openssl_manager()) return caf::openssl::publish(endpoint_, port, host.c_str(), true);
  return sys_.middleman().publish(endpoint_, port, host.c_str(), true);
}

partition_directory::verdict cluster_directory::route(const envelope_ptr& env) {
  auto p = env->target.partition();
  // One atomic load; the record is read in place, not copied.
  auto now = members_.snapshot();
  const auto* rec = now->partition(p);
  if (!rec) {
    std::unique_lock lock{held_mutex_};
    if (stopping_) {
      lock.unlock();
      fail_call(env, "node is stopping");
    } else if (held_.size() >= max_held) {
      lock.unlock();
      if (env->reply)
        env->reply->complete(make_error(errc::overloaded, "too many calls wait for placement"));
    } else {
      held_.push_back(env);
      held_cv_.notify_one();
    }
    return verdict::taken;
  }
  // Held while the partition moves, and when the sender routed by a newer epoch than this
  // node knows: its table is behind (the watch lags), and forwarding by it would bounce the
  // call back to where it came from.
  if ((is_moving(p, *rec) || env->epoch > rec->epoch()) && hold_moving(env, p))
    return verdict::taken;
  if (rec->owner() == self_) {
    env->epoch = rec->epoch();
    return verdict::local;
  }
  forward(env, *now, rec->owner(), rec->epoch());
  return verdict::taken;
}

bool cluster_directory::is_moving(uint32_t p, const PartitionRecord& rec) const {
  return rec.state() == PartitionRecord::moving || releasing_[p].load(std::memory_order_acquire);
}

bool cluster_directory::hold_moving(const envelope_ptr& env, uint32_t p) {
  return moving_held_.hold(env, p, [&] {
    auto now = members_.snapshot();
    const auto* rec = now->partition(p);
    return rec && (is_moving(p, *rec) || env->epoch > rec->epoch());
  });
}

void cluster_directory::on_partition(uint32_t p, const std::optional<PartitionRecord>& before,
                                     const std::optional<PartitionRecord>& after) {
  if (!after || after->state() == PartitionRecord::moving) return;  // a move starts: route() holds
  if (after->owner() == self_) {
    std::lock_guard lock{opening_mutex_};
    bool aborted = releasing_[p].exchange(false);
    // Handed here: by a flip the watch reported, or by one that happened before this node's
    // first read of the table (a joining node receives streams at once), which then shows
    // it as this node's with no change seen; or promoted here from a copy.
    bool ingested = ingested_[p].exchange(false);
    bool arrived = ingested || (before && before->owner() != self_);
    // Open before the held calls are delivered, which would otherwise find it closed.
    if (aborted || arrived || runtime_.partitions().is_closed(p)) {
      runtime_.partitions().open(p);
      if (aborted) log_->warn("handoff: move of partition {} aborted; serving it again", p);
    }
  } else {
    // Handed off from here (the table names the new owner), or a move to here was aborted
    // (the record went from moving-to-here back to its owner). Only that transition counts:
    // a node that joins receives streams before its first read of the table, whose records
    // are older than those streams and must not drop them.
    bool handed_off = releasing_[p].exchange(false);
    bool aborted_to_here = before && before->state() == PartitionRecord::moving &&
                           before->to() == self_ && ingested_[p].exchange(false);
    // Promoted to a replica while this node could not serve (paused, cut off): its
    // activations and reminders must go, and its copy, which may lack acknowledged writes.
    bool replaced = !handed_off && before && before->owner() == self_;
    if (handed_off || aborted_to_here) {
      log_->debug("handoff: partition {} is {}'s at epoch {}: dropping the copy here", p,
                  after->owner(), after->epoch());
      handoff_->drop(p);
    } else if (replaced) {
      log_->warn(
          "failover: partition {} was given to {} at epoch {} while this node held it: "
          "closing it and dropping the copy here",
          p, after->owner(), after->epoch());
      runtime_.partitions().close(p, [] {});
      handoff_->drop(p);
    }
  }
  release_held(p);
}

void cluster_directory::release_held(uint32_t p) {
  moving_held_.release(
      p, [this](envelope_ptr env) { runtime_.partitions().redeliver(std::move(env)); });
}

wire_reply cluster_directory::ask_handoff(const std::string& owner, const wire_handoff& req) {
  if (owner == self_) {
    auto answered = std::make_shared<std::promise<wire_reply>>();
    auto reply = answered->get_future();
    handoff_->hand_off(req, [answered](wire_reply r) { answered->set_value(std::move(r)); });
    return reply.get();
  }
  auto link = member_link(owner);
  if (!link) return failed_reply(errc::unavailable, "node " + owner + " is down");
  return ask_link(sys_, link, req);
}

caf::actor cluster_directory::member_link(const std::string& node_id) {
  auto address = members_.cluster_address_of(node_id);
  return address.empty() ? caf::actor{} : links_.link_to(node_id, address);
}

size_t cluster_directory::owned_partitions() const {
  size_t n = 0;
  members_.snapshot()->partitions.for_each(
      [&](uint32_t, const versioned_record& rec) { n += holds_or_receives(rec.record, self_); });
  return n;
}

std::optional<partition_directory::placement> cluster_directory::locate(uint32_t partition) const {
  auto now = members_.snapshot();
  const auto* rec = now->partition(partition);
  if (!rec) return std::nullopt;
  auto member = now->members.find(rec->owner());
  return placement{rec->owner(), rec->epoch(),
                   member == now->members.end() ? std::string{} : member->second.http_address()};
}

void cluster_directory::forward(const envelope_ptr& env, const cluster_snapshot& now,
                                const std::string& owner, uint64_t epoch) {
  auto p = env->target.partition();
  if (env->hops >= max_hops)
    return fail_call(env, "partition " + std::to_string(p) + " bounced between nodes " +
                              std::to_string(env->hops) + " times");
  if (forwarding_stopped_.load(std::memory_order_acquire))
    return fail_call(env, "node is stopping");
  // Answered meanwhile (a held call failed at its deadline): it must never run.
  if (env->reply && env->reply->done()) return;
  auto member = now.members.find(owner);
  const std::string* address =
      member == now.members.end() ? nullptr : &member->second.cluster_address();
  // Never reassigned: a partition whose owner is gone waits for it (no replicas yet).
  if (!address || address->empty())
    return fail_call(env, "partition " + std::to_string(p) + " of " + to_string(env->target) +
                              " is owned by node " + owner + ", which is down");
  wire_call call;
  call.target_type = env->target.type();
  call.target_key = env->target.key();
  call.message_type = env->message_type;
  call.payload = env->payload->SerializeAsString();  // the one serialization, at the boundary
  call.epoch = epoch;
  auto sent_at = runtime_.monotonic().now();  // the clock the deadline was set on
  call.budget_ms =
      env->reply
          ? std::chrono::duration_cast<std::chrono::milliseconds>(env->reply->deadline() - sent_at)
                .count()
          : 5000;
  if (call.budget_ms <= 0)
    return (void)(env->reply &&
                  env->reply->complete(
                      make_error(errc::timeout, "deadline passed before " + to_string(env->target) +
                                                    " was forwarded to node " + owner)));
  if (env->trace.valid()) call.trace = env->trace.to_hex();
  call.parent_span = env->parent_span.value();
  call.caller = env->caller;
  call.hops = static_cast<uint8_t>(env->hops + 1);
  call.one_way = env->reply == nullptr;
  metrics_.calls_sent.add();
  caf::anon_send(links_.link_to(owner, *address), forward_atom::value, env, std::move(call));
}

std::optional<std::string> cluster_directory::unreachable_member(
    std::chrono::milliseconds limit) const {
  return links_.unreachable_member(members_.members(), limit);
}

std::string cluster_directory::link_state(const std::string& node_id) const {
  return links_.link_state(node_id);
}

void cluster_directory::suspect(const std::string& node_id, const std::string& address) {
  // The lease as the refusal found it: by the time the suspicion is acted on, a new process
  // on the same port may have registered with another.
  auto lease = members_.lease_of(node_id);
  {
    std::lock_guard lock{held_mutex_};
    suspects_.push_back({node_id, address, std::move(lease)});
  }
  held_cv_.notify_one();
}

void cluster_directory::watch_members() {
  for (const auto& m : members_.members())
    if (m.node_id() != self_ && !m.cluster_address().empty())
      caf::anon_send(links_.link_to(m.node_id(), m.cluster_address()), watch_atom::value);
}

caf::error cluster_directory::record_owned_partitions(const cluster_snapshot& now) {
  std::vector<store_write> batch;
  std::vector<std::pair<uint32_t, uint64_t>> added;
  now.partitions.for_each([&](uint32_t p, const versioned_record& versioned) {
    const auto& rec = versioned.record;
    if (rec.owner() != self_) return;
    auto it = recorded_.find(p);
    if (it != recorded_.end() && it->second == rec.epoch()) return;
    batch.push_back({partition_epoch_record(p), std::to_string(rec.epoch())});
    added.emplace_back(p, rec.epoch());
  });
  if (batch.empty()) return {};
  if (auto err = runtime_.partitions().write_meta(batch)) return err;
  for (auto& [p, epoch] : added) recorded_[p] = epoch;
  return {};
}

void cluster_directory::record_owned_partitions_or_warn() {
  auto now = members_.snapshot();
  if (auto err = record_owned_partitions(*now))
    log_->warn("cluster: could not record owned partitions: {}", message_of(err));
  else
    recorded_revision_ = now->revision;
}

void cluster_directory::placer_loop() {
  name_this_thread("keel.placer");
  const auto& clock = runtime_.monotonic();
  auto next_watch = clock.now();
  while (true) {
    std::deque<envelope_ptr> waiting;
    std::vector<suspicion> suspects;
    {
      std::unique_lock lock{held_mutex_};
      // A wait for, not until: the condition variable waits on steady_clock, and `clock`
      // may be ahead of it (a test advanced it).
      held_cv_.wait_for(lock, std::max(next_watch - clock.now(), clock_duration{0}),
                        [this] { return stopping_ || !held_.empty() || !suspects_.empty(); });
      if (stopping_) return;
      suspects.swap(suspects_);
      waiting.swap(held_);
    }
    // Every member gets a link that stays connected, so that a death is seen at once.
    if (clock.now() >= next_watch) {
      watch_members();
      // Also those other nodes placed here; the table is copied only when the watch moved.
      if (members_.revision() != recorded_revision_) record_owned_partitions_or_warn();
      if (catch_up_) catch_up_->scan(*members_.snapshot());
      next_watch = clock.now() + 200ms;
    }
    for (const auto& [node_id, address, lease] : suspects) {
      // Only on a refused connection (the process is gone: a hung peer's port still accepts),
      // so one slow link never gets a live node declared down. The coordinator acts; so
      // does any unfenced member when the dead one is the coordinator itself, which
      // otherwise would be declared down by nobody until its lease lapsed.
      bool coordinator_died = node_id == members_.coordinator() && members_.is_open();
      if (!members_.is_coordinator() && !coordinator_died) continue;
      if (auto err = members_.declare_down(node_id, address, lease))
        log_->warn("cluster: could not declare {} down: {}", node_id, message_of(err));
    }
    if (waiting.empty()) continue;
    // Everything that waited is placed together: one etcd transaction per 60 partitions.
    std::vector<uint32_t> partitions;
    for (const auto& env : waiting) partitions.push_back(env->target.partition());
    auto err = members_.place(partitions);
    // Recorded before the first turn runs on them.
    record_owned_partitions_or_warn();
    for (auto& env : waiting) {
      if (members_.partition(env->target.partition())) {
        runtime_.partitions().redeliver(std::move(env));
      } else if (env->reply) {
        env->reply->complete(
            err ? err
                : make_error(errc::unavailable, "partition " +
                                                    std::to_string(env->target.partition()) +
                                                    " could not be placed"));
      }
    }
  }
}

void cluster_directory::stop() {
  forwarding_stopped_.store(true, std::memory_order_release);
  {
    std::lock_guard lock{held_mutex_};
    if (stopping_) return;
    stopping_ = true;
  }
  held_cv_.notify_all();
  if (rebalancer_) rebalancer_->stop();
  if (placer_.joinable()) placer_.join();
  if (gate_) gate_->learners()->stop();  // a catch-up waiting for its learner ends
  if (catch_up_) catch_up_->stop();
  if (handoff_) handoff_->stop();
  if (gate_) gate_->stop();
  for (auto& env : held_) fail_call(env, "node is stopping");
  held_.clear();
  moving_held_.stop();
  links_.stop();
  // Waited for: a call already in its mailbox would otherwise run after this directory
  // (whose metrics and handoff it uses) is gone.
  caf::scoped_actor self{sys_};
  self->monitor(endpoint_);
  self->send(endpoint_, stop_atom::value);
  self->receive([](const caf::down_msg&) {});
  replicas_->stop();
}

}  // namespace keel::cluster
