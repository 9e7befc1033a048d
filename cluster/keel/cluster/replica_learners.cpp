#include "keel/cluster/replica_learners.hpp"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

namespace keel::cluster {

struct replica_learners::learner {
  enum class phase { keeping, live, gated, in_isr, failed };

  uint32_t partition = 0;
  uint64_t epoch = 0;
  std::string replica;
  phase now = phase::keeping;
  std::deque<wire_partition_writes> kept;  // phase::keeping
  size_t kept_bytes = 0;
  uint64_t last_sent = 0;  // the last batch taken for it (kept, sent or gated)
  uint64_t acked = 0;      // the last batch it acknowledged of those sent unawaited
  bool isr_write_under_way = false;
  int64_t in_isr_from = 0;  // phase::in_isr: the record's mod revision
  std::string why_failed;
};

namespace {

size_t bytes_of(const wire_partition_writes& part) {
  size_t n = 0;
  for (const auto& key : part.keys) n += key.size();
  for (const auto& value : part.values) n += value.size();
  return n + part.erase.size();
}

}  // namespace

std::shared_ptr<replica_learners> replica_learners::make(std::string self, send_fn send,
                                                         size_t buffer_limit) {
  return std::make_shared<replica_learners>(std::move(self), std::move(send), buffer_limit);
}

replica_learners::replica_learners(std::string self, send_fn send, size_t buffer_limit)
    : self_(std::move(self)), send_(std::move(send)), buffer_limit_(buffer_limit) {}

replica_learners::handle replica_learners::add(uint32_t p, uint64_t epoch,
                                               const std::string& replica) {
  auto l = std::make_shared<learner>();
  l->partition = p;
  l->epoch = epoch;
  l->replica = replica;
  std::lock_guard lock{mutex_};
  for (auto [it, end] = by_partition_.equal_range(p); it != end;) {
    // One written into `isr` (or perhaps written) stays awaited until the gate's view of
    // the record has passed that write.
    if (it->second->replica != replica || it->second->now == learner::phase::in_isr ||
        it->second->isr_write_under_way) {
      ++it;
      continue;
    }
    fail(*it->second, "a new catch-up replaced it");
    it = by_partition_.erase(it);
  }
  by_partition_.emplace(p, l);
  count_.store(by_partition_.size(), std::memory_order_release);
  return l;
}

std::string replica_learners::go_live(const handle& l) {
  std::lock_guard lock{mutex_};
  if (l->now == learner::phase::failed) return l->why_failed;
  auto kept = std::move(l->kept);
  l->kept.clear();
  l->kept_bytes = 0;
  for (auto& part : kept) send_locked(l, std::move(part));
  l->now = learner::phase::live;
  return {};
}

std::string replica_learners::gate(const handle& l, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::unique_lock lock{mutex_};
  // What it was sent may have piled up while its copy streamed: first it catches up with
  // that, unawaited, so that no turn waits for the backlog.
  if (auto why = wait_acked(lock, *l, l->last_sent, deadline); !why.empty()) return why;
  l->now = learner::phase::gated;
  // The few batches sent since are acknowledged soon; later ones are waited for.
  return wait_acked(lock, *l, l->last_sent, deadline);
}

std::string replica_learners::wait_acked(std::unique_lock<std::mutex>& lock, learner& l,
                                         uint64_t seq,
                                         std::chrono::steady_clock::time_point deadline) {
  auto done = [&] { return l.now == learner::phase::failed || l.acked >= seq || stopping_; };
  if (!changed_.wait_until(lock, deadline, done))
    fail(l, fmt::format("it did not acknowledge commit {} in time", seq));
  if (stopping_) return "the node is stopping";
  return l.now == learner::phase::failed ? l.why_failed : std::string{};
}

bool replica_learners::begin_isr_write(const handle& l) {
  std::lock_guard lock{mutex_};
  if (l->now == learner::phase::failed) return false;
  l->isr_write_under_way = true;
  return true;
}

void replica_learners::end_isr_write(const handle& l, int64_t mod_revision) {
  {
    std::lock_guard lock{mutex_};
    l->isr_write_under_way = false;
    // In `isr` even if it failed meanwhile: the gate goes on sending it each batch (and
    // failing them) until its shrink, which waited for this, has removed it.
    if (mod_revision > 0) {
      l->now = learner::phase::in_isr;
      l->in_isr_from = mod_revision;
    }
  }
  changed_.notify_all();
}

void replica_learners::remove(const handle& l) {
  std::lock_guard lock{mutex_};
  if (l->now != learner::phase::in_isr) erase(l);
}

void replica_learners::cancel(uint32_t p) {
  {
    std::lock_guard lock{mutex_};
    for (auto [it, end] = by_partition_.equal_range(p); it != end; ++it)
      if (it->second->now != learner::phase::in_isr)
        fail(*it->second, "the partition is being handed off");
  }
  changed_.notify_all();
}

void replica_learners::stop() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
    for (auto& [p, l] : by_partition_) fail(*l, "the node is stopping");
  }
  changed_.notify_all();
}

void replica_learners::take(const wire_partition_writes& part, const versioned_record& rec,
                            std::vector<std::string>& gated) {
  std::lock_guard lock{mutex_};
  for (auto [it, end] = by_partition_.equal_range(part.partition); it != end;) {
    const auto& l = it->second;
    bool forget = false;
    if (l->epoch != part.epoch)
      fail(*l, fmt::format("the partition's epoch is now {}", part.epoch));
    switch (l->now) {
      case learner::phase::keeping:
        if (l->kept_bytes + bytes_of(part) > buffer_limit_) {
          fail(*l, fmt::format("more than {} MiB of writes arrived while its copy streamed",
                               buffer_limit_ >> 20));
          break;
        }
        l->kept.push_back(part);
        l->kept_bytes += bytes_of(part);
        l->last_sent = part.seq;
        break;
      case learner::phase::live:
        send_locked(l, part);
        break;
      case learner::phase::gated:
        gated.push_back(l->replica);
        l->last_sent = part.seq;
        break;
      case learner::phase::in_isr:
        // A record as new as the isr write lists it, or a later change removed it: either
        // way the gate's in-sync set says what to do from now on.
        if (rec.mod_revision >= l->in_isr_from)
          forget = true;
        else
          gated.push_back(l->replica);
        break;
      case learner::phase::failed:
        // Its isr write may still land: awaited until it ended, or a turn answered now could
        // be missing on a replica that etcd then lists in sync.
        if (l->isr_write_under_way) {
          gated.push_back(l->replica);
          l->last_sent = part.seq;
        } else {
          forget = true;
        }
        break;
    }
    if (forget) {
      it = by_partition_.erase(it);
      count_.store(by_partition_.size(), std::memory_order_release);
    } else {
      ++it;
    }
  }
}

int64_t replica_learners::failed(uint32_t p, const std::string& replica, const std::string& why) {
  std::unique_lock lock{mutex_};
  std::vector<handle> matching;
  for (auto [it, end] = by_partition_.equal_range(p); it != end; ++it)
    if (it->second->replica == replica) matching.push_back(it->second);
  int64_t in_isr_from = 0;
  for (const auto& l : matching) {
    fail(*l, why);
    changed_.notify_all();
    changed_.wait(lock, [&] { return !l->isr_write_under_way || stopping_; });
    if (l->now == learner::phase::in_isr) in_isr_from = std::max(in_isr_from, l->in_isr_from);
  }
  return in_isr_from;
}

void replica_learners::fail(learner& l, std::string why) {
  if (l.now == learner::phase::failed || l.now == learner::phase::in_isr) return;
  l.now = learner::phase::failed;
  l.why_failed = std::move(why);
  l.kept.clear();
  l.kept_bytes = 0;
  changed_.notify_all();
}

void replica_learners::send_locked(const handle& l, wire_partition_writes part) {
  l->last_sent = part.seq;
  auto seq = part.seq;
  wire_replicate msg;
  msg.from = self_;
  msg.parts.push_back(std::move(part));
  send_(l->replica, std::move(msg), [weak = weak_from_this(), l, seq](std::string why) {
    if (auto self = weak.lock()) self->acknowledged(l, seq, why);
  });
}

void replica_learners::acknowledged(const handle& l, uint64_t seq, const std::string& why) {
  {
    std::lock_guard lock{mutex_};
    if (!why.empty())
      fail(*l, why);
    else
      l->acked = std::max(l->acked, seq);
  }
  changed_.notify_all();
}

void replica_learners::erase(const handle& l) {
  for (auto [it, end] = by_partition_.equal_range(l->partition); it != end; ++it) {
    if (it->second != l) continue;
    by_partition_.erase(it);
    count_.store(by_partition_.size(), std::memory_order_release);
    return;
  }
}

}  // namespace keel::cluster
