#pragma once

#include <cstdint>
#include <memory>

namespace keel {

/// The wall-clock seam: durable times (reminder due times) are wall time, because they must
/// survive restarts. Everything else uses CAF's actor clock. Tests inject a fake.
/// Thread safety: implementations are thread-safe.
class wall_clock {
 public:
  virtual ~wall_clock() = default;
  /// Milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
};

/// The real system clock.
std::shared_ptr<wall_clock> make_system_clock();

}  // namespace keel
