#include "keel/cluster/replica_applier.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/replica_check.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

// Why `part` from `from` must not be applied here; none if it may. `last`: the partition's
// last commit accepted here (nullopt: none).
caf::error refusal(membership& members, const std::string& from, const wire_partition_writes& part,
                   const std::optional<ReplicaSequence>& last) {
  auto rec = part.partition < partition_count ? wait_for_record(members, part.partition, part.epoch)
                                              : std::nullopt;
  return check_replicated(rec ? &*rec : nullptr, members.options().node_id, from, part, last);
}

using applied_atom = caf::atom_constant<caf::atom("applied")>;

struct applier_state {
  std::map<uint64_t, caf::response_promise> applying;  // answered once durable
  uint64_t next_id = 0;
};

using applier_actor = caf::stateful_actor<applier_state>;

// Checks every part of `msg` and hands the accepted writes to the store writer without
// waiting: the next message is checked against the sequence numbers accepted here, and the
// writer writes them in order. Answered (wire_reply) once they are durable.
caf::result<wire_reply> apply(applier_actor* self, const replica_applier::context& ctx,
                              wire_replicate& msg) {
  std::vector<uint32_t> partitions;
  std::vector<store_write> batch;
  for (auto& part : msg.parts) {
    auto last = ctx.sequences->last(*ctx.host, part.partition);
    auto why = last ? refusal(*ctx.members, msg.from, part, *last)
                    : make_error(errc::unavailable, "cannot read the sequence of partition " +
                                                        std::to_string(part.partition) + ": " +
                                                        message_of(last.error()));
    if (why) {
      ctx.sequences->forget(partitions);  // what this message accepted before is not applied
      ctx.metrics->replica_batches_refused.add();
      ctx.log->warn("replication: refused writes from {}: {}", msg.from, message_of(why));
      return failed_reply(code_of(why), message_of(why));
    }
    ReplicaSequence seq;
    seq.set_epoch(part.epoch);
    seq.set_seq(part.seq);
    ctx.sequences->accept(part.partition, seq);
    partitions.push_back(part.partition);
    for (size_t i = 0; i < part.keys.size(); ++i)
      batch.push_back({std::move(part.keys[i]), std::move(part.values[i]), part.erase[i] != 0});
    batch.push_back({replica_sequence_key(part.partition), seq.SerializeAsString()});
  }
  auto id = self->state.next_id++;
  self->state.applying.emplace(id, self->make_response_promise());
  ctx.host->apply_replicated(partitions, std::move(batch),
                             [me = caf::actor_cast<caf::actor>(self), id](caf::error err) {
                               caf::anon_send(me, applied_atom::value, id, std::move(err));
                             });
  return caf::delegated<wire_reply>{};
}

caf::behavior applier(applier_actor* self, replica_applier::context ctx) {
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, promise] : self->state.applying)
      promise.deliver(failed_reply(errc::unavailable, "replica is stopping"));
    self->quit(msg.reason);
  });
  return {
      [=](wire_replicate& msg) { return apply(self, ctx, msg); },
      [=](applied_atom, uint64_t id, caf::error& err) {
        auto it = self->state.applying.find(id);
        if (it == self->state.applying.end()) return;
        if (err) {
          // Not written: what this node accepted must be read from the store again.
          ctx.sequences->forget_all();
          ctx.log->warn("replication: cannot apply writes: {}", message_of(err));
          it->second.deliver(
              failed_reply(errc::unavailable, "replica cannot write: " + message_of(err)));
        } else {
          ctx.metrics->replica_batches_applied.add();
          it->second.deliver(wire_reply{});
        }
        self->state.applying.erase(it);
      },
  };
}

}  // namespace

std::optional<PartitionRecord> wait_for_record(membership& members, uint32_t p, uint64_t epoch) {
  // A partition placed, or promoted, a moment ago may reach the owner's replicas before the
  // watch reports it here.
  constexpr auto view_lag_limit = 500ms;
  auto seen = members.wait_until(
      [&](const cluster_snapshot& now) {
        const auto* rec = now.partition(p);
        return rec && rec->epoch() >= epoch;
      },
      view_lag_limit);
  const auto* rec = seen->partition(p);
  return rec ? std::optional<PartitionRecord>{*rec} : std::nullopt;
}

replica_applier::replica_applier(membership& members, partition_host& host, caf::actor_system& sys,
                                 cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log)
    : host_(&host), sequences_(std::make_shared<replica_sequences>()) {
  context ctx{&members, &host, &metrics, std::move(log), sequences_};
  // Detached: a check may wait (briefly) for the watch. A few, so that owners replicate
  // side by side; each owner's messages go to one of them, in order.
  for (int i = 0; i < 4; ++i) appliers_.push_back(sys.spawn<caf::detached>(applier, ctx));
}

replica_applier::~replica_applier() {
  stop();
}

const caf::actor& replica_applier::actor_for(const std::string& from) const noexcept {
  return appliers_[std::hash<std::string>{}(from) % appliers_.size()];
}

wire_reply replica_applier::applied(const std::vector<uint32_t>& partitions) {
  AppliedSequences out;
  for (auto p : partitions) {
    if (p >= partition_count)
      return failed_reply(errc::bad_payload, "no partition " + std::to_string(p));
    auto last = sequences_->last(*host_, p);
    if (!last) return failed_reply(errc::unavailable, message_of(last.error()));
    *out.add_applied() = last->value_or(ReplicaSequence{});
  }
  wire_reply reply;
  reply.message_type = AppliedSequences::descriptor()->full_name();
  reply.payload = out.SerializeAsString();
  return reply;
}

void replica_applier::forget(uint32_t p) {
  sequences_->forget({p});
}

caf::expected<std::optional<ReplicaSequence>> replica_sequences::last(partition_host& host,
                                                                      uint32_t p) {
  {
    std::lock_guard lock{mutex_};
    if (auto it = accepted_.find(p); it != accepted_.end()) return it->second;
  }
  auto last = read_replica_sequence(host, p);
  if (!last) return std::move(last.error());
  std::lock_guard lock{mutex_};
  return accepted_.try_emplace(p, std::move(*last)).first->second;
}

caf::expected<std::optional<ReplicaSequence>> read_replica_sequence(partition_host& host,
                                                                    uint32_t p) {
  auto stored = host.read_record(replica_sequence_key(p));
  if (!stored) return std::move(stored.error());
  std::optional<ReplicaSequence> last;
  if (*stored) {
    last.emplace();
    if (!last->ParseFromString(**stored))
      return make_error(errc::app_error, "the sequence record of partition " + std::to_string(p) +
                                             " does not parse");
  }
  return last;
}

void replica_sequences::accept(uint32_t p, ReplicaSequence seq) {
  std::lock_guard lock{mutex_};
  accepted_[p] = std::move(seq);
}

void replica_sequences::forget(const std::vector<uint32_t>& ps) {
  std::lock_guard lock{mutex_};
  for (auto p : ps) accepted_.erase(p);
}

void replica_sequences::forget_all() {
  std::lock_guard lock{mutex_};
  accepted_.clear();
}

void replica_applier::stop() {
  for (auto& a : appliers_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

}  // namespace keel::cluster
