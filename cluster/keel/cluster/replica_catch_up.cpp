#include "keel/cluster/replica_catch_up.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/handoff.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

constexpr auto retry_after = 1s;
constexpr int workers = 8;  // a group of joins is at most this many: one etcd transaction

bool holds(const google::protobuf::RepeatedPtrField<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// A replica `p` needs caught up by `self`, per the record.
bool out_of_sync(const cluster_snapshot& now, const PartitionRecord& rec, const std::string& self,
                 const std::string& replica) {
  return rec.owner() == self && rec.state() == PartitionRecord::active &&
         holds(rec.replicas(), replica) && !holds(rec.isr(), replica) && now.is_member(replica);
}

}  // namespace

replica_catch_up::replica_catch_up(membership& members, partition_host& host,
                                   caf::actor_system& sys, hooks fns,
                                   std::shared_ptr<replica_learners> learners,
                                   cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log)
    : members_(members),
      host_(host),
      sys_(sys),
      fns_(std::move(fns)),
      learners_(std::move(learners)),
      metrics_(metrics),
      log_(std::move(log)),
      self_(members.options().node_id) {
  // Several side by side: each catch-up waits on its stream and its learner, and those
  // ready together join their isr in one etcd write.
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

replica_catch_up::~replica_catch_up() {
  stop();
}

void replica_catch_up::scan(const cluster_snapshot& now) {
  std::vector<job> found;
  now.partitions.for_each([&](uint32_t p, const versioned_record& versioned) {
    const auto& rec = versioned.record;
    if (rec.owner() != self_) return;
    for (const auto& replica : rec.replicas())
      if (out_of_sync(now, rec, self_, replica)) found.emplace_back(p, replica);
  });
  if (found.empty()) return;
  auto now_time = members_.options().clock->now();
  std::lock_guard lock{mutex_};
  if (stopping_) return;
  for (auto& j : found) {
    if (auto it = failed_until_.find(j); it != failed_until_.end()) {
      if (now_time < it->second) continue;
      failed_until_.erase(it);
    }
    if (queued_.insert(j).second) jobs_.push_back(std::move(j));
  }
  wake_.notify_all();
}

void replica_catch_up::stop() {
  {
    std::lock_guard lock{mutex_};
    if (stopping_) return;
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
}

void replica_catch_up::worker_loop() {
  name_this_thread("keel.catch-up");
  while (true) {
    job next;
    {
      // One catch-up per partition at a time: a move waits for it to end.
      std::unique_lock lock{mutex_};
      auto free_job = [this] {
        return std::find_if(jobs_.begin(), jobs_.end(),
                            [this](const job& j) { return !busy_.contains(j.first); });
      };
      wake_.wait(lock, [&] { return stopping_ || free_job() != jobs_.end(); });
      if (stopping_) return;
      auto it = free_job();
      next = *it;
      jobs_.erase(it);
      busy_.insert(next.first);
    }
    auto started = fast_clock::ticks();
    bool streamed = false;
    metrics_.catch_ups_running.add(1);
    auto why = run(next.first, next.second, streamed);
    metrics_.catch_ups_running.add(-1);
    auto took = fast_clock::to_duration(fast_clock::ticks() - started);
    if (streamed && why.empty()) {
      metrics_.isr_expands.add();
      metrics_.catch_up_seconds.observe(std::chrono::duration<double>(took).count());
      log_->debug("replication: {} caught up on partition {} in {} ms", next.second, next.first,
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    } else if (!why.empty()) {
      log_->info("replication: catching {} up on partition {} failed: {}", next.second, next.first,
                 why);
    }
    std::lock_guard lock{mutex_};
    busy_.erase(next.first);
    wake_.notify_all();   // a job of the same partition may wait for this one
    queued_.erase(next);  // the next scan finds it again if it is still out of sync
    // Each try reads and streams the whole range: a replica that cannot take it (paused,
    // unreachable until its lease ends) is tried again only a second later.
    if (!why.empty()) failed_until_[next] = members_.options().clock->now() + retry_after;
  }
}

std::string replica_catch_up::run(uint32_t p, const std::string& replica, bool& streamed) {
  auto now = members_.snapshot();
  const auto* rec = now->partition(p);
  if (!rec || !out_of_sync(*now, *rec, self_, replica)) return {};
  auto epoch = rec->epoch();
  auto link = fns_.link_to(replica);
  if (!link) return "node " + replica + " is not a member";
  if (!fns_.begin(p)) return "it is being handed off";
  // 1. The range as of one moment between two commit batches; the learner gets every
  //    batch after it.
  replica_learners::handle learner;
  auto records = host_.read_range_live(p, [&] { learner = learners_->add(p, epoch, replica); });
  std::string why;
  if (!records) {
    why = "cannot read it: " + message_of(records.error());
  } else {
    streamed = true;
    why = stream_and_join(p, epoch, replica, link, std::move(*records), learner);
  }
  if (learner) learners_->remove(learner);
  fns_.end(p);
  return why;
}

std::string replica_catch_up::stream_and_join(uint32_t p, uint64_t epoch,
                                              const std::string& replica, const caf::actor& link,
                                              partition_host::records records,
                                              const replica_learners::handle& learner) {
  // 2. Stream it; 3. send the learner what was committed meanwhile, then each commit as
  //    it is made; 4. once it holds all but the last few, turns wait for it too, and once
  //    it holds every commit a turn was answered for, it joins `isr`.
  auto answer = stream_range(sys_, link, p, epoch, self_, std::move(records), true);
  if (answer.code != 0) return answer.error;
  if (auto why = learners_->go_live(learner); !why.empty()) return why;
  if (auto why = learners_->gate(learner, 30s); !why.empty()) return why;
  if (!joins_.submit({p, epoch, replica, learner}))
    return "it could not be added to the in-sync set (its record changed, or etcd failed)";
  return {};
}

std::vector<bool> replica_catch_up::write_joins(const std::vector<join>& group) {
  std::vector<bool> joined(group.size(), false);
  std::vector<size_t> pending(group.size());
  for (size_t i = 0; i < group.size(); ++i) pending[i] = i;
  for (int attempt = 0; attempt < 5 && !pending.empty(); ++attempt) {
    auto now = members_.snapshot();
    std::map<uint32_t, versioned_record> updates;
    std::vector<size_t> writing;
    for (auto i : pending) {
      const auto& j = group[i];
      const auto* current = now->partitions.find(j.partition);
      // Changed meanwhile (moved, failed over, copies chosen anew): not this join's to write.
      if (!current || current->record.epoch() != j.epoch ||
          !out_of_sync(*now, current->record, self_, j.replica) ||
          !learners_->begin_isr_write(j.learner))
        continue;
      auto& next = updates.try_emplace(j.partition, *current).first->second;
      next.record.add_isr(j.replica);
      writing.push_back(i);
    }
    if (writing.empty()) break;
    auto err = members_.write_owned_partitions(updates);
    // Written: the view holds each record as written (or a later one) once the write
    // returned. Refused (conflict): none written. Anything else may have been written, now
    // or later: each learner stays awaited until the view shows its record changed since the
    // one the write compared against (then the write can no longer land, and the record
    // says whether it did).
    auto after = members_.snapshot();
    for (auto i : writing) {
      int64_t in_isr_from =
          code_of(err) == errc::conflict ? 0 : updates.at(group[i].partition).mod_revision + 1;
      if (!err)
        if (const auto* written = after->partitions.find(group[i].partition))
          in_isr_from = written->mod_revision;
      learners_->end_isr_write(group[i].learner, in_isr_from);
      joined[i] = !err;
    }
    if (!err) break;
    if (code_of(err) != errc::conflict) {
      log_->info("replication: adding {} caught-up replica(s) to the in-sync set failed: {}",
                 writing.size(), message_of(err));
      break;
    }
    pending = std::move(writing);
    members_.wait_for_change(now, 200ms);
  }
  return joined;
}

}  // namespace keel::cluster
