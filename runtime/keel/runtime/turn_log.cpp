#include "keel/runtime/turn_log.hpp"

#include <algorithm>
#include <map>

namespace keel {

void order_by_start(std::vector<turn_row>& rows) {
  // How many of the trace's turns stand above each in its chain of callers.
  std::map<std::string, const turn_row*, std::less<>> by_actor;
  for (const auto& r : rows) by_actor.emplace(r.actor, &r);
  std::map<const turn_row*, size_t> depth;
  for (const auto& r : rows) {
    size_t d = 0;
    const turn_row* at = &r;
    // Bounded: an actor that asks itself, or a cycle of asks, must not loop.
    for (auto it = by_actor.find(at->caller); it != by_actor.end() && d < rows.size();
         it = by_actor.find(at->caller)) {
      at = it->second;
      ++d;
    }
    depth[&r] = d;
  }
  std::vector<std::pair<size_t, turn_row>> keyed;
  keyed.reserve(rows.size());
  for (auto& r : rows) keyed.emplace_back(depth[&r], std::move(r));
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return a.second.start_ms != b.second.start_ms ? a.second.start_ms < b.second.start_ms
                                                  : a.first < b.first;
  });
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::move(keyed[i].second);
}

std::vector<turn_row> turn_log::rows(const trace_id& trace, const std::string& node) const {
  std::vector<turn_row> out;
  std::lock_guard guard{mutex_};
  // Oldest first: once full, the oldest is the slot the next turn goes to.
  size_t first = size_ < ring_.size() ? 0 : next_;
  for (size_t i = 0; i < size_; ++i) {
    const auto& r = ring_[(first + i) % ring_.size()];
    if (r.trace == trace)
      out.push_back({node, to_string(r.actor), r.message, r.caller, r.start_ms, r.duration_us,
                     r.outcome, r.version_before, r.version_after});
  }
  return out;
}

}  // namespace keel
