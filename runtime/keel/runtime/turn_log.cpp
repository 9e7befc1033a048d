#include "keel/runtime/turn_log.hpp"

namespace keel {

void turn_log::add(turn_record record) {
  std::lock_guard guard{mutex_};
  if (ring_.size() >= capacity_) ring_.pop_front();
  ring_.push_back(std::move(record));
}

std::vector<turn_record> turn_log::find(const trace_id& trace) const {
  std::vector<turn_record> out;
  std::lock_guard guard{mutex_};
  for (const auto& r : ring_)
    if (r.trace == trace) out.push_back(r);
  return out;
}

}  // namespace keel
