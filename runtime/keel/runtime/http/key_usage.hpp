#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "keel/runtime/http/rate_limit.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/metrics.hpp"

namespace keel::http {

/// What each API key has used, by the key's name (never the key): its token bucket for
/// the rate limit and its requests by status class. A name's record is made on its first
/// request and kept for the node's life, so a reference to it stays valid while a request
/// is in flight and across reloads of the keys file; names are few (one a line of the
/// file). The name "" holds the one bucket shared by requests when no keys are configured.
/// Thread safety: thread-safe; the gateway's HTTP threads call it.
class key_usage {
 public:
  /// One name's bucket and counters.
  /// Thread safety: thread-safe.
  class record {
   public:
    /// Takes one token from the bucket shaped by `limit` (the shape may change between
    /// calls, when a reload gives the key another rate); when the bucket is empty, the
    /// whole seconds to wait before a token is back.
    std::optional<int> take(const rate_limit& limit, steady_time now);
    /// Counts one answered request by its status class (1xx..5xx).
    void count(int status) noexcept;

   private:
    friend class key_usage;
    std::mutex mutex_;
    std::optional<double> tokens_;  // guarded by mutex_; nullopt: never taken, full
    steady_time refilled_;          // guarded by mutex_
    std::array<counter, 5> by_class_;
  };

  record& of(std::string_view name);

  /// Appends `keel_http_requests_by_key_total{key,status}` for every named key that was
  /// answered at least once.
  void render(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<record>, std::less<>> records_;  // guarded by mutex_
};

}  // namespace keel::http
