#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

/// Slows down guessing: a token bucket of failed attempts (wrong API keys) per client
/// address. Each failure takes a token; a client whose bucket is empty must wait until one
/// has flowed back in, whatever it sends meanwhile. At most `max_clients` buckets are kept:
/// when a new client arrives at the bound, full buckets (clients that stopped failing) go
/// first, then the fullest one, so the clients being slowed down are kept.
/// Thread safety: thread-safe.
class failure_throttle {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Requires: per_second > 0, burst >= 1, max_clients >= 1.
  failure_throttle(double per_second, double burst, size_t max_clients);

  /// Whole seconds `client` must wait before it may try again; nullopt if it may now.
  std::optional<int> wait_for(std::string_view client, time_point now);
  /// Records one failed attempt by `client`.
  void failed(std::string_view client, time_point now);

  size_t clients() const;

 private:
  struct bucket {
    double tokens = 0;
    time_point refilled;
  };
  // Requires: mutex_ held.
  void refill(bucket& b, time_point now) const;
  void make_room(time_point now);

  const double per_second_;
  const double burst_;
  const size_t max_clients_;
  mutable std::mutex mutex_;
  std::map<std::string, bucket, std::less<>> buckets_;  // guarded by mutex_
};

}  // namespace keel::http
