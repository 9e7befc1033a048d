#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace keel::test {

/// Polls `done` every `every` until it holds or `limit` has passed; whether it held. For
/// conditions a real process or the runtime's own threads make true.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit,
                       std::chrono::milliseconds every = std::chrono::milliseconds{10}) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace keel::test
