#pragma once

#include <chrono>
#include <cstdint>

#include "keel/rideshare/geo.hpp"

namespace keel {
class type_registry;
class node_runtime;
namespace http {
class gateway;
}
}  // namespace keel

namespace keel::rideshare {

/// The ride-sharing app's settings; fixed at start-up.
struct rideshare_options {
  fare_rule fare;
  double cell_degrees = 0.01;  // ~1.1 km of latitude per cell
  double search_radius_meters = 5000;
  // A search that finds no driver is retried after search_retry, then twice as long each
  // time (±20 %) up to search_retry_max: an empty area costs little per waiting ride.
  std::chrono::milliseconds search_retry{std::chrono::seconds{2}};
  std::chrono::milliseconds search_retry_max{std::chrono::seconds{30}};
  std::chrono::milliseconds search_timeout{std::chrono::minutes{2}};
  std::chrono::milliseconds accept_timeout{std::chrono::minutes{1}};  // matched → re-offered
  int32_t cancellation_fee_cents = 500;  // charged when a ride is cancelled after accept
  double payment_failure_rate = 0;       // the simulated processor's failure rate
  std::chrono::milliseconds payment_latency{0};
  int alerts_kept = 50;
  int history_kept = 20;
};

/// Registers the ride-sharing actor types: driver, cell, area, quote, ride, rider, payment,
/// processor, alerts, ride_key (idempotency). Requires: `types` not yet serving.
void register_rideshare(type_registry& types, const rideshare_options& opts);

/// Registers the ride-sharing HTTP routes (DESIGN.md "HTTP API"). Requires: `runtime`
/// outlives `gw`.
void add_rideshare_routes(http::gateway& gw, node_runtime& runtime, const rideshare_options& opts);

}  // namespace keel::rideshare
