#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "call_outcome.hpp"

namespace keel::chaos {

/// A contradiction between what the nodes answered and what a counter holds.
enum class anomaly {
  backwards,              // an Increment answered a value <= the last acknowledged one
  applied_though_failed,  // a value above what every call that may have happened explains
  lost,                   // the final read is below the last acknowledged value
};

/// The exactness check of the counters one client owns. Each key has one writer (its
/// client) sending one call at a time, so after an acknowledged value `acked` and
/// `unknown` calls of unknown outcome, the next Increment must answer a value in
/// [acked + 1, acked + 1 + unknown], and a read one in [acked, acked + unknown].
/// Thread safety: externally synchronized: confined to the owning client's thread (and to
/// the main thread once that thread has been joined).
class key_ledger {
 public:
  explicit key_ledger(std::vector<std::string> keys);

  const std::vector<std::string>& keys() const noexcept { return keys_; }
  /// Records the answer to one Increment of keys()[i]; the contradiction, if any, with a
  /// description naming the key and the range.
  std::optional<std::pair<anomaly, std::string>> record_increment(size_t i, const call_result& r);
  /// Checks a value read from keys()[i]; changes nothing.
  std::optional<std::pair<anomaly, std::string>> check_read(size_t i, int64_t value) const;
  int64_t acked_total() const;
  /// Calls of unknown outcome that a later in-range answer settled, and how many of those
  /// the answer shows were applied.
  int64_t unknown_settled() const noexcept { return unknown_settled_; }
  int64_t unknown_applied() const noexcept { return unknown_applied_; }

 private:
  struct key_state {
    int64_t acked = 0;    // the last value an Increment answered
    int64_t unknown = 0;  // calls of unknown outcome since
  };
  std::vector<std::string> keys_;
  std::vector<key_state> states_;
  int64_t unknown_settled_ = 0;
  int64_t unknown_applied_ = 0;
};

}  // namespace keel::chaos
