#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace keel::sim {

/// What the sim did with a ride.
enum class ride_path : uint8_t {
  completed,                // accept, start, complete
  cancelled_before_accept,  // matched, then cancelled
  cancelled_after_accept,   // accepted, then cancelled
  cancelled_after_start,    // started, then cancelled
  cancelled_searching,      // no driver matched at request time: cancelled at once
  recovered,                // a call failed; the sim cancelled it or read how it ended
  lost,                     // a call failed and the sim never learnt how the ride ended
};

std::string_view path_name(ride_path p);

/// What the ride's payment must end as.
enum class payment_expectation : uint8_t {
  capture_fare,  // completed: the fare, captured once
  capture_fee,   // cancelled after accept: the cancellation fee, captured once
  void_payment,  // cancelled before accept: voided, nothing captured
  unknown,       // lost: nothing to check
};

/// Nanoseconds since the run started, on the steady clock.
using run_ns = int64_t;
inline constexpr run_ns never = std::numeric_limits<run_ns>::max();

/// One ride as the sim saw it: ids and amounts from the node's answers, and the times that
/// bound when its driver was held.
/// A plain value; written by the worker that ran the ride, read only after the workers join.
struct ride_record {
  std::string ride_id;
  std::string payment_id;
  std::string driver_id;  // empty: never matched as far as the sim knows
  int32_t fare_cents = 0;
  int32_t fee_cents = 0;  // cancellationFeeCents of the ride's last answer
  ride_path path = ride_path::lost;
  payment_expectation expect = payment_expectation::unknown;
  // When the driver was held. The node matched the driver before `matched` (the response to
  // POST /v1/rides) and released it after `end_sent` (the first complete or cancel request),
  // so the driver was certainly held over [matched, end_sent). `end_received` is the last
  // answer about the ride's end; the looser window [matched, end_received) is the brief's
  // "sim view", which a release racing the response can make overlap without a server bug.
  run_ns matched = never;  // never: not matched when the sim asked for it
  run_ns end_sent = never;
  run_ns end_received = never;
};

}  // namespace keel::sim
