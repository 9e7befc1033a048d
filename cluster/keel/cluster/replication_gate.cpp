#include "keel/cluster/replication_gate.hpp"

#include <algorithm>
#include <atomic>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/replica_check.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

struct replication_gate::round {
  std::function<void(caf::error)> done;
  std::atomic<bool> answered{false};
  // Per replica, the (partition, epoch) pairs sent to it: what leaves `isr` if it fails.
  std::map<std::string, std::vector<std::pair<uint32_t, uint64_t>>> sent;

  std::mutex mutex;
  size_t waiting = 0;                         // replicas not answered yet; mutex
  std::map<std::string, std::string> failed;  // replica -> why; mutex

  void answer(caf::error err) {
    if (!answered.exchange(true)) done(std::move(err));
  }
};

using round_ptr = std::shared_ptr<replication_gate::round>;

// What the gate shares with its collector, which may outlive it by a message or two.
struct replication_gate::queue {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<round_ptr> to_shrink;
  std::vector<std::weak_ptr<round>> open;  // answered by stop()
  bool stopping = false;

  // A replica answered (`why` empty: it has the writes durably).
  void answered(const round_ptr& r, const std::string& replica, std::string why) {
    {
      std::lock_guard lock{r->mutex};
      if (!why.empty()) r->failed.emplace(replica, std::move(why));
      if (--r->waiting > 0) return;
      if (r->failed.empty()) return r->answer({});
    }
    std::lock_guard lock{mutex};
    if (stopping) return r->answer(make_error(errc::unavailable, "node is stopping"));
    to_shrink.push_back(r);
    wake.notify_one();
  }
};

}  // namespace keel::cluster

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::cluster::round_ptr)

namespace keel::cluster {
// How a learner's unawaited batch is answered (replica_learners::send_fn).
using learner_answer_ptr = std::shared_ptr<std::function<void(std::string)>>;
}  // namespace keel::cluster

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::cluster::learner_answer_ptr)

namespace keel::cluster {

namespace {

// `replica` gets `part` in this round's message to it, and the round waits for its answer.
void await(replication_gate::round& r, std::map<std::string, wire_replicate>& messages,
           const std::string& replica, const wire_partition_writes& part) {
  r.sent[replica].emplace_back(part.partition, part.epoch);
  messages[replica].parts.push_back(part);
}

// The writes kept for one replica while its copy streams (replica_learners).
constexpr size_t learner_buffer_limit = size_t{64} << 20;

// How long a learner's unawaited batch may take: a backlog of up to 64 MiB is sent at
// once after its copy, and nothing waits for it but the catch-up.
constexpr auto learner_timeout = std::chrono::seconds{30};

caf::behavior collector(caf::event_based_actor* self,
                        std::shared_ptr<replication_gate::queue> queue, caf::timespan timeout) {
  return {
      [=](const round_ptr& r, const std::string& replica, const caf::actor& link,
          wire_replicate& msg) {
        self->request(link, timeout, std::move(msg))
            .then(
                [=](wire_reply& reply) {
                  queue->answered(r, replica, reply.code == 0 ? std::string{} : reply.error);
                },
                [=](caf::error& err) {
                  queue->answered(r, replica, "no answer in time: " + message_of(err));
                });
      },
      // A batch for a replica being caught up, which no turn waits for.
      [=](const learner_answer_ptr& answer, const caf::actor& link, wire_replicate& msg) {
        if (!link) return (*answer)("it is not a member");
        self->request(link, caf::timespan{learner_timeout}, std::move(msg))
            .then([=](wire_reply& reply) { (*answer)(reply.code == 0 ? "" : reply.error); },
                  [=](caf::error& err) { (*answer)("no answer in time: " + message_of(err)); });
      },
  };
}

}  // namespace

replication_gate::replication_gate(membership& members, partition_host& host,
                                   caf::actor_system& sys, link_fn link_to,
                                   cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log,
                                   options opts)
    : members_(members),
      host_(host),
      link_to_(std::move(link_to)),
      metrics_(metrics),
      log_(std::move(log)),
      opts_(opts),
      self_(members.options().node_id),
      queue_(std::make_shared<queue>()) {
  collector_ = sys.spawn(collector, queue_, caf::timespan{opts_.replica_timeout});
  learners_ = replica_learners::make(
      self_,
      [collector = collector_, link_to = link_to_](const std::string& replica, wire_replicate msg,
                                                   std::function<void(std::string)> answered) {
        caf::anon_send(collector,
                       std::make_shared<std::function<void(std::string)>>(std::move(answered)),
                       link_to(replica), std::move(msg));
      },
      learner_buffer_limit);
  shrinker_ = std::thread{[this] { shrinker_loop(); }};
}

replication_gate::~replication_gate() {
  stop();
}

caf::error replication_gate::admit(uint32_t partition) {
  if (stopped_.load()) return make_error(errc::unavailable, "node is stopping");
  auto now = members_.snapshot();
  const auto* rec = now->partition(partition);
  // Its copies are not this node's to confirm: refused before anything is written.
  if (!rec || rec->owner() != self_)
    return make_error(errc::unavailable,
                      fmt::format("partition {} is {} this node's", partition,
                                  rec ? "now " + rec->owner() + "'s, not" : "not placed, nor"));
  auto copies = 1 + static_cast<size_t>(rec->isr_size());
  if (copies >= opts_.min_insync) return {};
  return make_error(errc::unavailable,
                    fmt::format("partition {} has {} in-sync cop{} and --min-insync is {}: it "
                                "takes no writes until a replica is back in sync",
                                partition, copies, copies == 1 ? "y" : "ies", opts_.min_insync));
}

caf::expected<uint64_t> replication_gate::next_sequence(uint32_t p, uint64_t epoch) {
  auto it = sequences_.find(p);
  if (it == sequences_.end() || it->second.epoch() != epoch) {
    ReplicaSequence seq;
    seq.set_epoch(epoch);
    auto stored = host_.read_record(replica_sequence_key(p));
    if (!stored) return std::move(stored.error());
    ReplicaSequence last;
    if (*stored && last.ParseFromString(**stored) && last.epoch() == epoch) seq.set_seq(last.seq());
    it = sequences_.insert_or_assign(p, seq).first;
  }
  it->second.set_seq(it->second.seq() + 1);
  return it->second.seq();
}

void replication_gate::replicate(const std::vector<store_write>& writes,
                                 std::vector<store_write>& extra,
                                 std::function<void(caf::error)> done) {
  // Stopped: the directory that owns what the gate refers to may be gone.
  if (stopped_.load()) return done(make_error(errc::unavailable, "node is stopping"));
  // Each partition's writes in batch order, which is the order the replica applies them.
  writes_by_partition by_partition;
  for (const auto& w : writes)
    if (auto p = partition_of_key(w.key)) by_partition[*p].push_back(&w);
  auto r = std::make_shared<round>();
  r->done = std::move(done);
  std::map<std::string, wire_replicate> messages;
  if (auto err = number(by_partition, *r, messages, extra)) {
    // Not acknowledged (its turns answer unknown_outcome: it is on this node's disk); the
    // numbers it took are read again from the store, so the replicas see no gap.
    for (const auto& [p, part_writes] : by_partition) sequences_.erase(p);
    return r->answer(std::move(err));
  }
  if (messages.empty()) return r->answer({});
  send(r, std::move(messages));
}

caf::error replication_gate::number(const writes_by_partition& by_partition, round& r,
                                    std::map<std::string, wire_replicate>& messages,
                                    std::vector<store_write>& extra) {
  auto now = members_.snapshot();
  std::vector<store_write> sequences;
  std::vector<std::pair<wire_partition_writes, const versioned_record*>> for_learners;
  for (const auto& [p, part_writes] : by_partition) {
    const auto* versioned = now->partitions.find(p);
    const auto* rec = versioned ? &versioned->record : nullptr;
    // Owned here, active or moving (turns under way finish and commit while a move drains
    // the partition, and the move may yet be aborted): never skipped, or a replica would
    // lack writes it is counted in sync for.
    if (!rec || rec->owner() != self_)
      return make_error(errc::unavailable,
                        fmt::format("partition {} is no longer this node's ({})", p,
                                    rec ? "now " + rec->owner() + "'s" : "unplaced"));
    auto seq = next_sequence(p, rec->epoch());
    if (!seq) return std::move(seq.error());
    ReplicaSequence stored;
    stored.set_epoch(rec->epoch());
    stored.set_seq(*seq);
    sequences.push_back({replica_sequence_key(p), stored.SerializeAsString()});
    bool learners = learners_->any();
    if (rec->isr().empty() && !learners) continue;
    wire_partition_writes part{p, rec->epoch(), *seq, {}, {}, {}};
    for (const auto* w : part_writes) {
      part.keys.push_back(w->key);
      part.values.push_back(w->value);
      part.erase.push_back(w->erase ? 1 : 0);
    }
    for (const auto& replica : rec->isr()) await(r, messages, replica, part);
    if (learners) for_learners.emplace_back(std::move(part), versioned);
  }
  // Replicas being caught up get each part too, once every partition was numbered (a round
  // that fails takes its numbers back); those about to join `isr` are awaited.
  for (auto& [part, versioned] : for_learners) {
    std::vector<std::string> gated;
    learners_->take(part, *versioned, gated);
    const auto& isr = versioned->record.isr();
    for (const auto& replica : gated) {
      if (std::find(isr.begin(), isr.end(), replica) != isr.end()) continue;
      await(r, messages, replica, part);
    }
  }
  for (auto& write : sequences) extra.push_back(std::move(write));
  return {};
}

void replication_gate::send(const std::shared_ptr<round>& r,
                            std::map<std::string, wire_replicate> messages) {
  metrics_.replication_rounds.add();
  r->waiting = messages.size();
  r->done = [inner = std::move(r->done), started = fast_clock::ticks(),
             &lag = metrics_.replication_seconds](caf::error err) {
    lag.observe(
        std::chrono::duration<double>(fast_clock::to_duration(fast_clock::ticks() - started))
            .count());
    inner(std::move(err));
  };
  {
    std::lock_guard lock{queue_->mutex};
    if (queue_->stopping) return r->answer(make_error(errc::unavailable, "node is stopping"));
    std::erase_if(queue_->open, [](const std::weak_ptr<round>& w) { return w.expired(); });
    queue_->open.push_back(r);
  }
  for (auto& [replica, msg] : messages) {
    msg.from = self_;
    auto link = link_to_(replica);
    if (!link) {
      queue_->answered(r, replica, "node " + replica + " is not a member");
      continue;
    }
    caf::anon_send(collector_, r, replica, link, std::move(msg));
  }
}

void replication_gate::shrinker_loop() {
  name_this_thread("keel.shrinker");
  while (true) {
    round_ptr r;
    {
      std::unique_lock lock{queue_->mutex};
      queue_->wake.wait(lock, [this] { return queue_->stopping || !queue_->to_shrink.empty(); });
      if (queue_->stopping) return;
      r = std::move(queue_->to_shrink.front());
      queue_->to_shrink.pop_front();
    }
    shrink_and_answer(r);
  }
}

caf::error replication_gate::enough_copies(
    const std::map<uint32_t, versioned_record>& records) const {
  for (const auto& [p, rec] : records) {
    auto copies = 1 + static_cast<size_t>(rec.record.isr_size());
    if (copies < opts_.min_insync)
      return make_error(errc::unavailable,
                        fmt::format("partition {} is down to {} in-sync cop{}, --min-insync is {}",
                                    p, copies, copies == 1 ? "y" : "ies", opts_.min_insync));
  }
  return {};
}

void replication_gate::shrink_and_answer(const std::shared_ptr<round>& r) {
  std::map<std::string, std::string> failed;
  {
    std::lock_guard lock{r->mutex};
    failed = r->failed;
  }
  metrics_.replication_failures.add(failed.size());
  // A failed replica about to join an `isr` never joins it, or, if it was being written
  // in, the view read next shows it there, to be removed; unless that write's outcome is
  // unknown and the view has not got past it: then nothing here can tell.
  std::map<uint32_t, int64_t> joining;  // partition -> revision a failed replica joined at
  for (const auto& [replica, why] : failed)
    for (auto [p, epoch] : r->sent[replica])
      if (auto from = learners_->failed(p, replica, why)) joining[p] = std::max(joining[p], from);
  // A record changed since this node's view was taken is read again, a few times.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto now = members_.snapshot();
    for (auto [p, from] : joining)
      if (const auto* seen = now->partitions.find(p); seen && seen->mod_revision < from)
        return r->answer(make_error(
            errc::unavailable, fmt::format("a replica of partition {} failed while its joining "
                                           "the in-sync set is not confirmed yet",
                                           p)));
    std::map<uint32_t, versioned_record> updates;
    size_t removed = 0;
    for (const auto& [replica, why] : failed) {
      for (auto [p, epoch] : r->sent[replica]) {
        const auto* current = now->partitions.find(p);
        if (!current || current->record.owner() != self_ || current->record.epoch() != epoch)
          return r->answer(make_error(errc::unavailable,
                                      fmt::format("partition {} changed owner while replica {} "
                                                  "failed ({}): the write is not confirmed",
                                                  p, replica, why)));
        auto [it, fresh] = updates.try_emplace(p, *current);
        auto* isr = it->second.record.mutable_isr();
        auto gone = std::remove(isr->begin(), isr->end(), replica);
        removed += static_cast<size_t>(isr->end() - gone);
        isr->erase(gone, isr->end());
      }
    }
    if (removed == 0) return r->answer(enough_copies(updates));  // removed already
    auto err = members_.write_owned_partitions(updates);
    if (!err) {
      metrics_.isr_shrinks.add(removed);
      for (const auto& [replica, why] : failed)
        log_->warn("replication: {} left the in-sync set of {} partition(s): {}", replica,
                   r->sent[replica].size(), why);
      // Too few copies left: this batch is on this node's disk only; later commits to those
      // partitions are refused before they write anything (admit()).
      return r->answer(enough_copies(updates));
    }
    if (code_of(err) != errc::conflict)
      return r->answer(
          make_error(errc::unavailable,
                     "cannot remove a failed replica from the in-sync set: " + message_of(err)));
    members_.wait_for_change(now, std::chrono::milliseconds{200});
  }
  r->answer(make_error(errc::unavailable,
                       "the partition table kept changing while a failed replica was removed"));
}

void replication_gate::stop() {
  stopped_.store(true);
  learners_->stop();
  std::vector<std::weak_ptr<round>> open;
  {
    std::lock_guard lock{queue_->mutex};
    if (queue_->stopping) return;
    queue_->stopping = true;
    open.swap(queue_->open);
    queue_->to_shrink.clear();
  }
  queue_->wake.notify_all();
  if (shrinker_.joinable()) shrinker_.join();
  for (auto& weak : open)
    if (auto r = weak.lock()) r->answer(make_error(errc::unavailable, "node is stopping"));
  caf::anon_send_exit(collector_, caf::exit_reason::user_shutdown);
}

}  // namespace keel::cluster
