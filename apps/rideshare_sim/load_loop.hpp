#pragma once

#include <memory>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "ride_worker.hpp"

namespace keel::sim {

/// One thread's share of the load: its ride workers run as coroutines on one io_context (a
/// single epoll loop), with a watchdog that fails any exchange past the request timeout.
/// Thread safety: add workers, then call run() on one thread; read workers() after run()
/// has returned.
class load_loop {
 public:
  /// Requires: `opts`, `town` and `control` outlive the loop.
  load_loop(const sim_options& opts, const city& town, run_control& control);

  void add_worker(int index);
  /// Runs every worker to its end; returns once all have finished.
  void run();

  const std::vector<std::unique_ptr<ride_worker>>& workers() const { return workers_; }

 private:
  asio::awaitable<void> drive(ride_worker& worker);
  asio::awaitable<void> watch();

  const sim_options& opts_;
  const city& town_;
  run_control& control_;
  asio::io_context io_{1};  // run by one thread
  asio::steady_timer watchdog_{io_};
  owner_hints hints_;  // the workers' shared sessions (--follow-owner)
  std::vector<std::unique_ptr<ride_worker>> workers_;
  size_t running_ = 0;
};

}  // namespace keel::sim
