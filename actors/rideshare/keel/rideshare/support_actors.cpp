// Drivers, quotes, riders, alerts, payments and the simulated payment
// processor. Rides live in ride_actor.cpp.
#include <algorithm>
#include <random>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

using std::chrono::milliseconds;

point to_point(const LatLng& p) {
  return {p.lat(), p.lng()};
}

Driver driver_view(const std::string& id, const DriverState& st) {
  Driver out;
  out.set_driver_id(id);
  if (st.has_position()) *out.mutable_position() = st.position();
  out.set_available(st.available());
  out.set_current_ride(st.current_ride());
  return out;
}

// Keeps the driver listed in exactly the cell of its position while it can take a ride,
// and in none otherwise. One-way messages: cells never call drivers back.
void sync_cell(context& ctx, DriverState& st, const geo_grid& grid) {
  bool listable = st.available() && st.current_ride().empty() && st.has_position();
  std::string wanted = listable ? grid.key_of(grid.cell_of(to_point(st.position()))) : "";
  if (!st.cell().empty() && st.cell() != wanted) {
    CellRemove remove;
    remove.set_driver_id(ctx.self().key());
    ctx.tell(cell_actor(st.cell()), remove);
  }
  if (!wanted.empty()) {
    CellUpsert upsert;
    upsert.set_driver_id(ctx.self().key());
    *upsert.mutable_position() = st.position();
    ctx.tell(cell_actor(wanted), upsert);
  }
  st.set_cell(wanted);
}

constexpr std::string_view lease_reminder = "lease";
constexpr std::chrono::milliseconds lease_period{std::chrono::seconds{30}};

void register_driver(type_registry& types, const rideshare_options& opts) {
  geo_grid grid{opts.cell_degrees};
  types.add_type<DriverState>(std::string{driver_type})
      .on<UpdateLocation>([grid](const UpdateLocation& m, context& ctx) {
        auto& st = ctx.state<DriverState>();
        st.mutable_position()->set_lat(m.lat());
        st.mutable_position()->set_lng(m.lng());
        sync_cell(ctx, st, grid);
        return driver_view(ctx.self().key(), st);
      })
      .on<SetAvailability>([grid](const SetAvailability& m, context& ctx) {
        auto& st = ctx.state<DriverState>();
        st.set_available(m.available());
        sync_cell(ctx, st, grid);
        return driver_view(ctx.self().key(), st);
      })
      .on<Reserve>([grid](const Reserve& m, context& ctx) {
        Reservation out;
        const auto& view = ctx.view<DriverState>();
        if (view.current_ride() == m.ride_id()) {  // a retried reservation of the same ride
          out.set_ok(true);
          *out.mutable_position() = view.position();
          return out;
        }
        if (!view.available() || !view.current_ride().empty() || !view.has_position()) return out;
        auto& st = ctx.state<DriverState>();
        st.set_current_ride(m.ride_id());
        sync_cell(ctx, st, grid);
        // A lease: if the ride failed after reserving (its turn never committed), nobody
        // would ever release this driver; the lease asks the ride, one-way, until released.
        ctx.register_reminder(std::string{lease_reminder}, lease_period, lease_period);
        out.set_ok(true);
        *out.mutable_position() = st.position();
        return out;
      })
      .on<ReleaseDriver>([grid](const ReleaseDriver& m, context& ctx) {
        if (ctx.view<DriverState>().current_ride() == m.ride_id()) {
          auto& st = ctx.state<DriverState>();
          st.clear_current_ride();
          sync_cell(ctx, st, grid);
          ctx.unregister_reminder(std::string{lease_reminder});
        }
        return driver_view(ctx.self().key(), ctx.view<DriverState>());
      })
      .on<GetDriver>([](const GetDriver&, context& ctx) {
        return driver_view(ctx.self().key(), ctx.view<DriverState>());
      })
      .on_reminder([](const std::string& name, context& ctx) {
        if (name != lease_reminder) return;
        const auto& st = ctx.view<DriverState>();
        if (st.current_ride().empty()) return ctx.unregister_reminder(std::string{lease_reminder});
        CheckDriver check;
        check.set_driver_id(ctx.self().key());
        ctx.tell(ride_actor(st.current_ride()), check);
      });
}

void register_quote(type_registry& types, const rideshare_options& opts) {
  auto rule = opts.fare;
  types.add_stateless(std::string{quote_type}, 4)
      .on<QuoteRequest>([rule](const QuoteRequest& m, context&) {
        auto q = quote_fare(to_point(m.pickup()), to_point(m.dropoff()), rule);
        Quote out;
        out.set_fare_cents(q.fare_cents);
        out.set_distance_meters(q.distance_meters);
        out.set_eta_seconds(q.eta_seconds);
        return out;
      });
}

void register_rider(type_registry& types, const rideshare_options& opts) {
  int kept = opts.history_kept;
  types.add_type<RiderState>(std::string{rider_type})
      .on<RideUpdate>([kept](const RideUpdate& m, context& ctx) {
        const auto& view = ctx.view<RiderState>();
        const auto& open = view.unfinished();
        bool is_open = std::find(open.begin(), open.end(), m.ride_id()) != open.end();
        bool finished = m.status() == Ride::completed || m.status() == Ride::cancelled;
        if (finished == !is_open) return Done{};  // nothing new: a repeat, or a late update
        auto& st = ctx.state<RiderState>();
        auto* unfinished = st.mutable_unfinished();
        if (finished) {
          unfinished->erase(std::find(unfinished->begin(), unfinished->end(), m.ride_id()));
        } else {
          // First sight of a ride: it joins the history (newest first, bounded).
          *unfinished->Add() = m.ride_id();
          auto* h = st.mutable_history();
          *h->Add() = m.ride_id();
          for (int i = h->size() - 1; i > 0; --i) h->SwapElements(i, i - 1);
          while (h->size() > kept) h->RemoveLast();
        }
        st.set_active_ride(unfinished->empty() ? "" : *unfinished->rbegin());
        return Done{};
      })
      .on<GetRider>([](const GetRider&, context& ctx) { return ctx.view<RiderState>(); });
}

// Stores alert number `st.added()` in its slot, overwriting the alert `kept` older.
void store_alert(context& ctx, AlertsState& st, const Alert& alert, int kept) {
  StoredAlert stored;
  stored.set_number(st.added());
  *stored.mutable_alert() = alert;
  ctx.put_entry(std::to_string(st.added() % kept), stored);
  st.set_added(st.added() + 1);
}

void register_alerts(type_registry& types, const rideshare_options& opts) {
  int kept = std::max(opts.alerts_kept, 1);
  types.add_type<AlertsState>(std::string{alerts_type})
      .with_entries()
      .on<AddAlert>([kept](const AddAlert& m, context& ctx) {
        auto& st = ctx.state<AlertsState>();
        if (st.legacy_alerts_size() > 0) {
          for (int i = st.legacy_alerts_size() - 1; i >= 0; --i)  // oldest first
            store_alert(ctx, st, st.legacy_alerts(i), kept);
          st.clear_legacy_alerts();
        }
        store_alert(ctx, st, m.alert(), kept);
        return Done{};
      })
      .on<GetAlerts>([kept](const GetAlerts&, context& ctx) {
        auto stored = ctx.entries<StoredAlert>();
        std::sort(stored.begin(), stored.end(), [](const auto& a, const auto& b) {
          return a.second.number() > b.second.number();
        });
        AlertInbox out;  // newest first; slots of a larger bound used before count too
        for (const auto& [slot, s] : stored) *out.add_alerts() = s.alert();
        for (const auto& legacy : ctx.view<AlertsState>().legacy_alerts())
          *out.add_alerts() = legacy;
        while (out.alerts_size() > kept) out.mutable_alerts()->RemoveLast();
        return out;
      });
}

// ---- payments ----

constexpr std::string_view process_reminder = "process";
constexpr milliseconds process_backstop{1000};

bool open_for_changes(const PaymentState& st) {
  auto s = st.payment().status();
  return s == Payment::pending || s == Payment::authorized;
}

bool queued(const PaymentState& st, std::string_view op) {
  for (const auto& q : st.queue())
    if (q.op() == op) return true;
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
void enqueue(context& ctx, std::string op, int32_t amount, milliseconds latency) {
  auto& st = ctx.state<PaymentState>();
  auto* entry = st.add_queue();
  entry->set_op(std::move(op));
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
  alert->set_kind("payment");
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
  auto status = done.op() == "authorize" ? Payment::authorized
                : done.op() == "capture" ? Payment::captured
                                         : Payment::voided;
  st.mutable_payment()->set_status(status);
  if (done.op() == "capture") st.mutable_payment()->set_amount_cents(done.amount_cents());
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
  Charge charge;
  // The same key on every retry: the processor performs each operation at most once.
  charge.set_idempotency_key(ctx.self().key() + ":" + head.op());
  charge.set_operation(head.op());
  charge.set_amount_cents(head.amount_cents());
  ctx.ask<ChargeResult>(
      processor_actor(ctx.self().key()), charge,
      [&ctx](caf::expected<ChargeResult> answer) { on_processed(ctx, std::move(answer)); });
}

void register_payment(type_registry& types, const rideshare_options& opts) {
  auto latency = opts.payment_latency;
  types.add_type<PaymentState>(std::string{payment_type})
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
        if (st.payment().status() == Payment::pending && !queued(st, "authorize") &&
            !queued(st, "capture") && !queued(st, "void"))
          enqueue(ctx, "authorize", st.payment().amount_cents(), latency);
        return ctx.view<PaymentState>().payment();
      })
      .on<CapturePayment>([latency](const CapturePayment& m, context& ctx) {
        const auto& st = ctx.view<PaymentState>();
        if (open_for_changes(st) && !queued(st, "capture") && !queued(st, "void"))
          enqueue(ctx, "capture", m.amount_cents(), latency);
        return ctx.view<PaymentState>().payment();
      })
      .on<VoidPayment>([latency](const VoidPayment&, context& ctx) {
        const auto& st = ctx.view<PaymentState>();
        if (open_for_changes(st) && !queued(st, "capture") && !queued(st, "void"))
          enqueue(ctx, "void", 0, latency);
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

void register_processor(type_registry& types, const rideshare_options& opts) {
  double failure_rate = opts.payment_failure_rate;
  types.add_type<ProcessorState>(std::string{processor_type})
      .on<Charge>([failure_rate](const Charge& m, context& ctx) -> caf::expected<ChargeResult> {
        ChargeResult out;
        if (ctx.view<ProcessorState>().done().count(m.idempotency_key())) {
          out.set_replayed(true);
          return out;
        }
        thread_local std::mt19937_64 rng{std::random_device{}()};
        if (failure_rate > 0 && std::uniform_real_distribution<double>{0, 1}(rng) < failure_rate)
          return make_error(errc::unavailable, "simulated processor failure");
        (*ctx.state<ProcessorState>().mutable_done())[m.idempotency_key()] = m.amount_cents();
        return out;
      })
      .on<GetLedger>([](const GetLedger&, context& ctx) { return ctx.view<ProcessorState>(); });
}

}  // namespace

void register_rides(type_registry& types, const rideshare_options& opts);  // ride_actor.cpp
void register_geo_index(type_registry& types);                             // geo_index.cpp

void register_rideshare(type_registry& types, const rideshare_options& opts) {
  register_driver(types, opts);
  register_geo_index(types);
  register_quote(types, opts);
  register_rider(types, opts);
  register_alerts(types, opts);
  register_payment(types, opts);
  register_processor(types, opts);
  register_rides(types, opts);
}

}  // namespace keel::rideshare
