#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "async_node_client.hpp"
#include "call_stats.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "ride_record.hpp"
#include "sim_options.hpp"

namespace keel::sim {

/// A point in degrees. A plain value.
struct lat_lng {
  double lat = 0;
  double lng = 0;
};

/// The simulated city: a square of ±`half_span` degrees around Berlin's centre, small enough
/// for keel-node's 5 km search radius to reach most drivers from most pickups.
/// Immutable; safe to share between threads.
struct city {
  lat_lng center{52.52, 13.40};
  double half_span = 0.05;

  lat_lng random_point(std::mt19937_64& rng) const;
  /// A point within `radius` degrees of `p`, kept inside the city.
  lat_lng near(lat_lng p, double radius, std::mt19937_64& rng) const;
};

std::string driver_name(int index);

/// A generator for one of the sim's random streams: the same seed and stream give the same
/// sequence, and different streams don't repeat each other.
std::mt19937_64 random_stream(uint64_t seed, uint64_t stream);

/// The load phase's shared clock, stop rule and live counters.
/// Thread safety: thread-safe (fixed fields set before the workers start; counters atomic).
struct run_control {
  using clock = std::chrono::steady_clock;
  clock::time_point started;
  clock::time_point deadline;
  int64_t ride_limit = 0;  // 0: none

  std::atomic<int64_t> rides_claimed{0};
  std::atomic<int64_t> rides_finished{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> errors{0};
  std::atomic<run_ns> last_answer{0};  // the latest 2xx of any worker
  std::atomic<bool> stalled{false};    // the run ended early: the node stopped answering
  double rate = 0;                     // rides per second on a schedule; 0: closed loop

  run_ns now_ns() const;
  /// Claims the next ride against `ride_limit`: when it is due to start (now in a closed
  /// loop; on the schedule with a `rate`, possibly past when every dispatcher was busy, so
  /// its latency counts the wait). Nullopt once the deadline has passed (for the schedule:
  /// the ride would start after it), and once no call has succeeded for `stall_limit`: a
  /// dead node would otherwise be hammered with refused connections until the deadline.
  std::optional<clock::time_point> claim_ride();

  static constexpr std::chrono::seconds stall_limit{5};
};

/// Places every driver at a random point in the city and makes it available, spreading the
/// drivers over `opts.concurrency` threads. Returns the first failure, if any: the sim
/// cannot run meaningfully with drivers missing, so the caller stops.
std::optional<std::string> place_drivers(const sim_options& opts, const city& town);

/// Where riders' and drivers' actors live, as answers' Keel-Owner-Address headers said:
/// the sessions of the simulated apps under --follow-owner. A rider's rides live with the
/// rider, so a rider's app can send its next ride request where its last one ran.
/// Thread safety: externally synchronized; shared by one load_loop's workers, on its thread.
struct owner_hints {
  std::map<std::string, std::string> riders;   // rider id -> owner's HTTP address
  std::map<std::string, std::string> drivers;  // driver id -> owner's HTTP address
};

/// One simulated dispatcher: runs rides back to back on its own keep-alive connection until
/// the run's deadline or ride limit, recording latencies, failures and every ride. A
/// coroutine on a load_loop: many dispatchers share one thread.
/// Thread safety: externally synchronized; runs on its io_context's thread, and results are
/// read only after that thread has joined.
class ride_worker {
 public:
  /// Requires: `io`, `opts`, `town`, `control` and `hints` outlive the worker.
  ride_worker(asio::io_context& io, const sim_options& opts, const city& town, run_control& control,
              owner_hints& hints, int index);

  asio::awaitable<void> run();
  /// See async_node_client::enforce_timeout; for every connection of the worker.
  void enforce_timeout(async_node_client::clock::time_point now);

  const call_stats& stats() const { return stats_; }
  const std::vector<ride_record>& rides() const { return rides_; }

 private:
  enum class cancel_point : uint8_t { none, before_accept, after_accept, after_start };

  /// One ride, due to start at `due` (its first call's latency counts from then).
  asio::awaitable<void> one_ride(run_control::clock::time_point due);
  // Coroutines take strings by value: a reference parameter would dangle once a caller
  // passes a temporary and does not await at once. `since`: when the call was due (default:
  // now).
  // `owner`: the HTTP address of the node that owns the actor asked, as an earlier answer
  // named it; with --follow-owner the call goes there ("": to the worker's own node).
  asio::awaitable<http_reply> call(route r, std::string path, std::string body,
                                   std::optional<run_control::clock::time_point> since = {},
                                   std::string owner = {});
  /// The connection to `owner` (made on first use), or the worker's own.
  async_node_client& client_for(const std::string& owner);
  /// POSTs a lifecycle step; the ride from its answer, or nullopt after recording the failure.
  asio::awaitable<std::optional<rideshare::Ride>> step(route r, std::string ride_id,
                                                       std::string body);
  /// Ends the ride with `r` (complete or cancel); falls back to recover() on failure.
  asio::awaitable<void> finish(ride_record& rec, route r, ride_path path,
                               payment_expectation expect);
  /// After a failed call: cancels the ride, or reads how it ended, a bounded number of times.
  asio::awaitable<void> recover(ride_record& rec);
  /// Classifies `rec` by the node's last answer about its ride (recovered rides only).
  void adopt_outcome(ride_record& rec, const rideshare::Ride& ride);
  asio::awaitable<void> move_driver(std::string driver_id, lat_lng near, double radius);
  asio::awaitable<void> pause(std::chrono::milliseconds how_long);

  asio::io_context& io_;
  const sim_options& opts_;
  const city& town_;
  run_control& control_;
  std::mt19937_64 rng_;
  const endpoint& home_;      // the node the worker's own connection goes to
  std::string home_address_;  // host:port, as Keel-Owner-Address writes an owner's
  async_node_client client_;  // to home_
  // With --follow-owner: a connection per owner node met, and where the current ride, its
  // rider and each driver live, as the last answer about them said.
  std::map<std::string, std::unique_ptr<async_node_client>> owner_clients_;
  std::string ride_owner_;
  owner_hints& hints_;
  call_stats stats_;
  std::vector<ride_record> rides_;
};

}  // namespace keel::sim
