#include "live_targets.hpp"

#include <algorithm>

namespace keel::chaos {

void live_targets::set(std::vector<target> targets) {
  std::lock_guard lock{mutex_};
  targets_ = std::move(targets);
}

void live_targets::remove(const std::string& node_id) {
  std::lock_guard lock{mutex_};
  std::erase_if(targets_, [&](const target& t) { return t.node_id == node_id; });
}

std::optional<target> live_targets::pick(std::mt19937_64& rng) const {
  std::lock_guard lock{mutex_};
  if (targets_.empty()) return std::nullopt;
  return targets_[std::uniform_int_distribution<size_t>{0, targets_.size() - 1}(rng)];
}

std::vector<target> live_targets::all() const {
  std::lock_guard lock{mutex_};
  return targets_;
}

}  // namespace keel::chaos
