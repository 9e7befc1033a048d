#include "keel/cluster/replica_catch_up.hpp"

#include <algorithm>
#include <chrono>
#include <future>

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/handoff.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_host.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;

constexpr auto retry_after = 1s;

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
                                   caf::actor_system& sys, hooks fns, cluster_metrics& metrics,
                                   std::shared_ptr<spdlog::logger> log)
    : members_(members),
      host_(host),
      sys_(sys),
      fns_(std::move(fns)),
      metrics_(metrics),
      log_(std::move(log)),
      self_(members.options().node_id) {
  // A few side by side: each catch-up waits on its stream and on an etcd write, and holds
  // only its own partition.
  for (int i = 0; i < 4; ++i) workers_.emplace_back([this] { worker_loop(); });
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
  while (true) {
    job next;
    {
      // One catch-up per partition at a time: each holds and reopens it.
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
    auto why = run(next.first, next.second, streamed);
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
    // Each try holds the partition's calls: a replica that cannot take the stream (paused,
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
  // 1. Hold the partition's calls and let its turns finish, their commits durable: the
  //    range read next is all the replica needs, and nothing is written while it streams.
  if (!fns_.hold(p)) return "it is being handed off";
  auto drained = std::make_shared<std::promise<void>>();
  auto finished = drained->get_future();
  host_.close(p, [drained] { drained->set_value(); });
  std::string why;
  if (finished.wait_for(30s) != std::future_status::ready) {
    why = "its turns did not finish within 30 s";
  } else if (auto records = host_.read_range(p); !records) {
    why = "cannot read it: " + message_of(records.error());
  } else {
    // 2. Stream it; 3. the replica is in sync once etcd says so.
    auto answer = stream_range(sys_, link, p, epoch, self_, std::move(*records), true);
    why = answer.code != 0 ? answer.error : add_to_isr(p, epoch, replica);
    streamed = true;
  }
  // 4. Serve it again (a move waits for the catch-up to end before it begins).
  fns_.release(p);
  return why;
}

std::string replica_catch_up::add_to_isr(uint32_t p, uint64_t epoch, const std::string& replica) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto now = members_.snapshot();
    const auto* current = now->partitions.find(p);
    if (!current || current->record.epoch() != epoch ||
        !out_of_sync(*now, current->record, self_, replica))
      return "the partition's record changed meanwhile";
    auto next = *current;
    next.record.add_isr(replica);
    auto err = members_.write_owned_partitions({{p, next}});
    if (!err) return {};
    if (code_of(err) != errc::conflict) return message_of(err);
    members_.wait_for_change(now, 200ms);
  }
  return "the partition's record kept changing";
}

}  // namespace keel::cluster
