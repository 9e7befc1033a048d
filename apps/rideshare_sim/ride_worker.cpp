#include "ride_worker.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "node_client.hpp"

namespace keel::sim {

namespace {

using rideshare::Ride;

// Reads the fields of a ride reply the sim uses (rideId, riderId, driverId, paymentId,
// status, fareCents, cancellationFeeCents) and skips the others, as a newer node may add
// fields. simdjson, not protobuf's JSON parser: that one goes through a type resolver and a
// binary re-encoding per reply, a quarter of the sim's CPU at 64 connections, taken from
// the node under test on the same two cores. Nullopt if the body is not such an object.
std::optional<Ride> parse_ride(const std::string& json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json).get(object)) return std::nullopt;
  Ride ride;
  for (auto [key, value] : object) {
    std::string_view text;
    int64_t number = 0;
    if (key == "rideId" || key == "riderId" || key == "driverId" || key == "paymentId" ||
        key == "status") {
      if (value.get(text)) return std::nullopt;
      if (key == "rideId") ride.set_ride_id(std::string{text});
      if (key == "riderId") ride.set_rider_id(std::string{text});
      if (key == "driverId") ride.set_driver_id(std::string{text});
      if (key == "paymentId") ride.set_payment_id(std::string{text});
      if (key == "status") {
        Ride::Status status;
        if (!Ride::Status_Parse(std::string{text}, &status)) return std::nullopt;
        ride.set_status(status);
      }
    } else if (key == "fareCents" || key == "cancellationFeeCents") {
      if (value.get(number)) return std::nullopt;
      if (key == "fareCents") ride.set_fare_cents(static_cast<int32_t>(number));
      if (key == "cancellationFeeCents")
        ride.set_cancellation_fee_cents(static_cast<int32_t>(number));
    }
  }
  return ride;
}

std::string location_body(lat_lng p) {
  return fmt::format(R"({{"lat":{:.6f},"lng":{:.6f}}})", p.lat, p.lng);
}

bool finished(const Ride& ride) {
  return ride.status() == Ride::completed || ride.status() == Ride::cancelled;
}

}  // namespace

lat_lng city::random_point(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> offset{-half_span, half_span};
  return {center.lat + offset(rng), center.lng + offset(rng)};
}

lat_lng city::near(lat_lng p, double radius, std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> offset{-radius, radius};
  auto clamp = [this](double v, double c) { return std::clamp(v, c - half_span, c + half_span); };
  return {clamp(p.lat + offset(rng), center.lat), clamp(p.lng + offset(rng), center.lng)};
}

std::string driver_name(int index) {
  return fmt::format("sim-d{}", index);
}

std::mt19937_64 random_stream(uint64_t seed, uint64_t stream) {
  std::seed_seq seq{seed, seed >> 32, stream, stream >> 32};
  return std::mt19937_64{seq};
}

run_ns run_control::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - started).count();
}

std::optional<run_control::clock::time_point> run_control::claim_ride() {
  auto now = clock::now();
  if (now >= deadline || stalled.load()) return std::nullopt;
  if (now_ns() - last_answer.load() > std::chrono::nanoseconds{stall_limit}.count()) {
    stalled = true;
    return std::nullopt;
  }
  auto claimed = rides_claimed.fetch_add(1);
  if (ride_limit != 0 && claimed >= ride_limit) return std::nullopt;
  if (rate <= 0) return now;
  auto due = started + std::chrono::duration_cast<clock::duration>(
                           std::chrono::duration<double>(double(claimed) / rate));
  if (due >= deadline) return std::nullopt;
  return due;
}

namespace {

// PUTs `body` at `path`, again after a pause when the node answered 503 or 504 or did not
// answer (a partition being placed or moved while the cluster changes): a PUT may be sent
// twice. At most 5 tries, 0.1 s apart at first, doubling.
http_reply put_until_answered(node_client& client, const std::string& path,
                              const std::string& body) {
  auto pause = std::chrono::milliseconds{100};
  http_reply reply;
  for (int attempt = 0; attempt < 5; ++attempt, pause *= 2) {
    reply = client.put(path, body);
    bool retry = reply.status == 0 || reply.status == 503 || reply.status == 504;
    if (!retry) break;
    std::this_thread::sleep_for(pause);
  }
  return reply;
}

}  // namespace

std::optional<std::string> place_drivers(const sim_options& opts, const city& town) {
  std::mutex mtx;
  std::optional<std::string> first_failure;  // guarded by mtx
  std::vector<std::thread> threads;
  for (int t = 0; t < opts.concurrency; ++t) {
    threads.emplace_back([&, t] {
      node_client client{node_for(opts, t), opts.request_timeout};
      // Streams from 1 << 32 on: the workers' are their indexes.
      auto rng = random_stream(opts.seed, (uint64_t{1} << 32) + static_cast<uint64_t>(t));
      for (int i = t; i < opts.drivers; i += opts.concurrency) {
        auto path = "/v1/drivers/" + driver_name(i);
        // Position first: a driver made available without one is listed in no cell.
        auto located =
            put_until_answered(client, path + "/location", location_body(town.random_point(rng)));
        auto reply = located.ok() ? put_until_answered(client, path + "/availability",
                                                       R"({"available":true})")
                                  : located;
        if (!reply.ok()) {
          std::lock_guard guard{mtx};
          if (!first_failure)
            first_failure = fmt::format("driver {}: {}", driver_name(i), reply.error_key());
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return first_failure;
}

ride_worker::ride_worker(asio::io_context& io, const sim_options& opts, const city& town,
                         run_control& control, owner_hints& hints, int index)
    : io_(io),
      opts_(opts),
      town_(town),
      control_(control),
      rng_(random_stream(opts.seed, static_cast<uint64_t>(index))),
      home_(node_for(opts, index)),
      home_address_(home_.authority()),
      client_(io, home_, opts.request_timeout),
      hints_(hints) {}

void ride_worker::enforce_timeout(async_node_client::clock::time_point now) {
  client_.enforce_timeout(now);
  for (auto& [address, client] : owner_clients_) client->enforce_timeout(now);
}

namespace {

// What an answer says of where its actor lives: the owner it names (nodes name it only on
// answers below 500). A node that did not answer (dead, cut off) or answered 5xx (draining,
// the owner down or moving) leaves no hint, so the next try goes through the worker's own
// node, which forwards to whoever owns the actor by then, as without --follow-owner.
void learn_owner(std::string& hint, const http_reply& reply) {
  if (reply.status == 0 || reply.status >= 500)
    hint.clear();
  else if (!reply.owner_address.empty())
    hint = reply.owner_address;
}

}  // namespace

async_node_client& ride_worker::client_for(const std::string& owner) {
  if (!opts_.follow_owner || owner.empty()) return client_;
  // Nodes write the address as a URL does (an IPv6 host in brackets), as authority() does.
  if (owner == home_address_) return client_;
  auto it = owner_clients_.find(owner);
  if (it != owner_clients_.end()) return *it->second;
  auto where = parse_endpoint(owner);
  if (!where) return client_;
  // Members serve as the worker's node does: the same scheme, CA and key.
  where->https = home_.https;
  where->tls = home_.tls;
  where->api_key = home_.api_key;
  auto client = std::make_unique<async_node_client>(io_, *where, opts_.request_timeout);
  return *owner_clients_.emplace(owner, std::move(client)).first->second;
}

asio::awaitable<void> ride_worker::run() {
  while (auto due = control_.claim_ride()) {
    if (*due > run_control::clock::now()) {
      asio::steady_timer timer{io_, *due};
      co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    co_await one_ride(*due);
  }
}

asio::awaitable<void> ride_worker::pause(std::chrono::milliseconds how_long) {
  asio::steady_timer timer{io_, how_long};
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

asio::awaitable<http_reply> ride_worker::call(route r, std::string path, std::string body,
                                              std::optional<run_control::clock::time_point> since,
                                              std::string owner) {
  auto t0 = since.value_or(run_control::clock::now());
  // No co_await inside ?: below: GCC 12 miscompiles that (it resumed a null coroutine).
  std::string_view method = r == route::put_location ? "PUT"
                            : r == route::get_ride   ? "GET"
                                                     : "POST";
  auto& client = client_for(owner);
  auto reply = co_await client.exchange(std::string{method}, std::move(path), std::move(body));
  stats_.record(r, run_control::clock::now() - t0, reply);
  if (reply.ok())
    control_.last_answer.store(control_.now_ns());
  else
    control_.errors.fetch_add(1);
  co_return reply;
}

asio::awaitable<std::optional<Ride>> ride_worker::step(route r, std::string ride_id,
                                                       std::string body) {
  static constexpr std::string_view verbs[] = {"", "accept", "start", "complete", "cancel"};
  auto path = fmt::format("/v1/rides/{}/{}", ride_id, verbs[static_cast<int>(r)]);
  auto reply = co_await call(r, std::move(path), std::move(body), std::nullopt, ride_owner_);
  learn_owner(ride_owner_, reply);
  if (!reply.ok()) co_return std::nullopt;
  auto ride = parse_ride(reply.body);
  if (!ride) {
    stats_.record_bad_body(r);
    control_.errors.fetch_add(1);
  }
  co_return ride;
}

asio::awaitable<void> ride_worker::one_ride(run_control::clock::time_point due) {
  control_.in_flight.fetch_add(1);
  std::uniform_int_distribution<int> rider{0, std::max(opts_.riders, 1) - 1};
  auto pickup = town_.random_point(rng_);
  auto dropoff = town_.random_point(rng_);
  auto rider_id = fmt::format("sim-r{}", rider(rng_));
  auto body = fmt::format(R"({{"riderId":"{}","pickup":{},"dropoff":{}}})", rider_id,
                          location_body(pickup), location_body(dropoff));
  auto& rider_owner = hints_.riders[rider_id];
  auto reply = co_await call(route::request_ride, "/v1/rides", body, due, rider_owner);
  ride_owner_ = reply.owner_address;
  learn_owner(rider_owner, reply);
  auto ride = reply.ok() ? parse_ride(reply.body) : std::nullopt;
  if (reply.ok() && !ride) {
    stats_.record_bad_body(route::request_ride);
    control_.errors.fetch_add(1);
  }
  if (!ride) {
    // No ride id, so nothing to follow up; the failure is already counted. A refused
    // connection fails in microseconds, so back off rather than spin through the run.
    control_.in_flight.fetch_sub(1);
    if (reply.status == 0) co_await pause(std::chrono::milliseconds{100});
    co_return;
  }
  ride_record rec;
  rec.ride_id = ride->ride_id();
  rec.payment_id = ride->payment_id();
  rec.fare_cents = ride->fare_cents();
  if (ride->status() == Ride::searching) {
    // Cancelled at once so the run measures rides, not a queue of riders holding out for
    // drivers; the match reminder could still pick a driver before the cancel lands.
    co_await finish(rec, route::cancel, ride_path::cancelled_searching,
                    payment_expectation::void_payment);
  } else if (ride->status() == Ride::matched) {
    rec.driver_id = ride->driver_id();
    rec.matched = control_.now_ns();
    auto where = cancel_point::none;
    if (std::uniform_real_distribution<double>{0, 1}(rng_) < opts_.cancel_rate) {
      static constexpr cancel_point points[] = {
          cancel_point::before_accept, cancel_point::before_accept, cancel_point::after_accept,
          cancel_point::after_start};
      where = points[std::uniform_int_distribution<int>{0, 3}(rng_)];
    }
    // Each step awaited on its own line: no co_await inside a condition (see call()).
    if (where == cancel_point::before_accept) {
      co_await finish(rec, route::cancel, ride_path::cancelled_before_accept,
                      payment_expectation::void_payment);
    } else {
      auto accept_body = fmt::format(R"({{"driverId":"{}"}})", rec.driver_id);
      auto accepted = co_await step(route::accept, rec.ride_id, std::move(accept_body));
      if (!accepted) {
        co_await recover(rec);
      } else if (where == cancel_point::after_accept) {
        co_await finish(rec, route::cancel, ride_path::cancelled_after_accept,
                        payment_expectation::capture_fee);
      } else {
        auto started = co_await step(route::start, rec.ride_id, "{}");
        if (!started)
          co_await recover(rec);
        else if (where == cancel_point::after_start)
          co_await finish(rec, route::cancel, ride_path::cancelled_after_start,
                          payment_expectation::capture_fee);
        else
          co_await finish(rec, route::complete, ride_path::completed,
                          payment_expectation::capture_fare);
      }
    }
  } else {
    // A fresh ride is searching or matched; anything else is the node's bug, and the sim
    // still closes the ride so the invariant checks judge its payment.
    stats_.record_bad_body(route::request_ride);
    control_.errors.fetch_add(1);
    co_await recover(rec);
  }
  if (rec.path != ride_path::lost) {
    control_.rides_finished.fetch_add(1);
    if (!rec.driver_id.empty()) {
      if (rec.path == ride_path::completed)
        co_await move_driver(rec.driver_id, dropoff, 0.002);
      else
        co_await move_driver(rec.driver_id, pickup, 0.005);
    }
  }
  rides_.push_back(std::move(rec));
  control_.in_flight.fetch_sub(1);
}

asio::awaitable<void> ride_worker::finish(ride_record& rec, route r, ride_path path,
                                          payment_expectation expect) {
  rec.end_sent = std::min(rec.end_sent, control_.now_ns());
  auto ride = co_await step(r, rec.ride_id, "{}");
  if (!ride) {
    co_await recover(rec);
    co_return;
  }
  rec.end_received = control_.now_ns();
  rec.path = path;
  rec.expect = expect;
  rec.fee_cents = ride->cancellation_fee_cents();
  // A searching ride the match reminder served before the cancel: its driver is known only
  // now, too late to bound when it was held.
  if (rec.driver_id.empty()) rec.driver_id = ride->driver_id();
}

asio::awaitable<void> ride_worker::recover(ride_record& rec) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) co_await pause(std::chrono::milliseconds{50 << attempt});
    rec.end_sent = std::min(rec.end_sent, control_.now_ns());
    auto cancelled = co_await step(route::cancel, rec.ride_id, "{}");
    if (cancelled) {
      adopt_outcome(rec, *cancelled);
      co_return;
    }
    // 409: already completed or cancelled, perhaps by the call that seemed to fail.
    auto reply =
        co_await call(route::get_ride, "/v1/rides/" + rec.ride_id, "", std::nullopt, ride_owner_);
    learn_owner(ride_owner_, reply);
    auto ride = reply.ok() ? parse_ride(reply.body) : std::nullopt;
    if (ride && finished(*ride)) {
      adopt_outcome(rec, *ride);
      co_return;
    }
  }
  rec.path = ride_path::lost;
  rec.expect = payment_expectation::unknown;
}

void ride_worker::adopt_outcome(ride_record& rec, const Ride& ride) {
  rec.end_received = control_.now_ns();
  rec.path = ride_path::recovered;
  rec.fee_cents = ride.cancellation_fee_cents();
  rec.expect = ride.status() == Ride::completed ? payment_expectation::capture_fare
               : rec.fee_cents > 0              ? payment_expectation::capture_fee
                                                : payment_expectation::void_payment;
  if (rec.driver_id.empty()) rec.driver_id = ride.driver_id();
}

asio::awaitable<void> ride_worker::move_driver(std::string driver_id, lat_lng near, double radius) {
  auto path = "/v1/drivers/" + driver_id + "/location";
  auto& owner = hints_.drivers[driver_id];
  auto reply = co_await call(route::put_location, std::move(path),
                             location_body(town_.near(near, radius, rng_)), std::nullopt, owner);
  learn_owner(owner, reply);
}

}  // namespace keel::sim
