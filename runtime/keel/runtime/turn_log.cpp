#include "keel/runtime/turn_log.hpp"

namespace keel {

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
