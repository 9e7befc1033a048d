#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http_wire.hpp"
#include "ride_record.hpp"
#include "sim_options.hpp"

namespace keel::sim {

/// The node's final word on one ride's payment: the payment actor's status and the
/// simulated processor's ledger of what it actually did.
/// A plain value.
struct payment_view {
  // Non-empty: the last read of the payment (of the ledger) got no HTTP answer even after
  // check_read_tries tries, and this is its transport error ("Read", "Connection"...). The
  // ride cannot be judged, which is no evidence of a violation.
  std::string payment_unanswered;
  std::string ledger_unanswered;
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

/// Takes the answer to GET /v1/payments/{id} into `view`. Public so that tests can hand
/// the checks any answer, a lost one included.
void record_payment(const http_reply& reply, payment_view& view);

/// Takes the answer to the processor's GetLedger for `ride` into `view`.
void record_ledger(const ride_record& ride, const http_reply& reply, payment_view& view);

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

/// How often a check's read is tried when it gets no HTTP answer.
inline constexpr int check_read_tries = 3;

/// A run may leave at most this share of its rides not judged (their reads unanswered in
/// transport) and still pass: a few lost connections say nothing about the node's state,
/// but past this share too little was checked to vouch for the run.
inline constexpr double max_not_judged_share = 0.01;

/// Which rides the payment checks looked at.
/// A plain value.
struct check_coverage {
  int64_t rides = 0;       // rides whose payment's end the sim knows: those to judge
  int64_t not_judged = 0;  // of them, rides a read of which got no answer (payment_view)
  // The read that got no answer and its transport error -> rides, e.g.
  // "ledger read: transport Read" -> 12.
  std::map<std::string, int64_t> why;
};

/// The verdicts, and the rides they rest on.
/// A plain value.
struct judgement {
  std::vector<check_result> checks;
  check_coverage coverage;
};

/// Judges the invariants the brief names: payments settle; completed rides capture the
/// fare once; rides cancelled after accept capture the fee once; rides cancelled before
/// accept are voided with nothing captured; no driver held two rides at once; captured
/// money equals fares plus fees. A ride whose payment or ledger read got no answer is left
/// out of every payment check and counted as not judged; the check "rides judged" fails if
/// none could be judged or more than `max_not_judged_share` of them could not.
/// Requires: `payments.views.size() == rides.size()`.
judgement judge(const sim_options& opts, const std::vector<ride_record>& rides,
                const settled_payments& payments);

}  // namespace keel::sim
