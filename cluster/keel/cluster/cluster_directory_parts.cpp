// How a cluster directory builds its parts and wires them to each other: the handoff, the
// replication gate and catch-up, and the rebalancer (cluster_directory.hpp).
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/node_runtime.hpp"

namespace keel::cluster {

void cluster_directory::start_handoff(std::function<void(uint32_t)> before_ingest) {
  handoff::hooks hooks;
  hooks.link_to = [this](const std::string& node_id) { return member_link(node_id); };
  hooks.begin_release = [this](uint32_t p) {
    // A catch-up of the partition under way ends first (it gives up, unless its replica is
    // being written into `isr`): the move's epoch would refuse its stream and its writes.
    // Cancelled again while it lasts: one that began just now has no learner to cancel yet.
    std::unique_lock lock{opening_mutex_};
    while (catching_up_[p]) {
      if (gate_) gate_->learners()->cancel(p);
      catch_up_ended_.wait_for(lock, std::chrono::milliseconds{100});
    }
    releasing_[p].store(true);
  };
  hooks.ingested = [this](uint32_t p) { ingested_[p].store(true); };
  // The replica appliers keep the sequence they accepted; a new range brings its own.
  hooks.replaced = [this](uint32_t p) {
    if (replicas_) replicas_->forget(p);
  };
  // A batch of an earlier catch-up still arriving must not land between the copy's read of
  // what the range holds and its write, where the copy's erases would miss it: the
  // appliers refuse the partition's batches from now on, and those already handed to the
  // store writer are written before the copy reads the range.
  hooks.replacing = [this](uint32_t p) {
    if (!replicas_) return;
    replicas_->begin_copy(p);
    (void)runtime_.partitions().apply_replicated({}, {});
  };
  hooks.before_ingest = std::move(before_ingest);
  handoff_ =
      std::make_unique<handoff>(members_, runtime_.partitions(), sys_, std::move(hooks), log_);
  members_.set_partition_listener(
      [this](uint32_t p, const std::optional<PartitionRecord>& before,
             const std::optional<PartitionRecord>& after) { on_partition(p, before, after); });
}

void cluster_directory::start_replication() {
  const auto& opts = members_.options();
  gate_ = std::make_shared<replication_gate>(
      members_, runtime_.partitions(), sys_,
      [this](const std::string& node_id) { return member_link(node_id); }, metrics_, log_,
      replication_gate::options{opts.min_insync, opts.replica_timeout});
  runtime_.partitions().set_replicator(gate_);
  replica_catch_up::hooks sync_hooks;
  sync_hooks.link_to = [this](const std::string& node_id) { return member_link(node_id); };
  sync_hooks.begin = [this](uint32_t p) {
    std::lock_guard lock{opening_mutex_};
    if (releasing_[p].load()) return false;  // being handed off: the new owner catches up
    catching_up_[p] = true;
    return true;
  };
  sync_hooks.end = [this](uint32_t p) {
    {
      std::lock_guard lock{opening_mutex_};
      catching_up_[p] = false;
    }
    catch_up_ended_.notify_all();
  };
  catch_up_ =
      std::make_unique<replica_catch_up>(members_, runtime_.partitions(), sys_,
                                         std::move(sync_hooks), gate_->learners(), metrics_, log_);
}

void cluster_directory::start_rebalancer() {
  rebalancer::options opts;
  opts.promoted = [this](size_t n, std::chrono::nanoseconds after) {
    metrics_.promotions.add(n);
    metrics_.failover_seconds.observe(std::chrono::duration<double>(after).count());
  };
  opts.ask_applied = [this](const std::string& node, const std::vector<uint32_t>& ps) {
    return ask_applied(node, ps);
  };
  rebalancer_ = std::make_unique<rebalancer>(
      members_,
      [this](const std::string& owner, const wire_handoff& req) { return ask_handoff(owner, req); },
      runtime_.monotonic(), *members_.options().wall, log_, std::move(opts));
}

std::optional<AppliedSequences> cluster_directory::ask_applied(const std::string& node,
                                                               const std::vector<uint32_t>& ps) {
  wire_reply reply;
  if (node == self_) {
    reply = replicas_->applied(ps);
  } else if (auto link = member_link(node)) {
    reply = ask_link(sys_, link, wire_sequences_ask{ps});
  } else {
    return std::nullopt;
  }
  AppliedSequences out;
  if (reply.code != 0 || !out.ParseFromString(reply.payload)) return std::nullopt;
  return out;
}

}  // namespace keel::cluster
