#include "key_ledger.hpp"

#include <fmt/format.h>

namespace keel::chaos {

key_ledger::key_ledger(std::vector<std::string> keys)
    : keys_(std::move(keys)), states_(keys_.size()) {}

std::optional<std::pair<anomaly, std::string>> key_ledger::record_increment(size_t i,
                                                                            const call_result& r) {
  auto& s = states_[i];
  if (r.kind == outcome::unknown) ++s.unknown;
  if (r.kind != outcome::acked) return std::nullopt;
  std::optional<std::pair<anomaly, std::string>> found;
  int64_t low = s.acked + 1;
  int64_t high = s.acked + 1 + s.unknown;
  auto what = fmt::format("key {}: Increment answered {}, expected {}..{} (acked {}, {} unknown)",
                          keys_[i], r.value, low, high, s.acked, s.unknown);
  if (r.value > high) {
    found.emplace(anomaly::applied_though_failed, what);
  } else if (r.value < low) {
    found.emplace(anomaly::backwards, what);
  } else {
    unknown_settled_ += s.unknown;
    unknown_applied_ += r.value - low;
  }
  // The node's answer is the new truth: later checks measure from it, so one anomaly is
  // reported once instead of cascading into every later call of the key.
  s.acked = r.value;
  s.unknown = 0;
  return found;
}

std::optional<std::pair<anomaly, std::string>> key_ledger::check_read(size_t i,
                                                                      int64_t value) const {
  const auto& s = states_[i];
  auto what = fmt::format("key {}: final read {}, expected {}..{} (acked {}, {} unknown)", keys_[i],
                          value, s.acked, s.acked + s.unknown, s.acked, s.unknown);
  if (value < s.acked) return std::make_pair(anomaly::lost, what);
  if (value > s.acked + s.unknown) return std::make_pair(anomaly::applied_though_failed, what);
  return std::nullopt;
}

int64_t key_ledger::acked_total() const {
  int64_t total = 0;
  for (const auto& s : states_) total += s.acked;
  return total;
}

}  // namespace keel::chaos
