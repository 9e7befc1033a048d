// The transfer desk: a stateless worker that runs the exchange of bank.hpp as one
// coroutine per transfer. It keeps nothing: everything that must survive is in the two
// accounts' entries, so a desk lost half way is replaced by the next ResumeTransfer.
#include <string>

#include "bank/bank.hpp"
#include "keel/runtime/context.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/task.hpp"

namespace bank {

namespace {

using keel::context;
using keel::task;

// Workers per node: each holds one transfer for its two asks.
constexpr size_t desk_workers = 16;

// Steps 2 and 3 for a transfer the source holds as PENDING. Answers the settled record,
// or `pending` itself while the outcome is in doubt (the reminder goes on from there).
task<Transfer> finish(context& ctx, Transfer pending) {
  Credit credit;
  credit.set_transfer_id(pending.transfer_id());
  credit.set_from(pending.from());
  credit.set_amount_cents(pending.amount_cents());
  auto decided = co_await ctx.ask<Credit>(account(pending.to()), credit);
  // An error is no decision: the credit may or may not have landed. Only a stored
  // refusal allows a refund.
  if (!decided) co_return pending;
  SettleTransfer settle;
  settle.set_transfer_id(pending.transfer_id());
  settle.set_credited(decided->accepted());
  settle.set_reason(decided->reason());
  auto settled = co_await ctx.ask<Transfer>(account(pending.from()), settle);
  if (!settled) co_return pending;
  co_return *settled;
}

task<caf::expected<Transfer>> make_transfer(const MakeTransfer& m, context& ctx) {
  BeginTransfer begin;
  begin.set_transfer_id(m.transfer_id());
  begin.set_to(m.to());
  begin.set_amount_cents(m.amount_cents());
  auto begun = co_await ctx.ask<Transfer>(account(m.from()), begin);
  if (!begun) co_return begun.error();
  if (begun->status() != PENDING) co_return *begun;
  auto done = co_await finish(ctx, *begun);
  co_return done;
}

}  // namespace

void register_transfer_desk(keel::type_registry& types) {
  types.add_stateless(std::string{desk_type}, desk_workers)
      .on<MakeTransfer>(make_transfer)
      .on<ResumeTransfer>([](const ResumeTransfer& m, context& ctx) -> task<Transfer> {
        auto done = co_await finish(ctx, m.transfer());
        co_return done;
      })
      // From an account's settle reminder only: it trusts the transfer it is given.
      .internal<ResumeTransfer>();
}

void register_bank(keel::type_registry& types) {
  register_account(types);
  register_transfer_desk(types);
}

}  // namespace bank
