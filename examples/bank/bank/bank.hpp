#pragma once

// A bank on Keel: accounts with balances in int64 cents, deposits, transfers between two
// accounts and an audit log per account.
//
// Invariant: money is neither lost nor made. At every commit, the sum over accounts of
// balance_cents, plus the pending transfers' amounts that no destination has credited yet,
// equals the sum of all deposits. (pending_out_cents also counts a transfer credited and
// not yet settled, which is then in the destination's balance too: it is an upper bound of
// what is in flight, exact once the settles ran.) Once no transfer is pending, the
// balances alone add up to the deposits.
//
// The steps below are internal messages (type_builder::internal): only the desk sends them,
// the HTTP edge refuses them, as a credit without a debit would make money.
//
// Protocol (the transfer desk drives it; accounts only answer, they never ask, so no two
// accounts can wait on each other):
//  1. BeginTransfer to the source. In ONE turn, so in one atomic commit: the debit, the
//     record "out/<id>" as PENDING, a TRANSFER_OUT movement and the "settle" reminder.
//     Or, without the funds, the record as REFUSED and nothing moved. A second Begin with
//     the same id answers the record as it is now.
//     Why a turn of its own: a turn commits when it ends, so a debit and an ask in one turn
//     would let the credit land before the debit is durable; a crash between the two
//     would make money.
//  2. Credit to the destination, keyed by (source, id). In one turn: the decision, stored
//     as "in/<source>/<id>": accepted (credited, with a TRANSFER_IN movement) or refused
//     (the account is not open, or the amount would overflow it). The first decision
//     stands: a retry, however late, answers the stored one and moves nothing.
//  3. SettleTransfer to the source with that decision: accepted makes the record
//     COMPLETED; refused makes it REFUNDED and pays the amount back (a REFUND movement).
//     Settling is idempotent and only follows a decision the destination stored, so a
//     refund can never meet a credit of the same transfer.
// Any other answer to step 2 or 3 (a timeout, an unavailable node, a crash of the desk) is
// in doubt: the record stays PENDING, the money stays counted in pending_out_cents, and the
// source's "settle" reminder, durable since step 1, hands every pending record to the
// desk again (ResumeTransfer) until it is settled. Repeating steps 2 and 3 is safe because
// both are idempotent; a client that repeats MakeTransfer with the same id gets the same
// result and moves the money once.
//
// Transfer ids are the client's and unique per source account. Entries load with the
// activation, so an account's history must stay bounded: a real bank would archive
// settled records and roll old movements into a snapshot.

#include <string>
#include <string_view>

#include "bank/bank.pb.h"
#include "keel/runtime/actor_id.hpp"

namespace keel {
class node_runtime;
class type_registry;
namespace http {
class gateway;
}
}  // namespace keel

namespace bank {

inline constexpr std::string_view account_type = "account";
inline constexpr std::string_view desk_type = "transfer_desk";
inline constexpr std::string_view settle_reminder = "settle";

inline keel::actor_id account(const std::string& key) {
  return keel::actor_id{std::string{account_type}, key};
}
// Stateless: any key reaches a worker; the source's key keeps traces readable.
inline keel::actor_id desk(const std::string& from) {
  return keel::actor_id{std::string{desk_type}, from};
}

/// Registers `account` and `transfer_desk`.
void register_bank(keel::type_registry& types);
void register_account(keel::type_registry& types);
void register_transfer_desk(keel::type_registry& types);

/// The JSON routes under /v1/bank (README.md lists them). Requires: `rt` outlives `gw`'s
/// serving.
void add_bank_routes(keel::http::gateway& gw, keel::node_runtime& rt);

}  // namespace bank
