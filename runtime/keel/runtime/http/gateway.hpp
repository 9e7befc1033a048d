#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "keel/runtime/clock.hpp"
#include "keel/runtime/http/api_keys.hpp"
#include "keel/runtime/http/failure_throttle.hpp"
#include "keel/runtime/http/http_types.hpp"
#include "keel/runtime/http/key_usage.hpp"
#include "keel/runtime/http/rate_limit.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/span_id.hpp"
#include "keel/runtime/trace_id.hpp"

namespace google::protobuf {
class Descriptor;
}

namespace keel {
class node_stats;
}

namespace keel::http {

class recent_requests;

/// The longest path parameter, in bytes once percent-decoded: parameters become actor keys,
/// stored in every key of the actor's records and rewritten with its state.
inline constexpr size_t max_key_bytes = 256;

struct gateway_options {
  size_t max_body = 1 << 20;
  size_t max_inflight = 4096;
  std::chrono::milliseconds request_timeout{std::chrono::seconds{5}};
  // The keys file as read at start; null: no authentication, every route open.
  std::shared_ptr<const api_key_table> api_keys;
  std::optional<rate_limit> limit;  // per API key without a RATE (one bucket without keys)
  // Failed API keys per client address (--auth-failure-limit); nullopt: not throttled.
  std::optional<rate_limit> auth_failure_limit = rate_limit{10.0 / 60, 20};
  // What request deadlines are set on: the runtime's clock (node_runtime::options()
  // .monotonic), which checks them, so a test that advances it moves both; null: a clock
  // of the gateway's own.
  std::shared_ptr<const monotonic_clock> clock;
  // Every answer is also counted here, by status class and latency, for /v1/stats; null:
  // not counted. Requires: outlives the gateway.
  node_stats* stats = nullptr;
  // Every answer is also offered here, which keeps the slow and failed ones; null: not
  // kept. Requires: outlives the gateway.
  recent_requests* recent = nullptr;
};

/// The most client addresses whose failed API keys are counted (--auth-failure-limit).
inline constexpr size_t max_throttled_clients = 4096;

/// What a route takes and answers, for the published API contract (`GET /openapi.json`):
/// the protobuf messages of its body and its reply, which the contract shows as the JSON
/// mapping prints them. A message without fields (`GetRide`) is an empty or `{}` body;
/// `google.protobuf.Struct` is any JSON object.
/// A plain value, immutable once the route is added.
struct route_doc {
  const google::protobuf::Descriptor* request = nullptr;  // null: the route takes no body
  const google::protobuf::Descriptor* reply = nullptr;    // null: a JSON object of its own
  int success = 200;                                      // the status of a success
  std::string content_type = "application/json";          // of a success
  // The error statuses an open route answers itself (/readyz: 503); a keyed route can
  // answer every status of errc's table, so it lists none.
  std::vector<int> open_errors;

  /// A JSON route: the messages of its body (null: none) and reply.
  static route_doc json(const google::protobuf::Descriptor* request,
                        const google::protobuf::Descriptor* reply, int success = 200) {
    route_doc d;
    d.request = request;
    d.reply = reply;
    d.success = success;
    return d;
  }
  /// A route that answers text of `content_type`.
  static route_doc text(std::string content_type) {
    route_doc d;
    d.content_type = std::move(content_type);
    return d;
  }
};

/// One request in flight through the gateway: its parsed request, path parameters,
/// trace id and deadline, and the one way to answer it.
/// Thread safety: `add_header` before anything that may answer the request has started
/// (on the handler's thread, or in a callback of a call the handler made, which runs before
/// the answer); `respond`/`fail` may be called from any thread, exactly once in total; the
/// rest is immutable.
class exchange {
 public:
  exchange() = default;
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;
  ~exchange();

  const request& req() const noexcept { return request_; }
  /// The path segment captured by `{name}` in the route template (percent-decoded).
  std::string_view param(std::string_view name) const;
  const trace_id& trace() const noexcept { return trace_; }
  /// The client's span from its `traceparent` header: the parent of the request's first
  /// turn. None without a valid header.
  span_id parent_span() const noexcept { return parent_span_; }
  steady_time deadline() const noexcept { return deadline_; }

  /// Which answers carry a header add_header gives.
  enum class on_answers {
    all,     // whatever the status
    served,  // below 500: the request was served, or refused by what served it
  };
  /// A header the answer to this request carries.
  void add_header(std::string name, std::string value, on_answers which = on_answers::all);

  void respond(int status, std::string json_body);
  void respond(response resp);
  /// Answers with the error's HTTP status and `{"error":{...}}` body; a `rate_limited`
  /// error also carries `Retry-After: retry_after_seconds`.
  void fail(const caf::error& err, int retry_after_seconds = 1);

 private:
  friend class gateway;
  request request_;
  std::vector<std::pair<std::string, std::string>> params_;
  trace_id trace_;
  span_id parent_span_;
  steady_time deadline_;
  steady_time started_;
  responder respond_;
  struct extra_header {
    std::string name;
    std::string value;
    on_answers which;
  };
  std::vector<extra_header> headers_;  // add_header's
  // Counts the answer (route, key), before it leaves: a client that reads /metrics after
  // its answer finds it counted.
  std::function<void(int)> on_answer_;
  // Gives the admission slot back, after the answer left.
  std::function<void()> on_sent_;
  std::atomic<bool> answered_{false};
};

using exchange_ptr = std::shared_ptr<exchange>;
using route_handler = std::function<void(const exchange_ptr&)>;

/// The HTTP front of a node: route registration (runtime and apps add routes, each with
/// the API key scope it needs), API keys and their rate limits, admission control,
/// deadlines, trace ids, error bodies and per-route and per-key metrics. Library
/// independent: the server calls `handle`.
/// Thread safety: add routes before serving (externally synchronized, on the thread that
/// wires the node); `handle` runs on the HTTP I/O threads, `reload_api_keys` on the
/// node's signal-waiting main thread; those and the rest are thread-safe.
class gateway {
 public:
  explicit gateway(gateway_options opts);
  /// Waits (at most 10 s) for the requests still in flight to finish counting: their last
  /// step runs on whichever thread answered them, after their response was handed over.
  ~gateway();

  /// `pattern` is a path template such as `/v1/actors/{type}/{key}/{message}`; it is also
  /// the route's metrics label. When the node requires API keys, only a key of scope
  /// `needs` or above may call it (else 403 `forbidden`); draining and admission control
  /// apply to it.
  void add_route(std::string method, std::string pattern, route_handler handler, api_scope needs,
                 route_doc doc = {});
  /// A route anyone may call, without a key, even while the node drains or is at its
  /// admission limit: health, readiness, metrics and static pages.
  void add_open_route(std::string method, std::string pattern, route_handler handler,
                      route_doc doc = {});

  /// One registered route, as the API contract describes it.
  struct route_entry {
    std::string_view method;
    std::string_view pattern;
    std::optional<api_scope> needs;  // nullopt: open
    const route_doc* doc;
  };
  /// Every route in registration order. Requires: no route is added meanwhile.
  std::vector<route_entry> routes() const;

  /// Reads the keys file at `path` again and serves its keys from the next request on.
  /// An unreadable or malformed file changes nothing: the old keys stay, the error is
  /// returned (naming file:line) and counted in `keel_api_keys_reload_failures_total`.
  /// Requires: the gateway was made with keys. Thread-safe.
  [[nodiscard]] caf::error reload_api_keys(const std::string& path);

  /// Serves one request; the server's handler.
  void handle(request req, responder respond);

  /// What another layer says about whether this node can serve (the cluster: a member it
  /// cannot reach): why not, or nullopt. Must be cheap and must not block.
  using readiness_check = std::function<std::optional<std::string>()>;
  /// Requires: called before the server starts serving.
  void add_readiness_check(readiness_check check) { readiness_.push_back(std::move(check)); }
  /// The first reason a readiness check gives; nullopt if every one passes.
  std::optional<std::string> not_ready_reason() const;

  /// Refuse new requests (`unavailable`) and report not ready; in-flight ones finish.
  void begin_drain() noexcept { draining_.store(true); }
  bool draining() const noexcept { return draining_.load(); }
  size_t inflight() const noexcept { return inflight_.load(); }
  /// After begin_drain: waits until no request is in flight or `deadline` passes; true if
  /// none is.
  bool wait_until_idle(std::chrono::steady_clock::time_point deadline);

  /// Appends the gateway's Prometheus series, then those of each metrics source.
  void render_metrics(std::string& out) const;
  /// Requires: called before the server starts serving.
  void add_metrics_source(std::function<void(std::string&)> source) {
    metrics_sources_.push_back(std::move(source));
  }

  const gateway_options& options() const noexcept { return opts_; }

 private:
  static constexpr std::array<int, 14> tracked_statuses{200, 201, 400, 401, 403, 404, 405,
                                                        409, 413, 429, 500, 503, 504, 505};
  struct route_stats {
    std::array<counter, tracked_statuses.size() + 1> by_status;  // last slot: any other
    histogram latency;
    std::string route;  // the template, or "unmatched"
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" captures
    route_handler handler;
    std::optional<api_scope> needs;  // nullopt: open
    route_doc doc;
    std::unique_ptr<route_stats> stats;
  };

  /// The route for the request's method and path (a GET route for HEAD); `allowed` gets
  /// the methods of the routes matching the path when none has this method.
  void add_any_route(std::string method, std::string pattern, route_handler handler,
                     std::optional<api_scope> needs, route_doc doc);
  route* match(const request& req, const std::vector<std::string_view>& segments,
               std::string& allowed);
  /// Answers a request the gateway refuses before any route runs; false if it passes.
  bool refused_before_route(const exchange_ptr& ex, route* matched, const std::string& allowed);
  /// Why a keyed request may not pass (throttled, no or unknown key, a scope too low, an
  /// empty bucket), and the key's usage record once the key is known.
  struct access_check {
    key_usage::record* usage = nullptr;  // null: no key configured or found
    std::optional<caf::error> refusal;
    int retry_after = 1;
  };
  access_check check_access(const request& req, api_scope needs);
  /// Takes a token from the bucket of `usage`, shaped by `limit`; refuses when empty.
  std::optional<caf::error> rate_limited(key_usage::record& usage,
                                         const std::optional<rate_limit>& limit, int& retry_after);
  std::shared_ptr<const api_key_table> api_keys() const;
  enum class admission : uint8_t { none, taken };
  /// What runs when a request is answered: its route's and its key's counts (before the
  /// answer leaves), and then the admission slot given back.
  void on_done(exchange& ex, route_stats* stats, key_usage::record* usage, admission slot);
  /// Gives an admission slot back; the last one of a draining gateway wakes
  /// wait_until_idle().
  void release_slot();
  /// Counts one answer; returns how long the request took.
  std::chrono::microseconds count(route_stats& stats, int status, steady_time started) const;

  gateway_options opts_;
  std::vector<route> routes_;
  std::vector<readiness_check> readiness_;
  std::unique_ptr<route_stats> unmatched_ = std::make_unique<route_stats>();
  std::atomic<size_t> inflight_{0};
  std::atomic<bool> draining_{false};
  // Notified when the last request in flight of a draining gateway ends.
  std::mutex idle_mutex_;
  std::condition_variable idle_cv_;
  counter overloaded_;
  counter rate_limited_;
  counter auth_throttled_;
  counter forbidden_;
  counter api_keys_reload_failures_;
  std::unique_ptr<failure_throttle> auth_throttle_;  // null: not throttled
  std::vector<std::function<void(std::string&)>> metrics_sources_;
  key_usage usage_;

  mutable std::mutex api_keys_mutex_;
  // Swapped whole by reload_api_keys; a request keeps the table it looked its key up in.
  std::shared_ptr<const api_key_table> api_keys_;  // guarded by api_keys_mutex_; null: none
};

/// Parses `X-Request-Timeout` values: "250ms", "2s", "1m" or a plain number of ms.
[[nodiscard]] caf::expected<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace keel::http
