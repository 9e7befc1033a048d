#include "keel/cluster/rebalancer.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "keel/cluster/failover.hpp"
#include "keel/cluster/group_commit.hpp"
#include "keel/cluster/handoff.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/replica_placement.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::cluster {

rebalancer::rebalancer(membership& members, ask_fn ask, const monotonic_clock& clock,
                       const wall_clock& wall, std::shared_ptr<spdlog::logger> log, options opts)
    : members_(members),
      ask_(std::move(ask)),
      clock_(clock),
      wall_(wall),
      log_(std::move(log)),
      opts_(opts) {
  thread_ = std::thread{[this] { loop(); }};
}

rebalancer::~rebalancer() {
  stop();
}

void rebalancer::stop() {
  {
    std::lock_guard lock{mutex_};
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

namespace {

bool same_members(const cluster_snapshot& a, const cluster_snapshot& b) {
  return a.coordinator == b.coordinator && a.members.size() == b.members.size() &&
         std::equal(a.members.begin(), a.members.end(), b.members.begin(),
                    [](const auto& x, const auto& y) { return x.first == y.first; });
}

}  // namespace

bool rebalancer::wait_for_next_pass() {
  // Steps short enough that stop() is not kept waiting.
  constexpr auto step = std::chrono::milliseconds{50};
  auto before = members_.snapshot();
  auto seen = before;
  auto due = clock_.now() + opts_.interval;
  while (true) {
    {
      std::unique_lock lock{mutex_};
      if (stopping_) return false;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(due - clock_.now());
    if (left.count() <= 0) return true;
    seen = members_.wait_for_change(seen, std::min(left, step));
    if (!same_members(*seen, *before)) return true;
  }
}

void rebalancer::loop() {
  name_this_thread("keel.rebalance");
  while (true) {
    if (!wait_for_next_pass()) return;
    // A leaving node never campaigns, and a leaving coordinator resigns first: another node
    // moves this one's partitions.
    if (members_.is_draining(members_.options().node_id)) {
      members_.resign();
      continue;
    }
    if (!members_.is_coordinator()) {
      progress_ = RebalanceView{};  // a later term starts its own count
      down_since_.clear();
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
  progress_.set_updated_ms(wall_.now_ms());
  if (auto err = members_.publish_rebalance(progress_))
    log_->debug("rebalance: could not publish progress: {}", message_of(err));
}

bool rebalancer::repair_copies(const cluster_snapshot& cluster) {
  // Failover first: a dead owner's partitions are unavailable until promoted.
  note_dead_owners(cluster);
  if (auto promotions = plan_promotions(cluster, ask_contested(cluster)); !promotions.empty()) {
    promote(cluster, promotions);
    return true;
  }
  // Then copies: each partition gets its replicas back on members that are up.
  auto copies = members_.options().replication_factor;
  if (copies <= 1) return false;
  auto changes = plan_replica_changes(cluster, copies - 1);
  if (changes.empty()) return false;
  if (auto err = members_.write_partitions(changes))
    log_->info("replication: choosing replicas of {} partitions failed: {}", changes.size(),
               message_of(err));
  else
    log_->info("replication: chose replicas anew for {} partitions", changes.size());
  return true;
}

applied_sequences rebalancer::ask_contested(const cluster_snapshot& cluster) {
  applied_sequences out;
  if (!opts_.ask_applied) return out;
  // Side by side: a hung replica costs the 300 ms of its own ask, not of every later one.
  auto contested = contested_promotions(cluster);
  std::vector<std::future<std::optional<AppliedSequences>>> answers;
  for (const auto& [node, ps] : contested)
    answers.push_back(std::async(std::launch::async, opts_.ask_applied, node, ps));
  size_t i = 0;
  for (const auto& [node, ps] : contested) {
    auto answer = answers[i++].get();
    if (!answer || answer->applied_size() != static_cast<int>(ps.size())) continue;
    for (size_t i = 0; i < ps.size(); ++i)
      out.emplace(std::pair{node, ps[i]}, answer->applied(static_cast<int>(i)));
  }
  return out;
}

void rebalancer::note_dead_owners(const cluster_snapshot& cluster) {
  std::set<std::string> dead;
  cluster.partitions.for_each([&](uint32_t, const versioned_record& v) {
    if (!cluster.is_member(v.record.owner())) dead.insert(v.record.owner());
  });
  std::erase_if(down_since_, [&](const auto& entry) { return !dead.contains(entry.first); });
  auto now = clock_.now();
  for (const auto& id : dead) down_since_.try_emplace(id, now);
}

void rebalancer::promote(const cluster_snapshot& cluster,
                         const std::map<uint32_t, versioned_record>& promotions) {
  if (auto err = members_.write_partitions(promotions)) {
    // The table or the office changed meanwhile: the next pass plans again.
    log_->info("failover: promoting {} partitions failed: {}", promotions.size(), message_of(err));
    return;
  }
  std::map<std::string, std::vector<uint32_t>> by_heir;
  std::map<std::string, size_t> by_dead_owner;
  for (const auto& [p, next] : promotions) {
    by_heir[next.record.owner()].push_back(p);
    if (const auto* before = cluster.partition(p)) ++by_dead_owner[before->owner()];
  }
  for (const auto& [heir, ps] : by_heir)
    log_->warn("failover: {} partition(s) promoted to their in-sync replica {}: {}", ps.size(),
               heir, fmt::join(ps, ","));
  if (!opts_.promoted) return;
  auto now = clock_.now();
  for (const auto& [owner, count] : by_dead_owner) {
    auto seen = down_since_.find(owner);
    opts_.promoted(count,
                   seen == down_since_.end() ? std::chrono::nanoseconds{0} : now - seen->second);
  }
}

bool rebalancer::pass() {
  if (!members_.is_coordinator()) return false;
  // Members, targets and table from one snapshot: they cannot disagree with each other.
  auto cluster = members_.snapshot();
  if (repair_copies(*cluster)) return true;
  auto targets = cluster->placement_targets();
  auto now = clock_.now();
  std::vector<move> resumed;
  std::vector<move> planned;
  cluster->partitions.for_each([&](uint32_t p, const versioned_record& versioned) {
    const auto& rec = versioned.record;
    if (rec.state() == PartitionRecord::moving) {
      resumed.push_back({p, rec.owner(), rec.to(), rec.epoch()});
      return;
    }
    // A partition whose owner is down waits for it: it is never restarted empty elsewhere.
    if (!cluster->is_member(rec.owner()) || targets.empty()) return;
    auto want = membership::rendezvous_owner(p, targets);
    if (want == rec.owner()) return;
    if (auto it = failed_until_.find(p); it != failed_until_.end() && now < it->second) return;
    planned.push_back({p, rec.owner(), want, rec.epoch()});
  });
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
    std::vector<std::string> leaving;
    for (const auto& [id, reason] : cluster->draining) leaving.push_back(id);
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
  // Resumed moves first: their partitions are held since an earlier coordinator's term.
  for (auto& m : resumed) m.already_moving = true;
  resumed.insert(resumed.end(), planned.begin(), planned.end());
  return run_moves(resumed);
}

std::vector<bool> rebalancer::mark_moving(const std::vector<move>& group) {
  // Only a record that is still what the plan saw.
  auto written = rewrite(group, "start", [](const move& m, const PartitionRecord& current) {
    std::optional<PartitionRecord> next;
    if (current.owner() != m.from || current.epoch() != m.epoch ||
        current.state() != PartitionRecord::active)
      return next;
    next = current;
    next->set_state(PartitionRecord::moving);
    next->set_to(m.to);
    return next;
  });
  return written ? *written : std::vector<bool>(group.size(), false);
}

std::optional<std::vector<bool>> rebalancer::end_moves(
    const std::vector<std::pair<move, wire_reply>>& group) {
  std::vector<move> moves;
  std::map<uint32_t, const wire_reply*> results;
  for (const auto& [m, result] : group) {
    moves.push_back(m);
    results[m.partition] = &result;
  }
  return rewrite(moves, "end", [&](const move& m, const PartitionRecord& current) {
    std::optional<PartitionRecord> next;
    if (current.state() != PartitionRecord::moving || current.to() != m.to) return next;
    const auto& result = *results[m.partition];
    bool arrived = result.code == 0;
    next = current;
    next->set_state(PartitionRecord::active);
    next->clear_to();
    // Aborted: back to the old owner (unavailable until it returns if it died, or until a
    // replica is promoted), with its copies as they were.
    next->set_owner(arrived ? m.to : m.from);
    next->set_epoch(arrived ? m.epoch + 1 : m.epoch);
    if (arrived) {
      // The new owner is no copy of its own. The other copies in sync stay so: the old owner
      // stopped its turns only once each was acknowledged by them, and the new owner's
      // first commit is the first of the new epoch, which follows any of an older one.
      auto drop_new_owner = [&](google::protobuf::RepeatedPtrField<std::string>* ids) {
        ids->erase(std::remove(ids->begin(), ids->end(), m.to), ids->end());
      };
      drop_new_owner(next->mutable_isr());
      drop_new_owner(next->mutable_replicas());
    }
    if (!arrived)
      log_->warn("rebalance: move of partition {} from {} to {} aborted: {}", m.partition, m.from,
                 m.to, result.error);
    return next;
  });
}

wire_reply rebalancer::hand_over(const move& m) {
  if (members_.cluster_address_of(m.from).empty())
    return failed_reply(errc::unavailable, "its owner " + m.from + " is down");
  if (members_.cluster_address_of(m.to).empty())
    return failed_reply(errc::unavailable, "node " + m.to + " is gone");
  return ask_(m.from, wire_handoff{m.partition, m.to, m.epoch + 1});
}

void rebalancer::schedule_retries(const std::vector<move>& moves) {
  auto retry_at = clock_.now() + opts_.retry_after;
  auto cluster = members_.snapshot();
  for (const auto& m : moves) {
    const auto* rec = cluster->partition(m.partition);
    if (rec && rec->owner() == m.to)
      failed_until_.erase(m.partition);
    else if (!rec || rec->state() != PartitionRecord::moving)
      failed_until_[m.partition] = retry_at;
  }
}

bool rebalancer::run_moves(const std::vector<move>& moves) {
  group_commit<move> marks{[this](const std::vector<move>& group) { return mark_moving(group); }};
  // Ends moves: a flip to the new owner at epoch + 1, or an abort back to the old owner at
  // its epoch; both only from the moving record the move started from.
  std::atomic<bool> lost_office{false};
  group_commit<std::pair<move, wire_reply>> ends{
      [&](const std::vector<std::pair<move, wire_reply>>& group) {
        auto written = end_moves(group);
        // A new coordinator finds the moving records and finishes these moves.
        if (!written) lost_office = true;
        return written ? *written : std::vector<bool>(group.size(), false);
      }};
  // A bounded number of moves at a time; each holds only its own partition's calls, from
  // its mark until its end.
  std::atomic<size_t> next{0};
  std::atomic<uint32_t> moving{0};
  std::atomic<uint32_t> moved{0};
  std::atomic<uint32_t> aborted{0};
  std::mutex done_mutex;
  std::condition_variable done_cv;
  size_t workers_done = 0;  // guarded by done_mutex
  auto worker = [&] {
    name_this_thread("keel.move");
    for (size_t i = next++; i < moves.size() && !lost_office && !stopping(); i = next++) {
      const auto& m = moves[i];
      if (!m.already_moving && !marks.submit(m)) continue;  // the table changed: plan again
      ++moving;
      auto result = hand_over(m);
      if (ends.submit({m, result})) (result.code == 0 ? moved : aborted).fetch_add(1);
      --moving;
    }
    {
      std::lock_guard guard{done_mutex};
      ++workers_done;
    }
    done_cv.notify_all();
  };
  auto count = std::min(opts_.in_flight, moves.size());
  std::vector<std::thread> workers;
  for (size_t i = 0; i < count; ++i) workers.emplace_back(worker);
  // Progress while they run, four times a second.
  auto base_done = progress_.done();
  auto base_failed = progress_.failed();
  auto report = [&] {
    progress_.set_moving(moving.load());
    progress_.set_done(base_done + moved.load());
    progress_.set_failed(base_failed + aborted.load());
    publish();
  };
  auto next_log = clock_.now() + std::chrono::seconds{1};
  auto all_done = [&] { return workers_done >= count; };
  std::unique_lock done_lock{done_mutex};
  while (!done_cv.wait_for(done_lock, std::chrono::milliseconds{250}, all_done)) {
    done_lock.unlock();
    report();
    if (clock_.now() >= next_log) {
      log_->info("rebalance: {} of {} done, {} moving, {} aborted", progress_.done(),
                 progress_.planned(), progress_.moving(), progress_.failed());
      next_log += std::chrono::seconds{1};
    }
    done_lock.lock();
  }
  done_lock.unlock();
  for (auto& w : workers) w.join();
  report();
  schedule_retries(moves);
  log_->info("rebalance: {} moved, {} aborted in this pass; {} of {} done", moved.load(),
             aborted.load(), progress_.done(), progress_.planned());
  return !lost_office;
}

std::optional<std::vector<bool>> rebalancer::rewrite(
    const std::vector<move>& group, const char* what,
    const std::function<std::optional<PartitionRecord>(const move&, const PartitionRecord&)>&
        next) {
  std::map<uint32_t, membership::versioned_record> records;
  // One record of the group changed meanwhile (its owner shrank its isr, say) fails the
  // transaction: read them again, a few times, rather than leave the whole group moving.
  for (int attempt = 0;; ++attempt) {
    auto cluster = members_.snapshot();
    records.clear();
    for (const auto& m : group) {
      const auto* known = cluster->partitions.find(m.partition);
      if (!known) continue;
      if (auto rec = next(m, known->record)) records[m.partition] = {*rec, known->mod_revision};
    }
    auto err = members_.write_partitions(records);
    if (!err) break;
    if (code_of(err) != errc::conflict || !members_.is_coordinator() || attempt == 4) {
      log_->warn("rebalance: could not {} {} moves: {}", what, records.size(), message_of(err));
      return std::nullopt;
    }
    members_.wait_for_change(cluster, std::chrono::milliseconds{200});
  }
  std::vector<bool> written(group.size());
  for (size_t i = 0; i < group.size(); ++i) written[i] = records.count(group[i].partition) > 0;
  return written;
}

bool rebalancer::stopping() {
  std::lock_guard lock{mutex_};
  return stopping_;
}

}  // namespace keel::cluster
