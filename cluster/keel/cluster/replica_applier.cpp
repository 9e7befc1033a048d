#include "keel/cluster/replica_applier.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

bool well_formed(const wire_partition_writes& part) {
  if (part.partition >= partition_count || part.keys.size() != part.values.size() ||
      part.keys.size() != part.erase.size() || part.seq == 0)
    return false;
  auto range = partition_range(part.partition);
  auto sequence = replica_sequence_key(part.partition);
  return std::all_of(part.keys.begin(), part.keys.end(), [&](const std::string& key) {
    return key.starts_with(range) && key != sequence;
  });
}

// Why `part` from `from` must not be applied here; empty if it may.
std::string refusal(membership& members, partition_host& host, const std::string& from,
                    const wire_partition_writes& part) {
  auto p = std::to_string(part.partition);
  if (!well_formed(part)) return "malformed writes for partition " + p;
  auto rec = wait_for_record(members, part.partition, part.epoch);
  const auto& self = members.options().node_id;
  if (!rec) return "partition " + p + " has no owner in this node's table";
  if (rec->epoch() > part.epoch)
    return "partition " + p + " is at epoch " + std::to_string(rec->epoch()) + ", the writes at " +
           std::to_string(part.epoch);
  if (rec->epoch() < part.epoch || rec->owner() != from)
    return "the table does not give partition " + p + " to " + from + " at epoch " +
           std::to_string(part.epoch);
  if (std::find(rec->replicas().begin(), rec->replicas().end(), self) == rec->replicas().end())
    return "node " + self + " is not a replica of partition " + p;
  auto stored = host.read_record(replica_sequence_key(part.partition));
  if (!stored)
    return "cannot read the sequence of partition " + p + ": " + message_of(stored.error());
  ReplicaSequence last;
  if (*stored && !last.ParseFromString(**stored))
    return "the sequence record of partition " + p + " does not parse";
  // The first commit of an epoch comes after whatever an earlier epoch left: `isr` is
  // emptied at every change of epoch, so a replica is sent it only once it was caught up
  // at this epoch.
  bool next = *stored && last.epoch() == part.epoch
                  ? last.seq() + 1 == part.seq
                  : part.seq == 1 && (!*stored || last.epoch() < part.epoch);
  if (!next)
    return "commit " + std::to_string(part.seq) + " of partition " + p + " at epoch " +
           std::to_string(part.epoch) + " is not the next after " +
           (*stored ? std::to_string(last.seq()) + " at epoch " + std::to_string(last.epoch())
                    : std::string{"none"});
  return {};
}

wire_reply apply(membership& members, partition_host& host, cluster_metrics& metrics,
                 spdlog::logger& log, wire_replicate& msg) {
  std::vector<uint32_t> partitions;
  std::vector<store_write> batch;
  for (auto& part : msg.parts) {
    if (auto why = refusal(members, host, msg.from, part); !why.empty()) {
      metrics.replica_batches_refused.add();
      log.warn("replication: refused writes from {}: {}", msg.from, why);
      return failed_reply(errc::conflict, why);
    }
    partitions.push_back(part.partition);
    for (size_t i = 0; i < part.keys.size(); ++i)
      batch.push_back({std::move(part.keys[i]), std::move(part.values[i]), part.erase[i] != 0});
    ReplicaSequence seq;
    seq.set_epoch(part.epoch);
    seq.set_seq(part.seq);
    batch.push_back({replica_sequence_key(part.partition), seq.SerializeAsString()});
  }
  if (auto err = host.apply_replicated(std::move(partitions), std::move(batch))) {
    log.warn("replication: cannot apply writes from {}: {}", msg.from, message_of(err));
    return failed_reply(errc::unavailable, "replica cannot write: " + message_of(err));
  }
  metrics.replica_batches_applied.add();
  return wire_reply{};
}

caf::behavior applier(caf::event_based_actor* self, membership* members, partition_host* host,
                      cluster_metrics* metrics, std::shared_ptr<spdlog::logger> log) {
  self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
      [=](wire_replicate& msg) { return apply(*members, *host, *metrics, *log, msg); },
  };
}

}  // namespace

std::optional<PartitionRecord> wait_for_record(membership& members, uint32_t p, uint64_t epoch) {
  // A partition placed, or promoted, a moment ago may reach the owner's replicas before the
  // watch reports it here.
  constexpr auto view_lag_limit = 500ms;
  const auto& clock = *members.options().clock;
  auto deadline = clock.now() + view_lag_limit;
  auto seen = members.snapshot();
  while (true) {
    const auto* rec = seen->partition(p);
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock.now());
    if ((rec && rec->epoch() >= epoch) || left.count() <= 0)
      return rec ? std::optional<PartitionRecord>{*rec} : std::nullopt;
    seen = members.wait_for_change(seen, left);
  }
}

std::string replica_sequence_key(uint32_t p) {
  return partition_prefix(p, record_kind::sequence);
}

replica_applier::replica_applier(membership& members, partition_host& host, caf::actor_system& sys,
                                 cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log) {
  // Detached: each blocks on the store. A few, so that owners replicate side by side.
  for (int i = 0; i < 4; ++i)
    appliers_.push_back(sys.spawn<caf::detached>(applier, &members, &host, &metrics, log));
}

replica_applier::~replica_applier() {
  stop();
}

const caf::actor& replica_applier::actor_for(const std::string& from) const noexcept {
  return appliers_[std::hash<std::string>{}(from) % appliers_.size()];
}

void replica_applier::stop() {
  for (auto& a : appliers_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

}  // namespace keel::cluster
