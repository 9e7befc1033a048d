#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ride_record.hpp"
#include "sim_options.hpp"

namespace keel::sim {

/// The node's final word on one ride's payment: the payment actor's status and the
/// simulated processor's ledger of what it actually did.
/// A plain value.
struct payment_view {
  std::string fetch_error;  // non-empty: GET /v1/payments/{id} never answered 200
  std::string status;       // protobuf's enum name: pending, authorized, captured, voided...
  int32_t amount_cents = 0;
  std::string ledger_error;  // non-empty: GetLedger never answered 200
  std::optional<int32_t> ledger_capture;
  std::optional<int32_t> ledger_void;
  int ledger_entries = 0;

  /// No reminder will change it any more.
  bool settled() const;
};

/// The payments of a run once they have settled, or once the sim stopped waiting.
/// A plain value.
struct settled_payments {
  std::vector<payment_view> views;  // views[i] belongs to rides[i]; empty for lost rides
  double waited_s = 0;              // from the first poll to the last
  int64_t reads = 0;                // payment polls and ledger reads: turns the sim caused
};

/// Polls every payment the sim can judge until all have settled or `opts.settle_timeout`
/// has passed, then reads each one's processor ledger. Payments settle on reminders after
/// the ride's last answer, and a failing processor backs off, so the wait is the run's
/// tail, bounded. Uses `opts.concurrency` connections.
settled_payments settle_payments(const sim_options& opts, const std::vector<ride_record>& rides);

/// One invariant's verdict.
/// A plain value.
struct check_result {
  std::string name;
  bool pass = false;
  std::string detail;
};

/// Judges the invariants the brief names: payments settle; completed rides capture the
/// fare once; rides cancelled after accept capture the fee once; rides cancelled before
/// accept are voided with nothing captured; no driver held two rides at once; captured
/// money equals fares plus fees.
/// Requires: `payments.views.size() == rides.size()`.
std::vector<check_result> judge(const sim_options& opts, const std::vector<ride_record>& rides,
                                const settled_payments& payments);

}  // namespace keel::sim
