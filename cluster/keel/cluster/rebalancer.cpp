#include "keel/cluster/rebalancer.hpp"

#include <atomic>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "keel/cluster/handoff.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

rebalancer::rebalancer(membership& members, ask_fn ask, std::shared_ptr<spdlog::logger> log,
                       options opts)
    : members_(members), ask_(std::move(ask)), log_(std::move(log)), opts_(opts) {
  thread_ = std::thread{[this] { loop(); }};
}

rebalancer::~rebalancer() {
  stop();
}

void rebalancer::wake() {
  {
    std::lock_guard lock{mutex_};
    woken_ = true;
  }
  wake_.notify_one();
}

void rebalancer::stop() {
  {
    std::lock_guard lock{mutex_};
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void rebalancer::loop() {
  while (true) {
    {
      std::unique_lock lock{mutex_};
      wake_.wait_for(lock, opts_.interval, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (!members_.is_coordinator()) {
      progress_ = RebalanceView{};  // a later term starts its own count
      continue;
    }
    while (pass()) {
      std::lock_guard lock{mutex_};
      if (stopping_) return;
    }
  }
}

void rebalancer::publish() {
  progress_.set_coordinator(members_.options().node_id);
  progress_.set_updated_ms(wall_ms());
  if (auto err = members_.publish_rebalance(progress_))
    log_->debug("rebalance: could not publish progress: {}", message_of(err));
}

bool rebalancer::pass() {
  if (!members_.is_coordinator()) return false;
  auto table = members_.partitions_versioned();
  auto targets = members_.placement_targets();
  std::set<std::string> up;
  for (const auto& m : members_.members()) up.insert(m.node_id());
  auto now = std::chrono::steady_clock::now();
  std::vector<move> resumed;
  std::vector<move> planned;
  for (const auto& [p, versioned] : table) {
    const auto& rec = versioned.record;
    if (rec.state() == "moving") {
      resumed.push_back({p, rec.owner(), rec.to(), rec.epoch()});
      continue;
    }
    // A partition whose owner is down waits for it: it is never restarted empty elsewhere.
    if (!up.count(rec.owner()) || targets.empty()) continue;
    auto want = membership::rendezvous_owner(p, targets);
    if (want == rec.owner()) continue;
    if (auto it = failed_until_.find(p); it != failed_until_.end() && now < it->second) continue;
    planned.push_back({p, rec.owner(), want, rec.epoch()});
  }
  if (resumed.empty() && planned.empty()) {
    if (progress_.running()) {
      progress_.set_running(false);
      progress_.set_moving(0);
      log_->info("rebalance: finished: {} moved, {} aborted", progress_.done(), progress_.failed());
      publish();
    }
    return false;
  }
  auto remaining = static_cast<uint32_t>(resumed.size() + planned.size());
  if (!progress_.running()) {
    progress_ = RebalanceView{};
    progress_.set_running(true);
    auto leaving = members_.draining();
    progress_.set_reason(
        leaving.empty()
            ? fmt::format("{} partitions are not on their owner among {}", remaining,
                          fmt::join(targets, ","))
            : fmt::format("{} partitions move off leaving node(s) {} or onto their owner among {}",
                          remaining, fmt::join(leaving, ","), fmt::join(targets, ",")));
    log_->info("rebalance: {}{}", progress_.reason(),
               resumed.empty() ? "" : fmt::format(" ({} resumed from etcd)", resumed.size()));
  }
  progress_.set_planned(progress_.done() + progress_.failed() + remaining);
  publish();
  for (size_t first = 0; first < resumed.size(); first += opts_.batch) {
    std::vector<move> batch(resumed.begin() + static_cast<std::ptrdiff_t>(first),
                            resumed.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(resumed.size(), first + opts_.batch)));
    if (!run_batch(batch, true)) return true;
  }
  for (size_t first = 0; first < planned.size(); first += opts_.batch) {
    {
      std::lock_guard lock{mutex_};
      if (stopping_) return false;
    }
    std::vector<move> batch(planned.begin() + static_cast<std::ptrdiff_t>(first),
                            planned.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(planned.size(), first + opts_.batch)));
    // Plans again when the table or the members changed under this batch.
    if (!run_batch(batch, false)) return true;
  }
  return true;
}

bool rebalancer::run_batch(const std::vector<move>& batch, bool already_moving) {
  if (!members_.is_coordinator()) return false;
  if (!already_moving) {
    auto current = members_.partitions_versioned();
    std::map<uint32_t, membership::versioned_record> marks;
    for (const auto& m : batch) {
      auto it = current.find(m.partition);
      if (it == current.end() || it->second.record.owner() != m.from ||
          it->second.record.state() != "active")
        continue;
      auto rec = it->second.record;
      rec.set_state("moving");
      rec.set_to(m.to);
      marks[m.partition] = {rec, it->second.mod_revision};
    }
    if (auto err = members_.write_partitions(marks)) {
      log_->warn("rebalance: could not start {} moves: {}", marks.size(), message_of(err));
      return false;
    }
  }
  progress_.set_moving(static_cast<uint32_t>(batch.size()));
  publish();
  // Hand over, a bounded number at a time; each move ends (flip or abort, from the moving
  // record it started from) as soon as its handoff answered, so its calls are held no
  // longer than its own move takes.
  std::atomic<size_t> next{0};
  std::atomic<uint32_t> moved{0};
  std::atomic<uint32_t> aborted{0};
  std::atomic<bool> lost_office{false};
  // Each move ends (flip or abort, from the moving record it started from) as soon as its
  // handoff answered. Ends are group-committed: whoever finds no write in progress writes
  // every end queued so far in one transaction, so a partition's calls are held about one
  // handoff plus one etcd write, however many moves run.
  std::mutex ends_mutex;
  std::vector<std::pair<move, wire_reply>> ends;  // guarded by ends_mutex
  bool writing = false;                           // guarded by ends_mutex
  auto write_ends = [&](std::vector<std::pair<move, wire_reply>> group) {
    auto current = members_.partitions_versioned();
    std::map<uint32_t, membership::versioned_record> records;
    uint32_t group_moved = 0;
    uint32_t group_aborted = 0;
    for (const auto& [m, result] : group) {
      auto it = current.find(m.partition);
      if (it == current.end() || it->second.record.state() != "moving" ||
          it->second.record.to() != m.to)
        continue;
      PartitionRecord rec;
      rec.set_state("active");
      if (result.code == 0) {
        rec.set_owner(m.to);
        rec.set_epoch(m.epoch + 1);
        ++group_moved;
      } else {
        // Back to the old owner: unavailable until it returns if it is the one that died.
        rec.set_owner(m.from);
        rec.set_epoch(m.epoch);
        log_->warn("rebalance: move of partition {} from {} to {} aborted: {}", m.partition, m.from,
                   m.to, result.error);
        ++group_aborted;
      }
      records[m.partition] = {rec, it->second.mod_revision};
    }
    if (auto err = members_.write_partitions(records)) {
      // A new coordinator finds the moving records and finishes these moves.
      log_->warn("rebalance: could not end {} moves: {}", records.size(), message_of(err));
      lost_office = true;
      return;
    }
    moved += group_moved;
    aborted += group_aborted;
  };
  auto end_move = [&](const move& m, wire_reply result) {
    std::unique_lock lock{ends_mutex};
    ends.emplace_back(m, std::move(result));
    if (writing) return;  // the writer in progress takes it with its next group
    writing = true;
    while (!ends.empty()) {
      auto group = std::move(ends);
      ends.clear();
      lock.unlock();
      write_ends(std::move(group));
      lock.lock();
    }
    writing = false;
  };
  auto worker = [&] {
    for (size_t i = next++; i < batch.size() && !lost_office; i = next++) {
      const auto& m = batch[i];
      wire_reply result;
      if (members_.cluster_address_of(m.from).empty())
        result = failed_reply(static_cast<uint8_t>(errc::unavailable),
                              "its owner " + m.from + " is down");
      else if (members_.cluster_address_of(m.to).empty())
        result = failed_reply(static_cast<uint8_t>(errc::unavailable), "node " + m.to + " is gone");
      else
        result = ask_(m.from, wire_handoff{m.partition, m.to, m.epoch + 1});
      end_move(m, result);
    }
  };
  std::vector<std::thread> workers;
  for (size_t i = 0; i < std::min(opts_.in_flight, batch.size()); ++i) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  auto retry_at = std::chrono::steady_clock::now() + opts_.retry_after;
  auto table = members_.partitions_versioned();
  for (const auto& m : batch) {
    auto it = table.find(m.partition);
    if (it != table.end() && it->second.record.owner() == m.to)
      failed_until_.erase(m.partition);
    else
      failed_until_[m.partition] = retry_at;
  }
  progress_.set_done(progress_.done() + moved);
  progress_.set_failed(progress_.failed() + aborted);
  progress_.set_moving(0);
  publish();
  log_->info("rebalance: {} moved, {} aborted in this batch; {} of {} done", moved.load(),
             aborted.load(), progress_.done(), progress_.planned());
  return !lost_office;
}

}  // namespace keel::cluster
