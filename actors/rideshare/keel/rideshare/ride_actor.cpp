// The ride: its lifecycle, its fare, and matching through the geolocation cells.
#include <algorithm>
#include <memory>
#include <set>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/rideshare/search_backoff.hpp"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view match_reminder = "match";
constexpr int max_rings = 64;

point to_point(const LatLng& p) {
  return {p.lat(), p.lng()};
}

std::string status_name(Ride::Status s) {
  return Ride::Status_Name(s);
}

// One matching attempt, shared by the continuations of its asks (all in one turn).
struct match_run {
  point pickup;
  cell_id center;
  int ring = 0;
  int cells_pending = 0;
  struct candidate {
    std::string driver_id;
    double meters;
  };
  std::vector<candidate> found;
  // Cells not asked because they could not beat the best driver found when their ring was
  // searched; asked after all if refusals leave a candidate farther than one of them.
  struct skipped_cell {
    cell_id cell;
    double min_meters;
  };
  std::vector<skipped_cell> skipped;
  size_t next_to_reserve = 0;
  std::set<std::string> refused;          // drivers that said no in this run: never asked twice
  std::function<void(std::string)> done;  // the reserved driver, or "" for none
};

class matcher {
 public:
  explicit matcher(const rideshare_options& opts) : grid_(opts.cell_degrees), opts_(opts) {}

  /// Finds the nearest available driver within the radius and reserves it through the
  /// driver actor; calls `done(driver_id)` (empty: none) inside the same turn.
  void run(context& ctx, point pickup, std::function<void(std::string)> done,
           const google::protobuf::RepeatedPtrField<std::string>& excluded = {}) const {
    auto run = std::make_shared<match_run>();
    run->pickup = pickup;
    run->refused.insert(excluded.begin(), excluded.end());
    run->center = grid_.cell_of(pickup);
    run->done = std::move(done);
    query_ring(ctx, run);
  }

 private:
  // Asks the ring's cells that may hold a driver nearer than the best found so far (and
  // within the radius); a cell wholly farther is skipped: in a city, most of the eight
  // neighbours of a pickup lie farther than the nearest driver of its own cell.
  void query_ring(context& ctx, const std::shared_ptr<match_run>& run) const {
    double best = nearest_free(*run);
    std::vector<cell_id> cells;
    for (const auto& c : grid_.ring_cells(run->center, run->ring)) {
      double near = grid_.cell_min_distance(run->pickup, c);
      if (near > opts_.search_radius_meters) continue;
      if (near > best)
        run->skipped.push_back({c, near});
      else
        cells.push_back(c);
    }
    query_cells(ctx, run, cells, then::end_ring);
  }

  enum class then { end_ring, reserve };

  // Asks each cell for its drivers and keeps those within the radius; then ends the ring or
  // goes back to reserving (at once when there is no cell to ask).
  void query_cells(context& ctx, const std::shared_ptr<match_run>& run,
                   const std::vector<cell_id>& cells, then next) const {
    auto go_on = [this, &ctx, run, next] {
      if (next == then::end_ring) return after_ring(ctx, run);
      rank_found(*run);
      reserve_next(ctx, run);
    };
    if (cells.empty()) return go_on();
    run->cells_pending = static_cast<int>(cells.size());
    for (const auto& c : cells) {
      ctx.ask<CellDrivers>(cell_actor(grid_.key_of(c)), CellQuery{},
                           [this, run, go_on](caf::expected<CellDrivers> answer) {
                             if (answer) {
                               for (const auto& d : answer->drivers()) {
                                 double m = distance_meters(run->pickup, to_point(d.position()));
                                 if (m <= opts_.search_radius_meters)
                                   run->found.push_back({d.driver_id(), m});
                               }
                             }
                             if (--run->cells_pending == 0) go_on();
                           });
    }
  }

  // Orders the candidates nearest first and restarts at the top (whoever refused is skipped
  // by name).
  static void rank_found(match_run& run) {
    std::sort(run.found.begin(), run.found.end(), [](const auto& a, const auto& b) {
      return a.meters != b.meters ? a.meters < b.meters : a.driver_id < b.driver_id;
    });
    run.next_to_reserve = 0;
  }

  // The distance of the nearest driver found who has not refused (infinity: none).
  static double nearest_free(const match_run& run) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& c : run.found)
      if (!run.refused.count(c.driver_id)) best = std::min(best, c.meters);
    return best;
  }

  // Whether the next ring must be searched before a driver `meters` away may be asked: it
  // could hold someone nearer. Not beyond the radius, nor past a hard ring cap (which at the
  // served latitudes lies beyond the radius anyway).
  bool next_ring_may_be_nearer(const match_run& run, double meters) const {
    double next_min = grid_.ring_min_distance(run.pickup, run.ring + 1);
    return meters > next_min && next_min <= opts_.search_radius_meters && run.ring < max_rings;
  }

  void after_ring(context& ctx, const std::shared_ptr<match_run>& run) const {
    if (next_ring_may_be_nearer(*run, nearest_free(*run))) {
      ++run->ring;
      return query_ring(ctx, run);
    }
    rank_found(*run);
    reserve_next(ctx, run);
  }

  void reserve_next(context& ctx, const std::shared_ptr<match_run>& run) const {
    while (run->next_to_reserve < run->found.size() &&
           run->refused.count(run->found[run->next_to_reserve].driver_id))
      ++run->next_to_reserve;
    // Refusals may have left only candidates farther than a cell that was skipped, or than
    // the next ring, which the search stopped before: ask those first, so the ride still
    // gets the nearest driver who says yes.
    double candidate = run->next_to_reserve < run->found.size()
                           ? run->found[run->next_to_reserve].meters
                           : std::numeric_limits<double>::infinity();
    std::vector<cell_id> due;
    std::erase_if(run->skipped, [&](const match_run::skipped_cell& s) {
      if (s.min_meters > candidate) return false;
      due.push_back(s.cell);
      return true;
    });
    if (!due.empty()) return query_cells(ctx, run, due, then::reserve);
    if (next_ring_may_be_nearer(*run, candidate)) {
      ++run->ring;
      return query_ring(ctx, run);
    }
    if (run->next_to_reserve >= run->found.size()) return run->done("");
    auto driver = run->found[run->next_to_reserve++].driver_id;
    Reserve reserve;
    reserve.set_ride_id(ctx.self().key());
    // The driver decides: a driver listed in a stale cell, or taken by another ride a
    // moment ago, refuses, and the next candidate is tried.
    ctx.ask<Reservation>(driver_actor(driver), reserve,
                         [this, &ctx, run, driver](caf::expected<Reservation> answer) {
                           if (answer && answer->ok()) return run->done(driver);
                           if (!answer) {
                             // No answer is not a refusal: the driver may have taken this
                             // ride. Release it (a no-op unless it holds this ride).
                             ReleaseDriver release;
                             release.set_ride_id(ctx.self().key());
                             ctx.tell(driver_actor(driver), release);
                           }
                           run->refused.insert(driver);
                           reserve_next(ctx, run);
                         });
  }

  geo_grid grid_;
  rideshare_options opts_;
};

void alert(context& ctx, std::string_view who, const std::string& id, std::string kind,
           std::string text) {
  if (id.empty()) return;
  AddAlert add;
  auto* a = add.mutable_alert();
  a->set_kind(std::move(kind));
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
  alert(ctx, "rider", ride.rider_id(), "matched", "driver " + driver + " is on the way");
  alert(ctx, "driver", driver, "matched", "pick up rider " + ride.rider_id());
}

constexpr std::string_view payment_reminder = "pay";
constexpr milliseconds payment_retry{1000};

// Records a payment operation in the ride's own state (committed with this turn). The first
// one of an empty outbox starts its delivery: a FlushPayments to this ride, sent once the
// turn is durable, and a durable reminder that delivers it every second until the outbox is
// empty, in case the message is lost with the node or the payment does not answer. The
// payment is told at least once, and its handlers are idempotent.
void owe_payment(context& ctx, std::string op, int32_t amount_cents = 0) {
  auto& st = ctx.state<RideState>();
  bool delivering = st.payment_outbox_size() > 0;  // its reminder is armed already
  auto* entry = st.add_payment_outbox();
  entry->set_op(std::move(op));
  entry->set_amount_cents(amount_cents);
  if (delivering) return;
  ctx.register_reminder(std::string{payment_reminder}, payment_retry, payment_retry);
  ctx.tell(ctx.self(), FlushPayments{});
}

std::shared_ptr<google::protobuf::Message> payment_message(const PaymentOp& op, const Ride& ride) {
  if (op.op() == "create") {
    auto m = std::make_shared<CreatePayment>();
    m->set_ride_id(ride.ride_id());
    m->set_amount_cents(op.amount_cents());
    m->set_rider_id(ride.rider_id());
    return m;
  }
  if (op.op() == "authorize") return std::make_shared<AuthorizePayment>();
  if (op.op() == "capture") {
    auto m = std::make_shared<CapturePayment>();
    m->set_amount_cents(op.amount_cents());
    return m;
  }
  return std::make_shared<VoidPayment>();
}

// Delivers the outbox in order, one ask at a time; what fails stays for the next firing.
void flush_payments(context& ctx) {
  const auto& st = ctx.view<RideState>();
  if (st.payment_outbox_size() == 0) {
    ctx.unregister_reminder(std::string{payment_reminder});
    return;
  }
  auto message = payment_message(st.payment_outbox(0), st.ride());
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

// Idempotency-Key records of POST /v1/rides: one actor per key, so records are durable
// and move with their partition, and two requests with one key are serialized. The key is
// bound to a ride id before the ride is asked for anything: however the first request ends
// (even in a timeout), a retry reaches the same ride, whose RequestRide is idempotent.
void register_ride_keys(type_registry& types) {
  types.add_type<IdempotencyRecord>(std::string{ride_key_type})
      .on<ClaimRideKey>([](const ClaimRideKey& m, context& ctx) -> caf::expected<RideKeyClaim> {
        RideKeyClaim out;
        const auto& record = ctx.view<IdempotencyRecord>();
        if (!record.ride_id().empty()) {
          if (record.body_hash() != m.body_hash())
            return make_error(errc::conflict, "Idempotency-Key was used with another body");
          out.set_replayed(true);
          out.set_ride_id(record.ride_id());
          return out;
        }
        auto& rec = ctx.state<IdempotencyRecord>();
        rec.set_body_hash(m.body_hash());
        rec.set_ride_id(m.ride_id());
        out.set_ride_id(m.ride_id());
        return out;
      });
}

constexpr int max_offers = 3;

// The matched driver did not accept in time: release it and search again without it (nor
// anyone who let this ride lapse before). After a few lapsed offers the ride is cancelled,
// so drivers that never answer cannot hold a rider forever.
void offer_to_another(context& ctx, const matcher& match, const rideshare_options& opts) {
  if (ctx.view<RideState>().ride().status() != Ride::matched) return;
  auto& st = ctx.state<RideState>();
  auto& ride = *st.mutable_ride();
  auto previous = ride.driver_id();
  ReleaseDriver release;
  release.set_ride_id(ride.ride_id());
  ctx.tell(driver_actor(previous), release);
  alert(ctx, "driver", previous, "cancelled", "offer withdrawn: not accepted in time");
  st.add_offered(previous);
  ride.clear_driver_id();
  if (st.offered_size() >= max_offers) {
    ride.set_status(Ride::cancelled);
    owe_payment(ctx, "void");
    finish_ride(ctx, ride);
    alert(ctx, "rider", ride.rider_id(), "cancelled", "no driver accepted; ride cancelled");
    return;
  }
  begin_search(ctx);
  match.run(
      ctx, to_point(ride.pickup()),
      [&ctx, opts](std::string driver) {
        if (!driver.empty()) return on_matched(ctx, driver, opts);
        search_again_later(ctx, opts);
        notify_rider(ctx, ctx.view<RideState>().ride());
        alert(ctx, "rider", ctx.view<RideState>().ride().rider_id(), "searching",
              "your driver did not accept; searching again");
      },
      st.offered());
}

}  // namespace

void register_rides(type_registry& types, const rideshare_options& opts) {
  register_ride_keys(types);
  auto match = std::make_shared<const matcher>(opts);
  types.add_type<RideState>(std::string{ride_type})
      .on_async<RequestRide>([match, opts](const RequestRide& m, context& ctx) {
        if (ctx.view<RideState>().ride().status() != Ride::none)
          return ctx.reply(ctx.view<RideState>().ride());
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
        owe_payment(ctx, "create", ride.fare_cents());
        match->run(ctx, to_point(m.pickup()), [&ctx, opts](std::string driver) {
          if (!driver.empty()) {
            on_matched(ctx, driver, opts);
          } else {
            // No driver now: retried on a durable reminder, not by waiting in this turn.
            search_again_later(ctx, opts);
            notify_rider(ctx, ctx.view<RideState>().ride());
            alert(ctx, "rider", ctx.view<RideState>().ride().rider_id(), "searching",
                  "no driver nearby yet; still searching");
          }
          ctx.reply(ctx.view<RideState>().ride());
        });
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
      .on<AcceptRide>([](const AcceptRide& m, context& ctx) -> caf::expected<Ride> {
        auto current = existing(ctx);
        if (!current) return current;
        if (current->status() != Ride::matched) return illegal("accept", *current);
        if (m.driver_id() != current->driver_id())
          return make_error(errc::conflict, "cannot accept ride " + current->ride_id() +
                                                ": driver '" + m.driver_id() +
                                                "' is not the matched driver");
        auto& ride = *ctx.state<RideState>().mutable_ride();
        ride.set_status(Ride::accepted);
        ctx.unregister_reminder(std::string{accept_reminder});
        owe_payment(ctx, "authorize");
        notify_rider(ctx, ride);
        alert(ctx, "rider", ride.rider_id(), "accepted",
              "driver " + ride.driver_id() + " accepted");
        return ride;
      })
      .on<StartRide>([](const StartRide&, context& ctx) -> caf::expected<Ride> {
        auto current = existing(ctx);
        if (!current) return current;
        if (current->status() != Ride::accepted) return illegal("start", *current);
        auto& ride = *ctx.state<RideState>().mutable_ride();
        ride.set_status(Ride::in_progress);
        notify_rider(ctx, ride);
        alert(ctx, "rider", ride.rider_id(), "started", "your ride has started");
        alert(ctx, "driver", ride.driver_id(), "started", "ride started");
        return ride;
      })
      .on<CompleteRide>([](const CompleteRide&, context& ctx) -> caf::expected<Ride> {
        auto current = existing(ctx);
        if (!current) return current;
        if (current->status() != Ride::in_progress) return illegal("complete", *current);
        auto& ride = *ctx.state<RideState>().mutable_ride();
        ride.set_status(Ride::completed);
        owe_payment(ctx, "capture", ride.fare_cents());
        finish_ride(ctx, ride);
        auto fare = std::to_string(ride.fare_cents()) + " cents";
        alert(ctx, "rider", ride.rider_id(), "completed", "ride completed, fare " + fare);
        alert(ctx, "driver", ride.driver_id(), "completed", "ride completed, fare " + fare);
        return ride;
      })
      .on<CancelRide>([opts](const CancelRide&, context& ctx) -> caf::expected<Ride> {
        auto current = existing(ctx);
        if (!current) return current;
        auto status = current->status();
        if (status == Ride::completed || status == Ride::cancelled)
          return illegal("cancel", *current);
        auto& ride = *ctx.state<RideState>().mutable_ride();
        // The fee rule: free until the driver accepts; afterwards a fixed fee is captured.
        if (status == Ride::accepted || status == Ride::in_progress) {
          ride.set_cancellation_fee_cents(opts.cancellation_fee_cents);
          owe_payment(ctx, "capture", opts.cancellation_fee_cents);
        } else {
          owe_payment(ctx, "void");
        }
        ride.set_status(Ride::cancelled);
        finish_ride(ctx, ride);
        alert(ctx, "rider", ride.rider_id(), "cancelled", "ride cancelled");
        alert(ctx, "driver", ride.driver_id(), "cancelled", "ride cancelled");
        return ride;
      })
      .on_reminder([match, opts](const std::string& name, context& ctx) {
        if (name == payment_reminder) return flush_payments(ctx);
        if (name == accept_reminder) return offer_to_another(ctx, *match, opts);
        const auto& ride = ctx.view<RideState>().ride();
        if (name != match_reminder) return;
        if (ride.status() != Ride::searching) {
          ctx.unregister_reminder(std::string{match_reminder});
          return;
        }
        if (ctx.now_ms() - ctx.view<RideState>().searching_since_ms() >=
            opts.search_timeout.count()) {
          auto& r = *ctx.state<RideState>().mutable_ride();
          r.set_status(Ride::cancelled);
          owe_payment(ctx, "void");
          finish_ride(ctx, r);
          alert(ctx, "rider", r.rider_id(), "cancelled", "no driver found; ride cancelled");
          return;
        }
        match->run(
            ctx, to_point(ride.pickup()),
            [&ctx, opts](std::string driver) {
              if (driver.empty()) return search_again_later(ctx, opts);
              on_matched(ctx, driver, opts);
            },
            ctx.view<RideState>().offered());
      });
}

}  // namespace keel::rideshare
