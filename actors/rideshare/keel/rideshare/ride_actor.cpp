// The ride: its lifecycle, its fare and its payments; matching is matcher.cpp.
#include <algorithm>
#include <memory>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/alert_kind.hpp"
#include "keel/rideshare/matcher.hpp"
#include "keel/rideshare/payment_op.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/rideshare/search_backoff.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/task.hpp"

namespace keel::rideshare {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view match_reminder = "match";
constexpr uint32_t every_cell_search = 4;  // each 4th search again asks the cells themselves

std::string status_name(Ride::Status s) {
  return Ride::Status_Name(s);
}

void alert(context& ctx, std::string_view who, const std::string& id, alert_kind kind,
           std::string text) {
  if (id.empty()) return;
  AddAlert add;
  auto* a = add.mutable_alert();
  a->set_kind(std::string{name_of(kind)});
  a->set_text(std::move(text));
  a->set_ride_id(ctx.self().key());
  a->set_at_ms(ctx.now_ms());
  ctx.tell(alerts_actor(who, id), add);
}

void notify_rider(context& ctx, const Ride& ride) {
  RideUpdate update;
  update.set_ride_id(ride.ride_id());
  update.set_status(ride.status());
  ctx.tell(rider_actor(ride.rider_id()), update);
}

// The search found no driver: the next one runs on a durable one-shot reminder, backed off
// (search_backoff.hpp) and never after the search timeout.
void search_again_later(context& ctx, const rideshare_options& opts) {
  auto& st = ctx.state<RideState>();
  auto delay = search_retry_delay(st.search_attempts(), ctx.self().key(), opts.search_retry,
                                  opts.search_retry_max);
  st.set_search_attempts(st.search_attempts() + 1);
  auto until_timeout =
      milliseconds{st.searching_since_ms() + opts.search_timeout.count() - ctx.now_ms()};
  delay = std::max(milliseconds{1}, std::min(delay, until_timeout));
  ctx.register_reminder(std::string{match_reminder}, delay, milliseconds{0});
}

// A search (re)starts: from the first retry interval on.
void begin_search(context& ctx) {
  auto& st = ctx.state<RideState>();
  st.mutable_ride()->set_status(Ride::searching);
  st.set_searching_since_ms(ctx.now_ms());
  st.set_search_attempts(0);
}

// The effects of a match on a searching ride.
constexpr std::string_view accept_reminder = "accept";

void on_matched(context& ctx, const std::string& driver, const rideshare_options& opts) {
  auto& ride = *ctx.state<RideState>().mutable_ride();
  ride.set_driver_id(driver);
  ride.set_status(Ride::matched);
  ctx.unregister_reminder(std::string{match_reminder});
  // A driver who never accepts must not hold the rider forever.
  ctx.register_reminder(std::string{accept_reminder}, opts.accept_timeout, milliseconds{0});
  notify_rider(ctx, ride);
  alert(ctx, "rider", ride.rider_id(), alert_kind::matched, "driver " + driver + " is on the way");
  alert(ctx, "driver", driver, alert_kind::matched, "pick up rider " + ride.rider_id());
}

constexpr std::string_view payment_reminder = "pay";
constexpr milliseconds payment_retry{1000};

// Records a payment operation in the ride's own state (committed with this turn). The first
// one of an empty outbox starts its delivery: a FlushPayments to this ride, sent once the
// turn is durable, and a durable reminder that delivers it every second until the outbox is
// empty, in case the message is lost with the node or the payment does not answer. The
// payment is told at least once, and its handlers are idempotent.
void owe_payment(context& ctx, payment_op op, int32_t amount_cents = 0) {
  auto& st = ctx.state<RideState>();
  bool delivering = st.payment_outbox_size() > 0;  // its reminder is armed already
  auto* entry = st.add_payment_outbox();
  entry->set_op(std::string{name_of(op)});
  entry->set_amount_cents(amount_cents);
  if (delivering) return;
  ctx.register_reminder(std::string{payment_reminder}, payment_retry, payment_retry);
  ctx.tell(ctx.self(), FlushPayments{});
}

// The message that performs `op`; null for an operation this version does not know.
std::shared_ptr<google::protobuf::Message> payment_message(const PaymentOp& op, const Ride& ride) {
  auto parsed = parse_payment_op(op.op());
  if (!parsed) return nullptr;
  switch (*parsed) {
    case payment_op::create: {
      auto m = std::make_shared<CreatePayment>();
      m->set_ride_id(ride.ride_id());
      m->set_amount_cents(op.amount_cents());
      m->set_rider_id(ride.rider_id());
      return m;
    }
    case payment_op::authorize:
      return std::make_shared<AuthorizePayment>();
    case payment_op::capture: {
      auto m = std::make_shared<CapturePayment>();
      m->set_amount_cents(op.amount_cents());
      return m;
    }
    case payment_op::void_payment:
      return std::make_shared<VoidPayment>();
  }
  return nullptr;
}

// Delivers the outbox in order, one ask at a time; what fails stays for the next firing.
void flush_payments(context& ctx) {
  const auto& st = ctx.view<RideState>();
  if (st.payment_outbox_size() == 0) {
    ctx.unregister_reminder(std::string{payment_reminder});
    return;
  }
  auto message = payment_message(st.payment_outbox(0), st.ride());
  // An operation this version cannot name (a newer one wrote it, before a rollback) stays
  // first in the outbox: the reminder keeps offering it, and a version that knows it
  // delivers it and what follows. Never guessed at, never dropped.
  if (!message) return;
  ctx.ask_message(payment_actor(st.ride().payment_id()), message, [&ctx](call_result answer) {
    if (!answer) return;  // retried by the periodic reminder
    auto* outbox = ctx.state<RideState>().mutable_payment_outbox();
    outbox->erase(outbox->begin());
    flush_payments(ctx);
  });
}

caf::error illegal(const std::string& action, const Ride& ride) {
  return make_error(errc::conflict, "cannot " + action + " ride " + ride.ride_id() + ": it is " +
                                        status_name(ride.status()));
}

caf::expected<Ride> existing(context& ctx) {
  const auto& ride = ctx.view<RideState>().ride();
  if (ride.status() == Ride::none)
    return make_error(errc::not_found, "ride " + ctx.self().key() + " was never created");
  return ride;
}

void finish_ride(context& ctx, Ride& ride) {
  if (!ride.driver_id().empty()) {
    ReleaseDriver release;
    release.set_ride_id(ride.ride_id());
    ctx.tell(driver_actor(ride.driver_id()), release);
  }
  ctx.unregister_reminder(std::string{match_reminder});
  ctx.unregister_reminder(std::string{accept_reminder});
  notify_rider(ctx, ride);
}

constexpr int max_offers = 3;

// The matched driver did not accept in time: release it and search again without it (nor
// anyone who let this ride lapse before). After a few lapsed offers the ride is cancelled,
// so drivers that never answer cannot hold a rider forever.
task<> offer_to_another(context& ctx, const matcher& match, const rideshare_options& opts) {
  if (ctx.view<RideState>().ride().status() != Ride::matched) co_return;
  auto& st = ctx.state<RideState>();
  auto& ride = *st.mutable_ride();
  auto previous = ride.driver_id();
  ReleaseDriver release;
  release.set_ride_id(ride.ride_id());
  ctx.tell(driver_actor(previous), release);
  alert(ctx, "driver", previous, alert_kind::cancelled, "offer withdrawn: not accepted in time");
  st.add_offered(previous);
  ride.clear_driver_id();
  if (st.offered_size() >= max_offers) {
    ride.set_status(Ride::cancelled);
    owe_payment(ctx, payment_op::void_payment);
    finish_ride(ctx, ride);
    alert(ctx, "rider", ride.rider_id(), alert_kind::cancelled,
          "no driver accepted; ride cancelled");
    co_return;
  }
  begin_search(ctx);
  auto driver =
      co_await match.run(ctx, to_point(ride.pickup()), {st.offered().begin(), st.offered().end()});
  if (!driver.empty()) {
    on_matched(ctx, driver, opts);
    co_return;
  }
  search_again_later(ctx, opts);
  notify_rider(ctx, ctx.view<RideState>().ride());
  alert(ctx, "rider", ctx.view<RideState>().ride().rider_id(), alert_kind::searching,
        "your driver did not accept; searching again");
}

// The match reminder: a ride still searching searches again, until its search times out.
task<> retry_search(context& ctx, const matcher& match, const rideshare_options& opts) {
  const auto& st = ctx.view<RideState>();
  if (st.ride().status() != Ride::searching) {
    ctx.unregister_reminder(std::string{match_reminder});
    co_return;
  }
  if (ctx.now_ms() - st.searching_since_ms() >= opts.search_timeout.count()) {
    auto& r = *ctx.state<RideState>().mutable_ride();
    r.set_status(Ride::cancelled);
    owe_payment(ctx, payment_op::void_payment);
    finish_ride(ctx, r);
    alert(ctx, "rider", r.rider_id(), alert_kind::cancelled, "no driver found; ride cancelled");
    co_return;
  }
  // Every fourth search again asks every cell: the areas are hints that a lost listing can
  // leave wrong.
  bool every_cell = st.search_attempts() % every_cell_search == 0;
  auto driver = co_await match.search_again(ctx, to_point(st.ride().pickup()),
                                            {st.offered().begin(), st.offered().end()}, every_cell);
  if (driver.empty())
    search_again_later(ctx, opts);
  else
    on_matched(ctx, driver, opts);
}

caf::expected<Ride> accept_ride(const AcceptRide& m, context& ctx) {
  auto current = existing(ctx);
  if (!current) return current;
  if (current->status() != Ride::matched) return illegal("accept", *current);
  if (m.driver_id() != current->driver_id())
    return make_error(errc::conflict, "cannot accept ride " + current->ride_id() + ": driver '" +
                                          m.driver_id() + "' is not the matched driver");
  auto& ride = *ctx.state<RideState>().mutable_ride();
  ride.set_status(Ride::accepted);
  ctx.unregister_reminder(std::string{accept_reminder});
  owe_payment(ctx, payment_op::authorize);
  notify_rider(ctx, ride);
  alert(ctx, "rider", ride.rider_id(), alert_kind::accepted,
        "driver " + ride.driver_id() + " accepted");
  return ride;
}

caf::expected<Ride> start_ride(context& ctx) {
  auto current = existing(ctx);
  if (!current) return current;
  if (current->status() != Ride::accepted) return illegal("start", *current);
  auto& ride = *ctx.state<RideState>().mutable_ride();
  ride.set_status(Ride::in_progress);
  notify_rider(ctx, ride);
  alert(ctx, "rider", ride.rider_id(), alert_kind::started, "your ride has started");
  alert(ctx, "driver", ride.driver_id(), alert_kind::started, "ride started");
  return ride;
}

caf::expected<Ride> complete_ride(context& ctx) {
  auto current = existing(ctx);
  if (!current) return current;
  if (current->status() != Ride::in_progress) return illegal("complete", *current);
  auto& ride = *ctx.state<RideState>().mutable_ride();
  ride.set_status(Ride::completed);
  owe_payment(ctx, payment_op::capture, ride.fare_cents());
  finish_ride(ctx, ride);
  auto fare = std::to_string(ride.fare_cents()) + " cents";
  alert(ctx, "rider", ride.rider_id(), alert_kind::completed, "ride completed, fare " + fare);
  alert(ctx, "driver", ride.driver_id(), alert_kind::completed, "ride completed, fare " + fare);
  return ride;
}

// The fee rule: free until the driver accepts; afterwards a fixed fee is captured.
caf::expected<Ride> cancel_ride(context& ctx, const rideshare_options& opts) {
  auto current = existing(ctx);
  if (!current) return current;
  auto status = current->status();
  if (status == Ride::completed || status == Ride::cancelled) return illegal("cancel", *current);
  auto& ride = *ctx.state<RideState>().mutable_ride();
  if (status == Ride::accepted || status == Ride::in_progress) {
    ride.set_cancellation_fee_cents(opts.cancellation_fee_cents);
    owe_payment(ctx, payment_op::capture, opts.cancellation_fee_cents);
  } else {
    owe_payment(ctx, payment_op::void_payment);
  }
  ride.set_status(Ride::cancelled);
  finish_ride(ctx, ride);
  alert(ctx, "rider", ride.rider_id(), alert_kind::cancelled, "ride cancelled");
  alert(ctx, "driver", ride.driver_id(), alert_kind::cancelled, "ride cancelled");
  return ride;
}

}  // namespace

void register_ride(type_registry& types, const rideshare_options& opts) {
  auto match = std::make_shared<const matcher>(opts);
  types.add_type<RideState>(std::string{ride_type})
      .partition_key(std::string{ride_placement_name}, ride_placement)
      .on<RequestRide>([match, opts](const RequestRide& m, context& ctx) -> task<Ride> {
        if (ctx.view<RideState>().ride().status() != Ride::none)
          co_return ctx.view<RideState>().ride();
        auto& ride = *ctx.state<RideState>().mutable_ride();
        ride.set_ride_id(ctx.self().key());
        ride.set_rider_id(m.rider_id());
        *ride.mutable_pickup() = m.pickup();
        *ride.mutable_dropoff() = m.dropoff();
        auto q = quote_fare(to_point(m.pickup()), to_point(m.dropoff()), opts.fare);
        ride.set_fare_cents(q.fare_cents);
        ride.set_distance_meters(q.distance_meters);
        ride.set_payment_id("pay-" + ctx.self().key());
        ride.set_requested_at_ms(ctx.now_ms());
        begin_search(ctx);
        owe_payment(ctx, payment_op::create, ride.fare_cents());
        auto driver = co_await match->run(ctx, to_point(m.pickup()));
        if (!driver.empty()) {
          on_matched(ctx, driver, opts);
        } else {
          // No driver now: retried on a durable reminder, not by waiting in this turn.
          search_again_later(ctx, opts);
          notify_rider(ctx, ctx.view<RideState>().ride());
          alert(ctx, "rider", ctx.view<RideState>().ride().rider_id(), alert_kind::searching,
                "no driver nearby yet; still searching");
        }
        co_return ctx.view<RideState>().ride();
      })
      .on_async<FlushPayments>([](const FlushPayments&, context& ctx) {
        // Empty: delivered already (by the reminder), which also disarmed it.
        if (ctx.view<RideState>().payment_outbox_size() > 0) flush_payments(ctx);
        ctx.reply(Done{});
      })
      .on<GetRide>([](const GetRide&, context& ctx) { return existing(ctx); })
      .on<CheckDriver>([](const CheckDriver& m, context& ctx) {
        const auto& ride = ctx.view<RideState>().ride();
        bool holds = ride.driver_id() == m.driver_id() &&
                     (ride.status() == Ride::matched || ride.status() == Ride::accepted ||
                      ride.status() == Ride::in_progress);
        if (!holds) {
          ReleaseDriver release;
          release.set_ride_id(ctx.self().key());
          ctx.tell(driver_actor(m.driver_id()), release);
        }
        return Done{};
      })
      .on<AcceptRide>(accept_ride)
      .on<StartRide>([](const StartRide&, context& ctx) { return start_ride(ctx); })
      .on<CompleteRide>([](const CompleteRide&, context& ctx) { return complete_ride(ctx); })
      .on<CancelRide>([opts](const CancelRide&, context& ctx) { return cancel_ride(ctx, opts); })
      .on_reminder([match, opts](const std::string& name, context& ctx) -> task<> {
        if (name == payment_reminder)
          flush_payments(ctx);
        else if (name == accept_reminder)
          co_await offer_to_another(ctx, *match, opts);
        else if (name == match_reminder)
          co_await retry_search(ctx, *match, opts);
      });
}

}  // namespace keel::rideshare
