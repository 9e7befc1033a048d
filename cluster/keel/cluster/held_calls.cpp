#include "keel/cluster/held_calls.hpp"

#include <string>

#include "keel/runtime/errc.hpp"

namespace keel::cluster {

bool held_calls::hold(const envelope_ptr& env, uint32_t p,
                      const std::function<bool()>& still_needed) {
  std::unique_lock lock{mutex_};
  if (!still_needed()) return false;
  if (stopping_ || count_ >= limit_) {
    bool stopping = stopping_;
    lock.unlock();
    if (env->reply)
      env->reply->complete(
          make_error(stopping ? errc::unavailable : errc::overloaded,
                     stopping ? "node is stopping" : "too many calls wait for moving partitions"));
    return true;
  }
  if (env->reply)
    env->reply->set_held("partition " + std::to_string(p) + " of " + to_string(env->target) +
                         " was moving between nodes");
  calls_[p].push_back(env);
  ++count_;
  held_.add();
  return true;
}

void held_calls::release(uint32_t p, const std::function<void(envelope_ptr)>& redeliver) {
  std::deque<envelope_ptr> release;
  {
    std::lock_guard lock{mutex_};
    auto it = calls_.find(p);
    if (it == calls_.end()) return;
    release.swap(it->second);
    calls_.erase(it);
    count_ -= release.size();
  }
  for (auto& env : release) {
    if (env->reply) {
      if (env->reply->done()) continue;  // failed at its deadline while held: never run it
      env->reply->set_held({});
    }
    redeliver(std::move(env));
  }
}

void held_calls::stop() {
  std::map<uint32_t, std::deque<envelope_ptr>> all;
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
    all.swap(calls_);
    count_ = 0;
  }
  for (auto& [p, envs] : all)
    for (auto& env : envs)
      if (env->reply) env->reply->complete(make_error(errc::unavailable, "node is stopping"));
}

}  // namespace keel::cluster
