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
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

// Why `part` from `from` must not be applied here; none if it may. `last`: the partition's
// last commit accepted here (nullopt: none). Against the view as it is: the waiter already
// gave the watch its time, and a scheduler thread must not block.
caf::error refusal(membership& members, const std::string& from, const wire_partition_writes& part,
                   const std::optional<ReplicaSequence>& last) {
  auto now = members.snapshot();
  const auto* rec = part.partition < partition_count ? now->partition(part.partition) : nullptr;
  return check_replicated(rec, members.options().node_id, from, part, last);
}

using applied_atom = caf::atom_constant<caf::atom("applied")>;
using warm_atom = caf::atom_constant<caf::atom("warm")>;

// Whether every part of `msg` can be checked without blocking: its record is in this
// node's view at the message's epoch or later, and its last accepted sequence is known.
bool checkable_now(const replica_applier::context& ctx, const wire_replicate& msg) {
  auto now = ctx.members->snapshot();
  for (const auto& part : msg.parts) {
    if (part.partition >= partition_count) continue;  // refused without a wait
    const auto* rec = now->partition(part.partition);
    if (!rec || rec->epoch() < part.epoch || !ctx.sequences->known(part.partition)) return false;
  }
  return true;
}

// Waits, on its own thread, until the records of the (partition, epoch) pairs it is asked
// about are in the view (≤ 500 ms each) and their sequences read, so that the applier can
// check the message without blocking.
caf::behavior waiter(caf::event_based_actor*, replica_applier::context ctx) {
  name_this_thread("keel.rep-wait");  // detached: its own thread for life
  return {
      [=](warm_atom, const std::vector<std::pair<uint32_t, uint64_t>>& parts) {
        for (auto [p, epoch] : parts) {
          if (p >= partition_count) continue;
          wait_for_record(*ctx.members, p, epoch);
          (void)ctx.sequences->last(*ctx.host, p);  // an error is met again by the check
        }
        return true;
      },
  };
}

struct applier_state {
  std::map<uint64_t, caf::response_promise> applying;  // answered once durable
  uint64_t next_id = 0;
};

using applier_actor = caf::stateful_actor<applier_state>;

// Checks every part of `msg` and hands the accepted writes to the store writer without
// waiting: the next message is checked against the sequence numbers accepted here, and the
// writer writes them in order. `answer` gets a wire_reply once they are durable.
void apply(applier_actor* self, const replica_applier::context& ctx, wire_replicate& msg,
           caf::response_promise answer) {
  std::vector<uint32_t> partitions;
  std::vector<store_write> batch;
  for (auto& part : msg.parts) {
    auto last = ctx.sequences->last(*ctx.host, part.partition);
    auto why =
        ctx.sequences->copying(part.partition)
            ? make_error(errc::conflict, "a copy of partition " + std::to_string(part.partition) +
                                             " is being ingested here")
        : last ? refusal(*ctx.members, msg.from, part, *last)
               : make_error(errc::unavailable, "cannot read the sequence of partition " +
                                                   std::to_string(part.partition) + ": " +
                                                   message_of(last.error()));
    if (why) {
      ctx.sequences->forget(partitions);  // what this message accepted before is not applied
      ctx.metrics->replica_batches_refused.add();
      ctx.log->warn("replication: refused writes from {}: {}", msg.from, message_of(why));
      answer.deliver(failed_reply(code_of(why), message_of(why)));
      return;
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
  self->state.applying.emplace(id, std::move(answer));
  ctx.host->apply_replicated(partitions, std::move(batch),
                             [me = caf::actor_cast<caf::actor>(self), id](caf::error err) {
                               caf::anon_send(me, applied_atom::value, id, std::move(err));
                             });
}

caf::behavior applier(applier_actor* self, replica_applier::context ctx, caf::actor waiter) {
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, promise] : self->state.applying)
      promise.deliver(failed_reply(errc::unavailable, "replica is stopping"));
    self->quit(msg.reason);
  });
  return {
      [=](wire_replicate& msg) -> caf::result<wire_reply> {
        auto answer = self->make_response_promise();
        if (checkable_now(ctx, msg)) {
          apply(self, ctx, msg, std::move(answer));
          return caf::delegated<wire_reply>{};
        }
        // Rare (a record a moment old, a partition's first message): the waiter blocks, and
        // await keeps this sender's later messages behind this one.
        std::vector<std::pair<uint32_t, uint64_t>> parts;
        for (const auto& part : msg.parts) parts.emplace_back(part.partition, part.epoch);
        auto run = [=, msg = std::move(msg)]() mutable { apply(self, ctx, msg, answer); };
        self->request(waiter, caf::infinite, warm_atom::value, std::move(parts))
            .await([run](bool) mutable { run(); }, [run](caf::error&) mutable { run(); });
        return caf::delegated<wire_reply>{};
      },
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
  // Only the waiter is detached: a check that must wait for the watch or the store is
  // rare, and a detached applier would cost every message two thread wake-ups. A few
  // appliers, so that owners replicate side by side; each owner's go to one, in order.
  waiter_ = sys.spawn<caf::detached>(waiter, ctx);
  for (int i = 0; i < 4; ++i) appliers_.push_back(sys.spawn(applier, ctx, waiter_));
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

void replica_applier::begin_copy(uint32_t p) {
  sequences_->begin_copy(p);
}

void replica_applier::forget(uint32_t p) {
  sequences_->forget({p});
  sequences_->end_copy(p);
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

void replica_sequences::begin_copy(uint32_t p) {
  std::lock_guard lock{mutex_};
  copying_.insert(p);
}

void replica_sequences::end_copy(uint32_t p) {
  std::lock_guard lock{mutex_};
  copying_.erase(p);
}

bool replica_sequences::copying(uint32_t p) {
  std::lock_guard lock{mutex_};
  return copying_.contains(p);
}

bool replica_sequences::known(uint32_t p) {
  std::lock_guard lock{mutex_};
  return accepted_.contains(p);
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
  caf::anon_send_exit(waiter_, caf::exit_reason::user_shutdown);
}

}  // namespace keel::cluster
