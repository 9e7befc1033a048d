#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel::test {

/// Wraps the real store and, while `fail_writes` is set, refuses every write with
/// `unavailable` (as a full or broken disk would), without touching the inner store; so do
/// the next `fail_next_writes` writes. While
/// `hold_writes` is set, a write waits (a slow disk), so that commits pile up behind it.
/// Thread safety: thread-safe.
class faulty_store final : public state_store {
 public:
  explicit faulty_store(std::unique_ptr<state_store> inner) : inner_(std::move(inner)) {}

  std::atomic<bool> fail_writes{false};
  std::atomic<int> fail_next_writes{0};  // this many writes fail, then writes succeed again
  std::atomic<bool> hold_writes{false};
  std::atomic<int> writes_started{0};
  std::atomic<int> fail_next_scans{0};  // this many scans fail, then scans succeed again

  caf::expected<std::optional<std::string>> get(std::string_view key) override {
    return inner_->get(key);
  }
  caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) override {
    if (fail_next_scans.load() > 0 && fail_next_scans.fetch_sub(1) > 0)
      return make_error(errc::unavailable, "injected read failure");
    return inner_->scan(prefix);
  }
  std::shared_ptr<const store_snapshot> snapshot() override { return inner_->snapshot(); }
  caf::error write(const std::vector<store_write>& batch) override {
    writes_started.fetch_add(1);
    while (hold_writes.load()) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    if (fail_writes.load()) return make_error(errc::unavailable, "injected write failure");
    for (int n = fail_next_writes.load(); n > 0;)
      if (fail_next_writes.compare_exchange_weak(n, n - 1))
        return make_error(errc::unavailable, "injected write failure");
    return inner_->write(batch);
  }

 private:
  std::unique_ptr<state_store> inner_;
};

}  // namespace keel::test
