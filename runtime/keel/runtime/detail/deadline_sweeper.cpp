#include "keel/runtime/detail/deadline_sweeper.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/message.hpp>

#include "keel/runtime/call_router.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/log_trace.hpp"
#include "keel/runtime/node_stats.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::detail {

namespace {

// A round scans the directory: ~10 ms per million activations here.
std::chrono::milliseconds round_period(size_t max_activations, std::chrono::milliseconds interval) {
  return std::clamp(std::chrono::milliseconds{static_cast<int64_t>(max_activations / 10'000)},
                    interval, std::chrono::milliseconds{1000});
}

}  // namespace

deadline_sweeper::deadline_sweeper(config cfg)
    : cfg_(std::move(cfg)),
      idle_period_(std::max(cfg_.interval, cfg_.idle_timeout / 2)),
      pacer_(cfg_.router->activations().max_size(),
             round_period(cfg_.router->activations().max_size(), cfg_.interval)),
      next_idle_check_(cfg_.first_idle_check),
      // On the runtime's clock, so a test that advances it closes intervals; stamped with
      // the wall clock's time, which is what a chart's time axis shows.
      next_stats_close_(cfg_.clock->now() + cfg_.stats_interval),
      thread_([this] { run(); }) {}

deadline_sweeper::~deadline_sweeper() {
  stop();
}

void deadline_sweeper::stop() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void deadline_sweeper::run() {
  name_this_thread("keel.sweeper");
  std::unique_lock lock{mutex_};
  while (!wake_.wait_for(lock, cfg_.interval, [this] { return stopping_; })) {
    lock.unlock();
    // A call's callback runs here when its deadline passes; one that throws must neither
    // end the process (an exception leaving a thread does) nor the sweeps, which every
    // other deadline depends on.
    try {
      sweep(cfg_.clock->now());
    } catch (const std::exception& e) {
      cfg_.log->error("deadline sweep: {}", e.what());
    } catch (...) {
      cfg_.log->error("deadline sweep: an exception that is no std::exception");
    }
    lock.lock();
  }
}

void deadline_sweeper::sweep(steady_time now) {
  auto& router = *cfg_.router;
  std::vector<pending_calls::slow_call> slow;
  router.pending().sweep(now, cfg_.slow_request, &slow);
  for (const auto& call : slow) {
    log_trace_scope about{call.trace};
    cfg_.log->warn("slow request: {} open {} ms, waiting on {}; trace {}", call.message,
                   call.open.count(), call.chain, call.trace.to_hex());
  }
  if (cfg_.idle_timeout.count() > 0 && now >= next_idle_check_) {
    next_idle_check_ = now + idle_period_;
    router.activations().send_to_all(caf::make_message(idle_atom::value, cfg_.idle_timeout));
  }
  router.evict_idle(pacer_.due(router.activations().size(), now));
  if (now >= next_stats_close_) {
    cfg_.stats->close_interval(cfg_.wall->now_ms());
    next_stats_close_ += cfg_.stats_interval;
    // A sweeper held up for longer than an interval closes one long interval, not a
    // burst of short ones.
    if (next_stats_close_ <= now) next_stats_close_ = now + cfg_.stats_interval;
  }
}

}  // namespace keel::detail
