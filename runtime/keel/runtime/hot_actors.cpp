#include "keel/runtime/hot_actors.hpp"

#include <algorithm>
#include <map>
#include <thread>

namespace keel {

namespace {

void assign_name(std::string& out, const actor_id& id) {
  out.assign(id.type());
  out += '/';
  out += id.key();
}

}  // namespace

hot_actors::stripe_guard::stripe_guard(stripe& s) noexcept : s_(s) {
  // Held for at most one copy of a stripe: yield rather than burn the core it may be on.
  while (s_.busy.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
}

size_t hot_actors::position(const stripe& s, uint64_t hash) noexcept {
  size_t at = hash % index_size;
  while (s.index[at] != 0 && s.hashes[s.index[at] - 1] != hash) at = (at + 1) % index_size;
  return at;
}

// Linear probing's deletion without tombstones: each later entry of the probe run moves
// back into the hole unless that would put it before its home position.
void hot_actors::index_erase(stripe& s, size_t at) noexcept {
  size_t hole = at;
  for (size_t next = (hole + 1) % index_size; s.index[next] != 0; next = (next + 1) % index_size) {
    size_t home = s.hashes[s.index[next] - 1] % index_size;
    // Stays if its home lies cyclically in (hole, next].
    bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    s.index[hole] = s.index[next];
    hole = next;
  }
  s.index[hole] = 0;
}

size_t hot_actors::smallest(stripe& s) noexcept {
  while (s.lows > 0) {
    size_t slot = s.low[--s.lows];
    if (s.counts[slot] == s.low_count) return slot;
  }
  s.low_count = *std::min_element(s.counts.begin(), s.counts.end());
  // Pushed from the last slot down, so the lowest slot of the smallest comes up first.
  for (size_t i = slots; i-- > 0;)
    if (s.counts[i] == s.low_count) s.low[s.lows++] = static_cast<uint8_t>(i);
  return s.low[--s.lows];
}

void hot_actors::record(uint64_t hash, const actor_id& id) noexcept {
  auto& s = stripes_[detail::metric_stripe()];
  stripe_guard guard{s};
  size_t at = position(s, hash);
  if (s.index[at] != 0) {
    // Two actors of one hash share a counter: at 64 bits, never in practice.
    ++s.counts[s.index[at] - 1];
    return;
  }
  size_t slot = s.used;
  uint64_t inherited = 0;
  if (s.used < slots) {
    ++s.used;
  } else {
    slot = smallest(s);
    inherited = s.counts[slot];
    index_erase(s, position(s, s.hashes[slot]));
    at = position(s, hash);  // the erase may have moved the empty position
  }
  s.hashes[slot] = hash;
  s.counts[slot] = inherited + 1;
  s.overcounts[slot] = inherited;
  s.index[at] = static_cast<uint8_t>(slot + 1);
  assign_name(s.names[slot], id);
}

std::vector<hot_actor> hot_actors::take(size_t n) {
  // By hash: one actor may have run on several threads, so in several stripes.
  std::map<uint64_t, hot_actor> merged;
  for (auto& s : stripes_) {
    stripe_guard guard{s};
    for (size_t i = 0; i < s.used; ++i) {
      auto& m = merged[s.hashes[i]];
      if (m.actor.empty()) m.actor = s.names[i];
      m.turns += s.counts[i];
      m.overcount += s.overcounts[i];
    }
    s.used = 0;
    s.index.fill(0);
    s.lows = 0;
  }
  std::vector<hot_actor> out;
  out.reserve(merged.size());
  for (auto& [hash, m] : merged) out.push_back(std::move(m));
  auto first = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(first), out.end(),
                    [](const hot_actor& a, const hot_actor& b) {
                      return a.turns != b.turns ? a.turns > b.turns : a.actor < b.actor;
                    });
  out.resize(first);
  return out;
}

}  // namespace keel
