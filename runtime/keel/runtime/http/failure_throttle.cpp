#include "keel/runtime/http/failure_throttle.hpp"

#include <algorithm>

#include "keel/runtime/http/rate_limit.hpp"

namespace keel::http {

failure_throttle::failure_throttle(double per_second, double burst, size_t max_clients)
    : per_second_(per_second), burst_(burst), max_clients_(max_clients) {}

void failure_throttle::refill(bucket& b, time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
  b.refilled = now;
}

std::optional<int> failure_throttle::wait_for(std::string_view client, time_point now) {
  std::lock_guard guard{mutex_};
  auto it = buckets_.find(client);
  if (it == buckets_.end()) return std::nullopt;
  refill(it->second, now);
  if (it->second.tokens >= 1) return std::nullopt;
  return seconds_until_token(it->second.tokens, per_second_);
}

void failure_throttle::make_room(time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_clients_) return;
  auto fullest = std::max_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
    return a.second.tokens < b.second.tokens;
  });
  buckets_.erase(fullest);
}

void failure_throttle::failed(std::string_view client, time_point now) {
  std::lock_guard guard{mutex_};
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) make_room(now);
    it = buckets_.emplace(std::string{client}, bucket{burst_, now}).first;
  }
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
}

size_t failure_throttle::clients() const {
  std::lock_guard guard{mutex_};
  return buckets_.size();
}

}  // namespace keel::http
