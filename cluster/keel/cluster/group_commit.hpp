#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace keel::cluster {

/// Group commit for table writes that threads make side by side (the coordinator's moves,
/// an owner's catch-ups): each thread submits one item and returns when it is written;
/// whoever finds no write in flight writes everything queued so far as one group. So each
/// item pays about one etcd write in latency, while the writes' count stays one per group.
/// Thread safety: submit() from any thread.
template <class Item>
class group_commit {
 public:
  /// Writes a group; returns, per item, whether it was written.
  using write_fn = std::function<std::vector<bool>(const std::vector<Item>&)>;
  explicit group_commit(write_fn write) : write_(std::move(write)) {}

  bool submit(Item item) {
    std::unique_lock lock{mutex_};
    auto ticket = next_ticket_++;
    queue_.emplace_back(ticket, std::move(item));
    while (true) {
      if (auto it = results_.find(ticket); it != results_.end()) {
        bool written = it->second;
        results_.erase(it);
        return written;
      }
      if (writing_) {
        done_.wait(lock);
        continue;
      }
      writing_ = true;
      auto group = std::move(queue_);
      queue_.clear();
      lock.unlock();
      std::vector<Item> items;
      for (auto& [t, i] : group) items.push_back(std::move(i));
      auto written = write_(items);
      lock.lock();
      for (size_t i = 0; i < group.size(); ++i) results_[group[i].first] = written[i];
      writing_ = false;
      done_.notify_all();
    }
  }

 private:
  write_fn write_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<std::pair<uint64_t, Item>> queue_;  // guarded by mutex_
  std::map<uint64_t, bool> results_;              // guarded by mutex_
  uint64_t next_ticket_ = 0;                      // guarded by mutex_
  bool writing_ = false;                          // guarded by mutex_
};

}  // namespace keel::cluster
