#include "load_loop.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace keel::sim {

load_loop::load_loop(const sim_options& opts, const city& town, run_control& control)
    : opts_(opts), town_(town), control_(control) {}

void load_loop::add_worker(int index) {
  workers_.push_back(std::make_unique<ride_worker>(io_, opts_, town_, control_, hints_, index));
}

void load_loop::run() {
  running_ = workers_.size();
  // A worker that throws (out of memory, say) ends the program loudly, as a thread would;
  // swallowed, it would leave the loop waiting for it forever.
  auto rethrow = [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  };
  for (auto& w : workers_) asio::co_spawn(io_, drive(*w), rethrow);
  asio::co_spawn(io_, watch(), rethrow);
  io_.run();
}

asio::awaitable<void> load_loop::drive(ride_worker& worker) {
  co_await worker.run();
  if (--running_ == 0) watchdog_.cancel();  // the run's end is not delayed to its next tick
}

asio::awaitable<void> load_loop::watch() {
  // Coarse on purpose: a timer per exchange would cost a timer-queue update per request.
  constexpr std::chrono::milliseconds tick{100};
  while (running_ > 0) {
    watchdog_.expires_after(tick);
    co_await watchdog_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    auto now = async_node_client::clock::now();
    for (auto& w : workers_) w->enforce_timeout(now);
  }
}

}  // namespace keel::sim
