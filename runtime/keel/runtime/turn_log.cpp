#include "keel/runtime/turn_log.hpp"

namespace keel {

void turn_log::add(turn_record record) {
  std::lock_guard guard{mutex_};
  if (ring_.size() >= capacity_) ring_.pop_front();
  ring_.push_back(std::move(record));
}

std::vector<turn_row> turn_log::rows(const trace_id& trace, const std::string& node) const {
  std::vector<turn_row> out;
  std::lock_guard guard{mutex_};
  for (const auto& r : ring_)
    if (r.trace == trace)
      out.push_back({node, to_string(r.actor), r.message, r.caller, r.start_ms, r.duration_us,
                     r.outcome, r.version_before, r.version_after});
  return out;
}

}  // namespace keel
