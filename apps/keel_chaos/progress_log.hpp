#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace keel::chaos {

/// keel-chaos's own output: one line at a time on stdout, each stamped with the seconds since
/// the run began, so a reader can line it up with the nodes' logs.
/// Thread safety: thread-safe.
class progress_log {
 public:
  progress_log();
  void line(const std::string& text);
  /// Text printed as it is (the tables at the end), under the same lock.
  void raw(const std::string& text);
  double elapsed_s() const;

 private:
  const std::chrono::steady_clock::time_point began_;
  std::mutex mutex_;  // serializes writes to stdout
};

}  // namespace keel::chaos
