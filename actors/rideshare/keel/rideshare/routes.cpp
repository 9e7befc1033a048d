// The ride-sharing HTTP API (DESIGN.md "HTTP API"): parse and validate at the edge, then
// one call to one actor; protobuf objects inside, JSON only here.
#include <type_traits>

#include <fmt/format.h>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/ride_id.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/owner_headers.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/utf8.hpp"

namespace keel::rideshare {

namespace {

using http::exchange_ptr;

// Calls `target` and answers `status` with the reply as JSON, or the error's status.
void forward(node_runtime& rt, const exchange_ptr& ex, actor_id target,
             std::shared_ptr<google::protobuf::Message> request, int status = 200) {
  http::add_owner_headers(rt, *ex, target);
  rt.call(
      std::move(target), std::move(request), ex->deadline(), ex->trace(), "http",
      [ex, status](call_result result) {
        if (!result) return ex->fail(result.error());
        ex->respond(status, http::to_json(**result));
      },
      ex->parent_span());
}

// Parses the body into a fresh `M`; answers 400 and returns null when it does not parse.
template <class M>
std::shared_ptr<M> parse(const exchange_ptr& ex) {
  auto m = std::make_shared<M>();
  if (auto err = http::parse_json(ex->req().body, *m)) {
    ex->fail(err);
    return nullptr;
  }
  return m;
}

bool fail_bad(const exchange_ptr& ex, std::string message) {
  ex->fail(make_error(errc::bad_payload, std::move(message)));
  return false;
}

bool check_point(const exchange_ptr& ex, bool present, const LatLng& p, const std::string& field) {
  if (!present) return fail_bad(ex, "field '" + field + "': required");
  std::string error;
  if (!valid_point({p.lat(), p.lng()}, field, error)) return fail_bad(ex, error);
  return true;
}

// Same request, same hash, whatever the JSON's spacing or field order.
std::string body_hash(const RequestRide& request) {
  return fmt::format("{:016x}", fnv1a64(serialize_deterministic(request)));
}

void request_ride(node_runtime& rt, const exchange_ptr& ex) {
  auto req = parse<RequestRide>(ex);
  if (!req) return;
  if (req->rider_id().empty()) return (void)fail_bad(ex, "field 'riderId': required");
  if (req->rider_id().size() > http::max_key_bytes)
    return (void)fail_bad(
        ex, fmt::format("field 'riderId': longer than {} bytes", http::max_key_bytes));
  if (!check_point(ex, req->has_pickup(), req->pickup(), "pickup") ||
      !check_point(ex, req->has_dropoff(), req->dropoff(), "dropoff"))
    return;
  auto ride_id = new_ride_id(req->rider_id());
  auto key = ex->req().header("idempotency-key");
  if (key.empty()) return forward(rt, ex, ride_actor(ride_id), req, 201);
  if (key.size() > 200) return (void)fail_bad(ex, "Idempotency-Key: longer than 200 characters");
  // The key becomes an actor key (below), so it must be well-formed as every key is.
  if (!valid_utf8(key)) return (void)fail_bad(ex, "Idempotency-Key: not valid UTF-8");
  // Keys are scoped by API key (hashed: keys are secrets and actor keys are stored).
  auto auth = ex->req().header("authorization");
  auto scoped = fmt::format("{:016x}/{}", fnv1a64(auth), key);
  auto claim = std::make_shared<ClaimRideKey>();
  claim->set_body_hash(body_hash(*req));
  claim->set_ride_id(ride_id);
  rt.call(
      actor_id{std::string{ride_key_type}, scoped}, claim, ex->deadline(), ex->trace(), "http",
      [&rt, ex, req](call_result result) {
        if (!result) return ex->fail(result.error());
        const auto& claimed = static_cast<const RideKeyClaim&>(**result);
        // A replay asks the same ride again: RequestRide answers an existing ride as is.
        forward(rt, ex, ride_actor(claimed.ride_id()), req, claimed.replayed() ? 200 : 201);
      },
      ex->parent_span());
}

// A route's body and reply messages for the API contract; Request void: no body.
template <class Request, class Reply>
http::route_doc doc(int success = 200) {
  const google::protobuf::Descriptor* request = nullptr;
  if constexpr (!std::is_void_v<Request>) request = Request::descriptor();
  return http::route_doc::json(request, Reply::descriptor(), success);
}

// Riders' routes are public, drivers' and payments' partner (docs/api.md "Scopes").
constexpr auto rider = http::api_scope::public_;
constexpr auto partner = http::api_scope::partner;

void add_driver_routes(http::gateway& gw, node_runtime& rt) {
  gw.add_route(
      "PUT", "/v1/drivers/{id}/location",
      [&rt](const exchange_ptr& ex) {
        auto m = parse<UpdateLocation>(ex);
        if (!m) return;
        if (!m->has_lat()) return (void)fail_bad(ex, "field 'lat': required");
        if (!m->has_lng()) return (void)fail_bad(ex, "field 'lng': required");
        std::string error;
        if (!valid_point({m->lat(), m->lng()}, "location", error))
          return (void)fail_bad(ex, error.replace(error.find("location."), 9, ""));
        forward(rt, ex, driver_actor(std::string{ex->param("id")}), m);
      },
      partner, doc<UpdateLocation, Driver>());
  gw.add_route(
      "PUT", "/v1/drivers/{id}/availability",
      [&rt](const exchange_ptr& ex) {
        auto m = parse<SetAvailability>(ex);
        if (!m) return;
        if (!m->has_available()) return (void)fail_bad(ex, "field 'available': required");
        forward(rt, ex, driver_actor(std::string{ex->param("id")}), m);
      },
      partner, doc<SetAvailability, Driver>());
  gw.add_route(
      "GET", "/v1/drivers/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, driver_actor(std::string{ex->param("id")}), std::make_shared<GetDriver>());
      },
      partner, doc<void, Driver>());
}

// A ride's life: requested, read, accepted, started, completed or cancelled.
void add_ride_routes(http::gateway& gw, node_runtime& rt) {
  gw.add_route(
      "POST", "/v1/rides", [&rt](const exchange_ptr& ex) { request_ride(rt, ex); }, rider,
      doc<RequestRide, Ride>(201));
  gw.add_route(
      "GET", "/v1/rides/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, ride_actor(std::string{ex->param("id")}), std::make_shared<GetRide>());
      },
      rider, doc<void, Ride>());
  gw.add_route(
      "POST", "/v1/rides/{id}/accept",
      [&rt](const exchange_ptr& ex) {
        auto m = parse<AcceptRide>(ex);
        if (!m) return;
        if (m->driver_id().empty()) return (void)fail_bad(ex, "field 'driverId': required");
        if (m->driver_id().size() > http::max_key_bytes)
          return (void)fail_bad(
              ex, fmt::format("field 'driverId': longer than {} bytes", http::max_key_bytes));
        forward(rt, ex, ride_actor(std::string{ex->param("id")}), m);
      },
      partner, doc<AcceptRide, Ride>());
  auto lifecycle = [&](const char* path, auto prototype, http::api_scope needs) {
    using M = decltype(prototype);
    gw.add_route(
        "POST", path,
        [&rt](const exchange_ptr& ex) {
          auto m = parse<M>(ex);
          if (!m) return;
          forward(rt, ex, ride_actor(std::string{ex->param("id")}), m);
        },
        needs, doc<M, Ride>());
  };
  lifecycle("/v1/rides/{id}/start", StartRide{}, partner);
  lifecycle("/v1/rides/{id}/complete", CompleteRide{}, partner);
  lifecycle("/v1/rides/{id}/cancel", CancelRide{}, rider);
}

// Quotes, riders, payments and both kinds of alert inbox.
void add_account_routes(http::gateway& gw, node_runtime& rt) {
  gw.add_route(
      "POST", "/v1/quotes",
      [&rt](const exchange_ptr& ex) {
        auto m = parse<QuoteRequest>(ex);
        if (!m) return;
        if (!check_point(ex, m->has_pickup(), m->pickup(), "pickup") ||
            !check_point(ex, m->has_dropoff(), m->dropoff(), "dropoff"))
          return;
        forward(rt, ex, actor_id{std::string{quote_type}, "any"}, m);
      },
      rider, doc<QuoteRequest, Quote>());
  gw.add_route(
      "GET", "/v1/payments/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, payment_actor(std::string{ex->param("id")}),
                std::make_shared<GetPayment>());
      },
      partner, doc<void, Payment>());
  gw.add_route(
      "GET", "/v1/riders/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, rider_actor(std::string{ex->param("id")}), std::make_shared<GetRider>());
      },
      rider, doc<void, RiderState>());
  for (auto who : {"riders", "drivers"}) {
    bool riders = std::string{who} == "riders";
    std::string who_key = riders ? "rider" : "driver";
    gw.add_route(
        "GET", fmt::format("/v1/{}/{{id}}/alerts", who),
        [&rt, who_key](const exchange_ptr& ex) {
          forward(rt, ex, alerts_actor(who_key, std::string{ex->param("id")}),
                  std::make_shared<GetAlerts>());
        },
        riders ? rider : partner, doc<void, AlertInbox>());
  }
}

}  // namespace

void add_rideshare_routes(http::gateway& gw, node_runtime& runtime, const rideshare_options&) {
  add_driver_routes(gw, runtime);
  add_ride_routes(gw, runtime);
  add_account_routes(gw, runtime);
}

}  // namespace keel::rideshare
