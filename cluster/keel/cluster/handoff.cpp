#include "keel/cluster/handoff.hpp"

#include <algorithm>
#include <future>
#include <map>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/data_identity.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/replica_applier.hpp"
#include "keel/cluster/wire_checks.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;
using drop_atom = caf::atom_constant<caf::atom("dropcopy")>;

// A partition's turns finish within their deadlines; past this the move is given up.
constexpr auto drain_limit = 30s;
// Per chunk, including the new owner's write and sync of the last one.
constexpr auto chunk_limit = 120s;
constexpr size_t chunk_bytes = 1 << 20;

wire_reply ok_reply() {
  return wire_reply{};
}

// -- the new owner's side: one actor collects chunks and writes each stream at once ---------

struct ingest_state {
  struct stream {
    std::string from;
    uint64_t epoch = 0;
    uint32_t next_seq = 0;
    bool copy = false;
    std::vector<store_write> writes;
  };
  std::map<uint32_t, stream> streams;
};

// Why a whole stream of `p` from `from` at `epoch` must not be written here; empty if it
// may. A stream that arrives once the move already completed (a second one, asked for by a
// coordinator that took over while the first still ran) would overwrite what this node
// wrote since: the partition serves here only after the flip, so the table here shows it.
// A copy is taken only from the owner the table names at that epoch, by a replica.
std::string refusal(membership& members, uint32_t p, const std::string& from, uint64_t epoch,
                    bool copy) {
  const auto& self = members.options().node_id;
  auto partition = "partition " + std::to_string(p);
  if (!copy) {
    auto rec = members.partition(p);
    if (rec && rec->state() == PartitionRecord::active && rec->owner() == self &&
        rec->epoch() >= epoch)
      return partition + " is already here at epoch " + std::to_string(rec->epoch());
    return {};
  }
  auto rec = wait_for_record(members, p, epoch);
  if (!rec || rec->owner() != from || rec->epoch() != epoch)
    return "the table does not give " + partition + " to " + from + " at epoch " +
           std::to_string(epoch);
  if (std::find(rec->replicas().begin(), rec->replicas().end(), self) == rec->replicas().end())
    return "node " + self + " is not a replica of " + partition;
  return {};
}

caf::behavior ingest(caf::stateful_actor<ingest_state>* self, partition_host* host,
                     membership* members, handoff::hooks* fns,
                     std::shared_ptr<spdlog::logger> log) {
  name_this_thread("keel.ingest");  // detached: its own thread for life
  return {
      [=](wire_chunk& chunk) -> wire_reply {
        auto p = chunk.partition;
        if (auto why = chunk_malformation(chunk); !why.empty())
          return failed_reply(errc::bad_payload, std::move(why));
        auto& st = self->state.streams[p];
        if (chunk.seq == 0) {
          st = ingest_state::stream{chunk.from, chunk.epoch, 0, chunk.copy, {}};
        } else if (chunk.seq != st.next_seq || chunk.from != st.from || chunk.epoch != st.epoch ||
                   chunk.copy != st.copy) {
          self->state.streams.erase(p);
          return failed_reply(errc::conflict, "chunk " + std::to_string(chunk.seq) +
                                                  " of partition " + std::to_string(p) +
                                                  " out of order");
        }
        for (size_t i = 0; i < chunk.keys.size(); ++i)
          st.writes.push_back({std::move(chunk.keys[i]), std::move(chunk.values[i]), false});
        ++st.next_seq;
        if (!chunk.last) return ok_reply();
        auto stream = std::move(st);
        self->state.streams.erase(p);
        if (fns->before_ingest) fns->before_ingest(p);
        if (auto why = refusal(*members, p, stream.from, stream.epoch, stream.copy); !why.empty())
          return failed_reply(errc::conflict, why);
        // One batch: whatever an earlier (aborted) move left is replaced, not merged.
        auto records = stream.writes.size();
        // A stream from a node of an older build may hold reminders or entries of an
        // actor with no state record, which this node's loads would not look for.
        add_missing_state_records(stream.writes);
        if (stream.copy && fns->replacing) fns->replacing(p);
        auto err = host->replace_range(p, std::move(stream.writes));
        if (fns->replaced) fns->replaced(p);
        if (err)
          return failed_reply(errc::unavailable, "cannot write partition " + std::to_string(p) +
                                                     ": " + message_of(err));
        if (!stream.copy) fns->ingested(p);
        log->debug("handoff: ingested {} partition {} from {} ({} records, epoch {})",
                   stream.copy ? "a copy of" : "", p, stream.from, records, stream.epoch);
        return ok_reply();
      },
      [=](drop_atom, uint32_t p) {
        auto err = host->replace_range(p, {{partition_epoch_record(p), {}, true}});
        if (fns->replaced) fns->replaced(p);
        if (err)
          log->warn("handoff: could not drop the old copy of partition {}: {}", p, message_of(err));
        else
          log->debug("handoff: dropped the old copy of partition {}", p);
      },
  };
}

}  // namespace

namespace {

// A link holds the message while it connects, and fails it at once if the peer is lost.
template <class Message>
wire_reply ask_link_impl(caf::actor_system& sys, const caf::actor& link, const Message& msg,
                         caf::timespan limit) {
  caf::scoped_actor asker{sys};
  wire_reply answer;
  asker->request(link, limit, msg)
      .receive([&](wire_reply& reply) { answer = std::move(reply); },
               [&](caf::error& err) {
                 answer = failed_reply(errc::unavailable, "no answer: " + message_of(err));
               });
  return answer;
}

}  // namespace

wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_handoff& req) {
  // The owner drains the partition (≤ 30 s) and streams it.
  return ask_link_impl(sys, link, req, caf::timespan{drain_limit + 2 * chunk_limit});
}

wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_chunk& chunk) {
  return ask_link_impl(sys, link, chunk, caf::timespan{chunk_limit});
}

wire_reply ask_link(caf::actor_system& sys, const caf::actor& link, const wire_sequences_ask& ask) {
  return ask_link_impl(sys, link, ask, caf::timespan{std::chrono::milliseconds{300}});
}

handoff::handoff(membership& members, partition_host& host, caf::actor_system& sys, hooks fns,
                 std::shared_ptr<spdlog::logger> log)
    : members_(members), host_(host), sys_(sys), fns_(std::move(fns)), log_(std::move(log)) {
  // Detached: it blocks on the store.
  for (int i = 0; i < 4; ++i)
    ingesters_.push_back(sys_.spawn<caf::detached>(ingest, &host_, &members_, &fns_, log_));
  // A move blocks a worker while its partition drains and streams; a few run side by side.
  for (int i = 0; i < 3; ++i) workers_.emplace_back([this] { worker_loop(); });
}

handoff::~handoff() {
  stop();
}

void handoff::hand_off(wire_handoff req, std::function<void(wire_reply)> done) {
  {
    std::lock_guard lock{mutex_};
    if (!stopping_) {
      // The same move asked again (a coordinator that took over resumes it) joins the one
      // under way: a second run would find the partition already closed, take it for
      // drained while the first run's turns still commit, and stream without them.
      auto key = std::tuple{req.partition, req.to, req.epoch};
      if (auto it = running_.find(key); it != running_.end()) {
        it->second.push_back(std::move(done));
        return;
      }
      running_[key];
      jobs_.emplace_back(std::move(req), std::move(done));
      wake_.notify_one();
      return;
    }
  }
  done(failed_reply(errc::unavailable, "node is stopping"));
}

void handoff::drop(uint32_t partition) {
  caf::anon_send(ingester_for(partition), drop_atom::value, partition);
}

void handoff::stop() {
  decltype(jobs_) left;
  {
    std::lock_guard lock{mutex_};
    if (stopping_) return;
    stopping_ = true;
    left.swap(jobs_);
  }
  wake_.notify_all();
  for (auto& [req, done] : left) done(failed_reply(errc::unavailable, "node is stopping"));
  decltype(running_) joined;
  {
    std::lock_guard lock{mutex_};
    joined.swap(running_);
  }
  for (auto& [move, waiters] : joined)
    for (auto& done : waiters) done(failed_reply(errc::unavailable, "node is stopping"));
  for (auto& w : workers_) w.join();
  // Gone before this object: it points to our hooks.
  caf::scoped_actor waiter{sys_};
  for (const auto& ingester : ingesters_) {
    waiter->monitor(ingester);
    caf::anon_send_exit(ingester, caf::exit_reason::user_shutdown);
  }
  for (size_t i = 0; i < ingesters_.size(); ++i) waiter->receive([](const caf::down_msg&) {});
}

void handoff::worker_loop() {
  name_this_thread("keel.handoff");
  while (true) {
    std::pair<wire_handoff, std::function<void(wire_reply)>> job;
    {
      std::unique_lock lock{mutex_};
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // Measured for the log only, so not on the runtime's clock, which a test may move.
    auto started = fast_clock::ticks();
    auto reply = run(job.first);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  fast_clock::to_duration(fast_clock::ticks() - started))
                  .count();
    if (reply.code == 0)
      log_->debug("handoff: partition {} handed to {} in {} ms", job.first.partition, job.first.to,
                  ms);
    else
      log_->warn("handoff: partition {} not handed to {}: {}", job.first.partition, job.first.to,
                 reply.error);
    std::vector<std::function<void(wire_reply)>> joined;
    {
      std::lock_guard lock{mutex_};
      auto it = running_.find(std::tuple{job.first.partition, job.first.to, job.first.epoch});
      if (it != running_.end()) {
        joined.swap(it->second);
        running_.erase(it);
      }
    }
    for (auto& done : joined) done(reply);
    job.second(std::move(reply));
  }
}

wire_reply handoff::run(const wire_handoff& req) {
  const auto& self = members_.options().node_id;
  auto p = req.partition;
  auto fail = [&](errc code, std::string why) {
    return failed_reply(code, "partition " + std::to_string(p) + " to " + req.to + ": " + why);
  };
  if (p >= partition_count) return fail(errc::bad_payload, "no such partition");
  if (req.to == self) return fail(errc::conflict, "it is already here");
  // Only a move the table records: the coordinator marks it before it asks, and this
  // node's watch shows the mark within milliseconds. A request without it (a stale or
  // foreign one) must not take the partition out of service.
  auto marked = [&](const cluster_snapshot& now) {
    const auto* rec = now.partition(p);
    return rec && rec->owner() == self && rec->state() == PartitionRecord::moving &&
           rec->to() == req.to && rec->epoch() + 1 == req.epoch;
  };
  if (!marked(*members_.wait_until(marked, 2s)))
    return fail(errc::conflict, "the table does not record that move (owned here, moving to " +
                                    req.to + ", epoch " + std::to_string(req.epoch - 1) + ")");
  // 1. Stop starting turns: messages are held from now on, here and (by the table) elsewhere.
  fns_.begin_release(p);
  // 2. Let the turns in flight finish and their commits become durable.
  auto drained = std::make_shared<std::promise<void>>();
  auto finished = drained->get_future();
  host_.close(p, [drained] { drained->set_value(); });
  if (finished.wait_for(drain_limit) != std::future_status::ready)
    return fail(errc::timeout, "its turns did not finish within 30 s");
  auto link = fns_.link_to(req.to);
  if (!link) return fail(errc::unavailable, "node " + req.to + " is not a member");
  // A leadership transfer: nothing to stream to a target that has every write.
  if (holds_every_write(p, req.to, link)) {
    log_->debug("handoff: partition {} to {}: in sync there, nothing to stream", p, req.to);
    return wire_reply{};
  }
  // 3. Stream its key range.
  auto records = host_.read_range(p);
  if (!records) return fail(errc::unavailable, "cannot read it: " + message_of(records.error()));
  return stream_range(sys_, link, p, req.epoch, self, std::move(*records), false);
}

bool handoff::holds_every_write(uint32_t p, const std::string& node_id, const caf::actor& link) {
  // In sync as etcd has it, not as this node's view may still show it after a replica
  // failed and left the in-sync set.
  auto rec = members_.partition_in_etcd(p);
  if (!rec || !*rec) return false;
  const auto& isr = (*rec)->isr();
  if (std::find(isr.begin(), isr.end(), node_id) == isr.end()) return false;
  // And it answers now (a hung node still in `isr` must not become the only copy) with
  // this node's last commit of `p`: the drain waited for every commit's acknowledgement.
  auto mine = read_replica_sequence(host_, p);
  if (!mine) return false;
  auto last = mine->value_or(ReplicaSequence{});
  auto reply = ask_link(sys_, link, wire_sequences_ask{{p}});
  AppliedSequences theirs;
  if (reply.code != 0 || !theirs.ParseFromString(reply.payload) || theirs.applied_size() != 1)
    return false;
  const auto& applied = theirs.applied(0);
  return applied.epoch() == last.epoch() && applied.seq() == last.seq();
}

wire_reply stream_range(caf::actor_system& sys, const caf::actor& link, uint32_t p, uint64_t epoch,
                        const std::string& from, partition_host::records records, bool as_copy) {
  size_t next = 0;
  uint32_t seq = 0;
  do {
    wire_chunk chunk;
    chunk.partition = p;
    chunk.epoch = epoch;
    chunk.from = from;
    chunk.seq = seq++;
    chunk.copy = as_copy;
    size_t bytes = 0;
    for (; next < records.size() && bytes < chunk_bytes; ++next) {
      auto& [key, value] = records[next];
      bytes += key.size() + value.size();
      chunk.keys.push_back(std::move(key));
      chunk.values.push_back(std::move(value));
    }
    chunk.last = next == records.size();
    auto answer = ask_link(sys, link, chunk);
    if (answer.code != 0) return answer;
  } while (next < records.size());
  return ok_reply();
}

}  // namespace keel::cluster
