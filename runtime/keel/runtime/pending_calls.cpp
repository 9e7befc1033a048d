#include "keel/runtime/pending_calls.hpp"

#include <algorithm>

#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/errc.hpp"

namespace keel {

void pending_calls::track(const envelope_ptr& env) {
  // The calling thread's shard: its lock and list stay in this core's cache (the sweep
  // visits every shard). Sharding by the envelope's address put every call in one shard,
  // as allocations are 16-byte aligned.
  auto& shard = shards_[detail::thread_number() % shards_.size()];
  std::lock_guard guard{shard.mutex};
  if (shard.calls.size() >= shard.prune_at) {
    // Answered calls leave here, on a calling thread, not in the sweep: their envelopes'
    // control blocks are freed where calls allocate them, and the sweep visits only the
    // calls still open instead of every call since its last pass (cold memory, freed
    // across threads: 10 % of a local call at 100 in flight).
    std::erase_if(shard.calls, [](const std::weak_ptr<const envelope>& c) { return c.expired(); });
    shard.prune_at = std::max(shard::min_prune, 2 * shard.calls.size());
  }
  // Of the envelope itself: one atomic increment (a weak reference to its slot would be
  // made through a temporary shared one: three).
  shard.calls.emplace_back(env);
}

size_t pending_calls::sweep(steady_time now, std::chrono::milliseconds slow_after,
                            std::vector<slow_call>* slow) {
  size_t timed_out = 0;
  size_t open = 0;
  std::vector<call_slot_ptr> expired;
  // Every reference the sweep takes is dropped outside the lock: dropping the last one
  // destroys an envelope, whose "unavailable" answer runs the caller's callback.
  std::vector<call_slot_ptr> release_later;
  for (auto& shard : shards_) {
    {
      std::lock_guard guard{shard.mutex};
      auto& calls = shard.calls;
      size_t kept = 0;
      for (size_t i = 0; i < calls.size(); ++i) {
        auto env = calls[i].lock();
        if (!env) continue;
        const envelope& call = *env;  // kept alive by `slot`
        auto* reply = env->reply;
        call_slot_ptr slot{std::move(env), reply};
        if (slot->done()) {  // answered; its envelope may outlive this sweep briefly
          release_later.push_back(std::move(slot));
          continue;
        }
        if (slot->deadline() <= now) {
          expired.push_back(std::move(slot));
          continue;
        }
        if (auto open_for = now - slot->created();
            slow && open_for >= slow_after && call.caller == "http" && slot->mark_slow_reported())
          slow->push_back({call.trace, call.message_type, slot->chain(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(open_for)});
        release_later.push_back(std::move(slot));
        if (kept != i) calls[kept] = std::move(calls[i]);  // weak_ptr self-move would empty it
        ++kept;
      }
      open += kept;
      calls.resize(kept);
    }
    for (auto& slot : expired) {
      // Counted before the delivery, so whoever sees the timeout also sees it counted.
      if (slot->claim()) {
        ++timed_out;
        metrics_.calls_timed_out.add();
        if (auto held = slot->held(); !held.empty())
          slot->deliver(make_error(errc::unavailable, held + " past the call's deadline"));
        else
          slot->deliver(make_error(errc::timeout,
                                   "no answer within the deadline; waiting on " + slot->chain()));
      }
    }
    expired.clear();
    release_later.clear();
  }
  // The gauge moves here only, by what the sweep saw open, so tracking a call costs no
  // shared counter.
  auto reported = open_at_last_sweep_.exchange(open, std::memory_order_relaxed);
  metrics_.calls_pending.add(static_cast<int64_t>(open) - static_cast<int64_t>(reported));
  return timed_out;
}

}  // namespace keel
