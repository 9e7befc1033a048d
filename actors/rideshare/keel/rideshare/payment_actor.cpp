// The payment of a ride: a queue of operations, each performed once by the processor.
#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/alert_kind.hpp"
#include "keel/rideshare/payment_op.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view process_reminder = "process";
constexpr milliseconds process_backstop{1000};

bool open_for_changes(const PaymentState& st) {
  auto s = st.payment().status();
  return s == Payment::pending || s == Payment::authorized;
}

bool queued(const PaymentState& st, payment_op op) {
  for (const auto& q : st.queue())
    if (q.op() == name_of(op)) return true;
  return false;
}

// Processes the head of the queue after `delay` (the simulated processor latency) on the
// durable reminder; with no delay, at once by a ProcessPayment to this payment, sent once
// this turn is durable, with the reminder a second later in case the message is lost with
// the node. Processing an operation twice is harmless: the processor knows its key.
void schedule_processing(context& ctx, milliseconds delay) {
  if (delay.count() > 0) {
    ctx.register_reminder(std::string{process_reminder}, delay, milliseconds{0});
    return;
  }
  ctx.register_reminder(std::string{process_reminder}, process_backstop, milliseconds{0});
  ctx.tell(ctx.self(), ProcessPayment{});
}

// Appends an operation; the first one in an empty queue schedules its processing.
void enqueue(context& ctx, payment_op op, int32_t amount, milliseconds latency) {
  auto& st = ctx.state<PaymentState>();
  auto* entry = st.add_queue();
  entry->set_op(std::string{name_of(op)});
  entry->set_amount_cents(amount);
  if (st.queue_size() == 1) {
    st.set_attempts(0);
    schedule_processing(ctx, latency);
  }
}

void payment_alert(context& ctx, const PaymentState& st, const std::string& text) {
  if (st.rider_id().empty()) return;
  AddAlert add;
  auto* alert = add.mutable_alert();
  alert->set_kind(std::string{name_of(alert_kind::payment)});
  alert->set_ride_id(st.payment().ride_id());
  alert->set_text(text);
  alert->set_at_ms(ctx.now_ms());
  ctx.tell(alerts_actor("rider", st.rider_id()), add);
}

// Applies the processor's answer to the head of the queue.
void on_processed(context& ctx, caf::expected<ChargeResult> answer) {
  auto& st = ctx.state<PaymentState>();
  if (!answer) {
    if (code_of(answer.error()) == errc::bad_payload) {
      // Declined: the payment ends here, and the rider hears of it.
      st.mutable_payment()->set_status(Payment::failed);
      st.clear_queue();
      ctx.unregister_reminder(std::string{process_reminder});
      payment_alert(ctx, st, "payment failed: " + message_of(answer.error()));
      return;
    }
    // Unreachable or failing: retried, forever, with capped backoff on a durable reminder
    // (100 ms doubling to 1 s), never a wait inside the turn.
    st.set_attempts(st.attempts() + 1);
    auto backoff = std::min<int64_t>(100LL << std::min(st.attempts(), 4), 1000);
    ctx.register_reminder(std::string{process_reminder}, milliseconds{backoff}, milliseconds{0});
    return;
  }
  auto done = st.queue(0);
  st.mutable_queue()->erase(st.mutable_queue()->begin());
  st.set_attempts(0);
  auto op = parse_payment_op(done.op());
  auto status = op == payment_op::authorize ? Payment::authorized
                : op == payment_op::capture ? Payment::captured
                                            : Payment::voided;
  st.mutable_payment()->set_status(status);
  if (op == payment_op::capture) st.mutable_payment()->set_amount_cents(done.amount_cents());
  payment_alert(ctx, st,
                "payment " + Payment::Status_Name(status) + ": " +
                    std::to_string(st.payment().amount_cents()) + " cents");
  if (st.queue_size() > 0)
    schedule_processing(ctx, milliseconds{0});
  else
    ctx.unregister_reminder(std::string{process_reminder});  // the backstop
}

// Asks the processor to perform the head of the queue, if any.
void process_head(context& ctx) {
  const auto& st = ctx.view<PaymentState>();
  if (st.queue_size() == 0) return;
  const auto& head = st.queue(0);
  // An operation this version does not know (a newer one queued it) waits for a version
  // that does: the backstop reminder offers it again.
  if (!parse_payment_op(head.op())) {
    ctx.register_reminder(std::string{process_reminder}, process_backstop, milliseconds{0});
    return;
  }
  Charge charge;
  // The same key on every retry: the processor performs each operation at most once.
  charge.set_idempotency_key(ctx.self().key() + ":" + head.op());
  charge.set_operation(head.op());
  charge.set_amount_cents(head.amount_cents());
  ctx.ask<ChargeResult>(
      processor_actor(ctx.self().key()), charge,
      [&ctx](caf::expected<ChargeResult> answer) { on_processed(ctx, std::move(answer)); });
}

}  // namespace

void register_payment(type_registry& types, const rideshare_options& opts) {
  auto latency = opts.payment_latency;
  types.add_type<PaymentState>(std::string{payment_type})
      .partition_key(std::string{payment_placement_name}, payment_placement)
      .on<CreatePayment>([](const CreatePayment& m, context& ctx) {
        if (ctx.view<PaymentState>().payment().status() != Payment::none)
          return ctx.view<PaymentState>().payment();
        auto& st = ctx.state<PaymentState>();
        auto* p = st.mutable_payment();
        p->set_payment_id(ctx.self().key());
        p->set_ride_id(m.ride_id());
        p->set_amount_cents(m.amount_cents());
        p->set_status(Payment::pending);
        st.set_rider_id(m.rider_id());
        return st.payment();
      })
      // Each operation is accepted once; repeats (the ride's outbox delivers at least once)
      // change nothing.
      .on<AuthorizePayment>([latency](const AuthorizePayment&, context& ctx) {
        const auto& st = ctx.view<PaymentState>();
        if (st.payment().status() == Payment::pending && !queued(st, payment_op::authorize) &&
            !queued(st, payment_op::capture) && !queued(st, payment_op::void_payment))
          enqueue(ctx, payment_op::authorize, st.payment().amount_cents(), latency);
        return ctx.view<PaymentState>().payment();
      })
      .on<CapturePayment>([latency](const CapturePayment& m, context& ctx) {
        const auto& st = ctx.view<PaymentState>();
        if (open_for_changes(st) && !queued(st, payment_op::capture) &&
            !queued(st, payment_op::void_payment))
          enqueue(ctx, payment_op::capture, m.amount_cents(), latency);
        return ctx.view<PaymentState>().payment();
      })
      .on<VoidPayment>([latency](const VoidPayment&, context& ctx) {
        const auto& st = ctx.view<PaymentState>();
        if (open_for_changes(st) && !queued(st, payment_op::capture) &&
            !queued(st, payment_op::void_payment))
          enqueue(ctx, payment_op::void_payment, 0, latency);
        return ctx.view<PaymentState>().payment();
      })
      .on<GetPayment>([](const GetPayment&, context& ctx) -> caf::expected<Payment> {
        const auto& st = ctx.view<PaymentState>();
        if (st.payment().status() == Payment::none)
          return make_error(errc::not_found, "payment " + ctx.self().key() + " does not exist");
        return st.payment();
      })
      .on_async<ProcessPayment>([](const ProcessPayment&, context& ctx) {
        process_head(ctx);
        ctx.reply(Done{});
      })
      .on_reminder([](const std::string& name, context& ctx) {
        if (name == process_reminder) process_head(ctx);
      });
}

}  // namespace keel::rideshare
