// The account: balances, the audit log and both sides of a transfer (bank.hpp has the
// protocol). Every handler is one turn that asks no one, so each answer leaves only once
// what it decided is durable.
#include <cstdio>
#include <string>

#include "bank/bank.hpp"
#include "keel/runtime/context.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"

namespace bank {

namespace {

using keel::context;
using keel::errc;
using keel::make_error;
using std::chrono::milliseconds;

constexpr size_t max_transfer_id_bytes = 128;
// The backstop for a desk that stopped half way; the desk settles at once otherwise.
constexpr milliseconds settle_every{30'000};

// Zero-padded, so name order is movement order.
std::string audit_entry(int64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "audit/%020lld", static_cast<long long>(seq));
  return buf;
}
std::string out_entry(const std::string& id) {
  return "out/" + id;
}
// Length-prefixed: account keys may hold '/'.
std::string in_entry(const std::string& from, const std::string& id) {
  return "in/" + std::to_string(from.size()) + ":" + from + "/" + id;
}

Balance balance_of(context& ctx) {
  const auto& st = ctx.view<Account>();
  Balance out;
  out.set_account(ctx.self().key());
  out.set_open(st.open());
  out.set_balance_cents(st.balance_cents());
  out.set_pending_out_cents(st.pending_out_cents());
  return out;
}

// Changes the balance by `amount` and logs it as one movement.
void record_movement(context& ctx, MovementKind kind, int64_t amount,
                     const std::string& transfer_id, const std::string& counterparty) {
  auto& st = ctx.state<Account>();
  st.set_balance_cents(st.balance_cents() + amount);
  Movement m;
  m.set_seq(st.next_seq());
  m.set_kind(kind);
  m.set_amount_cents(amount);
  m.set_balance_cents(st.balance_cents());
  m.set_transfer_id(transfer_id);
  m.set_counterparty(counterparty);
  m.set_at_ms(ctx.now_ms());
  st.set_next_seq(st.next_seq() + 1);
  ctx.put_entry(audit_entry(m.seq()), m);
}

// Whether `amount` more still leaves room below INT64_MAX for every pending refund.
bool fits(const Account& st, int64_t amount) {
  int64_t sum = 0;
  return !__builtin_add_overflow(st.balance_cents(), st.pending_out_cents(), &sum) &&
         !__builtin_add_overflow(sum, amount, &sum);
}

caf::expected<Balance> deposit(const Deposit& m, context& ctx) {
  const auto& st = ctx.view<Account>();
  if (!st.open())
    return make_error(errc::not_found, "account " + ctx.self().key() + " is not open");
  if (m.amount_cents() <= 0) return make_error(errc::bad_payload, "amountCents: must be positive");
  if (!fits(st, m.amount_cents()))
    return make_error(errc::conflict, "the deposit would overflow the balance");
  record_movement(ctx, DEPOSIT, m.amount_cents(), "", "");
  return balance_of(ctx);
}

caf::error check_begin(const BeginTransfer& m, context& ctx) {
  if (m.transfer_id().empty() || m.transfer_id().size() > max_transfer_id_bytes)
    return make_error(errc::bad_payload, "transferId: 1 to 128 bytes");
  if (m.to().empty() || m.to() == ctx.self().key())
    return make_error(errc::bad_payload, "to: another account's id");
  if (m.amount_cents() <= 0) return make_error(errc::bad_payload, "amountCents: must be positive");
  if (!ctx.view<Account>().open())
    return make_error(errc::not_found, "account " + ctx.self().key() + " is not open");
  return {};
}

// Step 1: the debit and its PENDING record commit together, or REFUSED moves nothing.
caf::expected<Transfer> begin(const BeginTransfer& m, context& ctx) {
  if (auto known = ctx.entry<Transfer>(out_entry(m.transfer_id()))) {
    if (known->to() != m.to() || known->amount_cents() != m.amount_cents())
      return make_error(errc::conflict, "transfer " + m.transfer_id() +
                                            " was made with another destination or amount");
    return *known;  // a repeat: the same answer, nothing moves again
  }
  if (auto err = check_begin(m, ctx)) return err;
  Transfer t;
  t.set_transfer_id(m.transfer_id());
  t.set_from(ctx.self().key());
  t.set_to(m.to());
  t.set_amount_cents(m.amount_cents());
  if (ctx.view<Account>().balance_cents() < m.amount_cents()) {
    t.set_status(REFUSED);
    t.set_reason("insufficient funds");
  } else {
    t.set_status(PENDING);
    record_movement(ctx, TRANSFER_OUT, -m.amount_cents(), m.transfer_id(), m.to());
    auto& st = ctx.state<Account>();
    if (st.pending_out_cents() == 0)
      ctx.register_reminder(std::string{settle_reminder}, settle_every, settle_every);
    st.set_pending_out_cents(st.pending_out_cents() + m.amount_cents());
  }
  ctx.put_entry(out_entry(t.transfer_id()), t);
  return t;
}

// Step 2, on the destination: decided once per (source, id), then only repeated.
caf::expected<Credit> credit(const Credit& m, context& ctx) {
  auto name = in_entry(m.from(), m.transfer_id());
  if (auto known = ctx.entry<Credit>(name)) {
    if (known->amount_cents() != m.amount_cents())
      return make_error(errc::conflict, "credit " + m.transfer_id() + " came with another amount");
    return *known;
  }
  if (m.transfer_id().empty() || m.from().empty() || m.amount_cents() <= 0)
    return make_error(errc::bad_payload, "credit: transferId, from and a positive amount");
  Credit out = m;
  const auto& st = ctx.view<Account>();
  if (!st.open()) {
    out.set_reason("account " + ctx.self().key() + " is not open");
  } else if (!fits(st, m.amount_cents())) {
    out.set_reason("the credit would overflow the balance");
  } else {
    out.set_accepted(true);
    record_movement(ctx, TRANSFER_IN, m.amount_cents(), m.transfer_id(), m.from());
  }
  ctx.put_entry(std::move(name), out);
  return out;
}

// Step 3: the destination's decision ends the transfer; a refund pays the debit back.
caf::expected<Transfer> settle(const SettleTransfer& m, context& ctx) {
  auto known = ctx.entry<Transfer>(out_entry(m.transfer_id()));
  if (!known) return make_error(errc::not_found, "no transfer " + m.transfer_id());
  Transfer t = *known;
  if (t.status() != PENDING) {
    if ((t.status() == COMPLETED) != m.credited())
      return make_error(errc::conflict, "transfer " + t.transfer_id() + " was settled otherwise");
    return t;
  }
  if (m.credited()) {
    t.set_status(COMPLETED);
  } else {
    t.set_status(REFUNDED);
    t.set_reason(m.reason());
    record_movement(ctx, REFUND, t.amount_cents(), t.transfer_id(), t.to());
  }
  auto& st = ctx.state<Account>();
  st.set_pending_out_cents(st.pending_out_cents() - t.amount_cents());
  if (st.pending_out_cents() == 0) ctx.unregister_reminder(std::string{settle_reminder});
  ctx.put_entry(out_entry(t.transfer_id()), t);
  return t;
}

// The backstop: every transfer still pending goes back to the desk. The tells leave once
// this turn has committed; a lost one is sent again at the next firing.
void resume_pending(context& ctx) {
  if (ctx.view<Account>().pending_out_cents() == 0)
    return ctx.unregister_reminder(std::string{settle_reminder});
  ctx.for_each_entry([&](const std::string& name, std::string_view bytes) {
    if (!name.starts_with("out/")) return;
    ResumeTransfer resume;
    if (!resume.mutable_transfer()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      return;
    if (resume.transfer().status() == PENDING) ctx.tell(desk(ctx.self().key()), resume);
  });
}

AuditLog audit(context& ctx) {
  AuditLog out;
  ctx.for_each_entry([&](const std::string& name, std::string_view bytes) {
    if (name.starts_with("audit/"))
      out.add_movements()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  });
  return out;
}

}  // namespace

void register_account(keel::type_registry& types) {
  types.add_type<Account>(std::string{account_type})
      .with_entries()
      .on<OpenAccount>([](const OpenAccount&, context& ctx) {
        if (!ctx.view<Account>().open()) ctx.state<Account>().set_open(true);
        return balance_of(ctx);
      })
      .on<Deposit>(deposit)
      .on<GetBalance>([](const GetBalance&, context& ctx) { return balance_of(ctx); })
      .on<GetAudit>([](const GetAudit&, context& ctx) { return audit(ctx); })
      .on<GetTransfer>([](const GetTransfer& m, context& ctx) -> caf::expected<Transfer> {
        if (auto t = ctx.entry<Transfer>(out_entry(m.transfer_id()))) return *t;
        return make_error(errc::not_found, "no transfer " + m.transfer_id());
      })
      .on<BeginTransfer>(begin)
      .on<Credit>(credit)
      .on<SettleTransfer>(settle)
      // The steps of a transfer come from the desk only: a client that could send them
      // could credit without a debit, or refund what was credited.
      .internal<BeginTransfer, Credit, SettleTransfer>()
      .on_reminder([](const std::string&, context& ctx) { resume_pending(ctx); });
}

}  // namespace bank
