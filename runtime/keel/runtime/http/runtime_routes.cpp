#include "keel/runtime/http/runtime_routes.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/dashboard.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/owner_headers.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/partition_key.hpp"

namespace keel::http {

namespace {

void invoke_actor(node_runtime& runtime, const exchange_ptr& ex) {
  actor_id target{std::string{ex->param("type")}, std::string{ex->param("key")}};
  auto type = resolve_type(runtime.types(), target.type());
  if (!type) return ex->fail(type.error());
  auto handler = resolve_handler(**type, ex->param("message"));
  if (!handler) return ex->fail(handler.error());
  if ((*handler)->internal)
    return ex->fail(make_error(errc::forbidden, "message '" + std::string{ex->param("message")} +
                                                    "' of actor type '" + target.type() +
                                                    "' is internal: only actors send it"));
  std::shared_ptr<google::protobuf::Message> request{(*handler)->request_prototype->New()};
  if (auto err = parse_json(ex->req().body, *request)) return ex->fail(err);
  add_owner_headers(runtime, *ex, target);
  runtime.call(
      std::move(target), std::move(request), ex->deadline(), ex->trace(), "http",
      [ex](call_result result) {
        if (!result) return ex->fail(result.error());
        ex->respond(200, to_json(**result));
      },
      ex->parent_span());
}

void locate_actor(node_runtime& runtime, const exchange_ptr& ex) {
  actor_id id{std::string{ex->param("type")}, std::string{ex->param("key")}};
  if (auto type = resolve_type(runtime.types(), id.type()); !type) return ex->fail(type.error());
  // In a cluster the owner comes from the partition table: "" while never placed.
  std::string node = runtime.options().node_id;
  std::string node_address;  // unknown on a single node: its clients know where it is
  uint64_t epoch = 0;
  if (const auto* directory = runtime.directory()) {
    auto where = directory->locate(id.partition());
    node = where ? where->owner : std::string{};
    node_address = where ? where->owner_http_address : std::string{};
    epoch = where ? where->epoch : 0;
  }
  bool active = node == runtime.options().node_id && runtime.is_active(id);
  auto placed = partition_keys::placement_of(id.type(), id.key());
  auto declared = partition_keys::find(id.type());
  ex->respond(
      200, fmt::format(
               R"({{"type":"{}","key":"{}","partitionKey":"{}/{}",)"
               R"("partitionKeyName":"{}","partition":{},"node":"{}","nodeAddress":"{}",)"
               R"("epoch":{},"active":{}}})",
               json_escape(id.type()), json_escape(id.key()), json_escape(placed.type),
               json_escape(placed.key),
               json_escape(declared ? declared->name : std::string{partition_keys::default_name}),
               id.partition(), json_escape(node), json_escape(node_address), epoch,
               active ? "true" : "false"));
}

void respond_with_turns(const exchange_ptr& ex, const trace_id& trace, std::vector<turn_row> rows) {
  // Every node's clock, so the order across nodes is as good as their clocks agree.
  order_by_start(rows);
  std::string out = R"({"traceId":")" + trace.to_hex() + R"(","turns":[)";
  bool first = true;
  for (const auto& t : rows) {
    if (!first) out += ',';
    first = false;
    out += fmt::format(R"({{"actor":"{}","message":"{}","caller":"{}","node":"{}","startMs":{},)"
                       R"("durationUs":{},"outcome":"{}","versionBefore":{},"versionAfter":{}}})",
                       json_escape(t.actor), json_escape(t.message), json_escape(t.caller),
                       json_escape(t.node), t.start_ms, t.duration_us, json_escape(t.outcome),
                       t.version_before, t.version_after);
  }
  out += "]}";
  ex->respond(200, std::move(out));
}

void trace_turns(node_runtime& runtime, const exchange_ptr& ex) {
  auto hex = ex->param("traceId");
  auto trace = trace_id::from_hex(hex);
  // W3C Trace Context: 32 lowercase hex digits, and an all-zero id is invalid.
  if (!trace && hex == std::string(32, '0'))
    return ex->fail(make_error(errc::bad_payload,
                               "traceId: must not be all zeros (an invalid id in W3C Trace "
                               "Context)"));
  if (!trace)
    return ex->fail(make_error(errc::bad_payload, "traceId: expected 32 lowercase hex digits"));
  auto rows = runtime.turns().rows(*trace, runtime.options().node_id);
  auto* directory = runtime.directory();
  if (!directory) return respond_with_turns(ex, *trace, std::move(rows));
  directory->gather_turns(
      *trace, [ex, trace = *trace, rows = std::move(rows)](std::vector<turn_row> remote) mutable {
        for (auto& r : remote) rows.push_back(std::move(r));
        respond_with_turns(ex, trace, std::move(rows));
      });
}

}  // namespace

void add_runtime_routes(gateway& gw, node_runtime& runtime) {
  add_dashboard_route(gw);
  // Raw invocation reaches every actor, the app's own past its routes' checks: admin only,
  // as are where actors live and what a trace's turns did.
  gw.add_route(
      "POST", "/v1/actors/{type}/{key}/{message}",
      [&runtime](const exchange_ptr& ex) { invoke_actor(runtime, ex); }, api_scope::admin,
      route_doc::json(google::protobuf::Struct::descriptor(),
                      google::protobuf::Struct::descriptor()));
  gw.add_route(
      "GET", "/v1/actors/{type}/{key}",
      [&runtime](const exchange_ptr& ex) { locate_actor(runtime, ex); }, api_scope::admin);
  gw.add_route(
      "GET", "/v1/traces/{traceId}",
      [&runtime](const exchange_ptr& ex) { trace_turns(runtime, ex); }, api_scope::admin);
  // Names actors and their load, like the routes above: admin only.
  gw.add_route(
      "GET", "/v1/stats",
      [&runtime](const exchange_ptr& ex) {
        ex->respond(200, to_json(runtime.stats().view(runtime.options().node_id)));
      },
      api_scope::admin, route_doc::json(nullptr, keel::runtime::NodeStats::descriptor()));
  gw.add_open_route("GET", "/healthz",
                    [](const exchange_ptr& ex) { ex->respond(200, R"({"status":"ok"})"); });
  route_doc ready;
  ready.open_errors = {http_status(errc::unavailable)};
  gw.add_open_route(
      "GET", "/readyz",
      [&gw, &runtime](const exchange_ptr& ex) {
        if (gw.draining()) return ex->fail(make_error(errc::unavailable, "node is shutting down"));
        // A fenced node starts no turn: a load balancer should send its traffic elsewhere.
        if (const auto& fence = runtime.fence(); fence && !fence->is_open())
          return ex->fail(make_error(errc::unavailable, "node is fenced: " + fence->why_closed()));
        if (auto why = runtime.store_failure())
          return ex->fail(make_error(errc::unavailable, *why));
        if (auto why = gw.not_ready_reason()) return ex->fail(make_error(errc::unavailable, *why));
        ex->respond(200, R"({"status":"ready"})");
      },
      ready);
  gw.add_open_route(
      "GET", "/metrics",
      [&gw, &runtime](const exchange_ptr& ex) {
        response resp;
        resp.content_type = "text/plain; version=0.0.4";
        runtime.metrics().render(resp.body);
        gw.render_metrics(resp.body);
        ex->respond(std::move(resp));
      },
      route_doc::text("text/plain"));
}

}  // namespace keel::http
