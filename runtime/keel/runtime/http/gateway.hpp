#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "keel/runtime/http/failure_throttle.hpp"
#include "keel/runtime/http/http_types.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel::http {

/// A token bucket's shape: `per_second` tokens flow in, up to `burst` banked.
struct rate_limit {
  double per_second = 0;
  double burst = 0;
};

/// Parses `--rate-limit`: "off", or "N/s" / "N/m" with an optional ",burst=B" (default
/// burst: one second's worth). Bad text yields errc::bad_payload naming the problem.
[[nodiscard]] caf::expected<std::optional<rate_limit>> parse_rate_limit(std::string_view text);

/// The longest path parameter, in bytes once percent-decoded: parameters become actor keys,
/// stored in every key of the actor's records and rewritten with its state.
inline constexpr size_t max_key_bytes = 256;

struct gateway_options {
  size_t max_body = 1 << 20;
  size_t max_inflight = 4096;
  std::chrono::milliseconds request_timeout{std::chrono::seconds{5}};
  std::vector<std::string> api_keys;  // empty: no authentication
  std::optional<rate_limit> limit;    // per API key (one shared bucket without keys)
  // Failed API keys per client address (--auth-failure-limit); nullopt: not throttled.
  std::optional<rate_limit> auth_failure_limit = rate_limit{10.0 / 60, 20};
};

/// The most client addresses whose failed API keys are counted (--auth-failure-limit).
inline constexpr size_t max_throttled_clients = 4096;

/// Whether a route needs the API key when keys are configured.
enum class route_access { keyed, open };

/// One request in flight through the gateway: its parsed request, path parameters,
/// trace id and deadline, and the one way to answer it.
/// Thread safety: `respond`/`fail` may be called from any thread, exactly once in total;
/// the rest is immutable.
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
  steady_time deadline() const noexcept { return deadline_; }

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
  steady_time deadline_;
  steady_time started_;
  responder respond_;
  std::function<void(int)> on_done_;
  std::atomic<bool> answered_{false};
};

using exchange_ptr = std::shared_ptr<exchange>;
using route_handler = std::function<void(const exchange_ptr&)>;

/// The HTTP front of a node: route registration (runtime and apps add routes), API keys,
/// admission control, deadlines, trace ids, error bodies and per-route metrics. Library
/// independent: the server calls `handle`.
/// Thread safety: add routes before serving (externally synchronized); `handle` and the
/// rest are thread-safe.
class gateway {
 public:
  explicit gateway(gateway_options opts);

  /// `pattern` is a path template such as `/v1/actors/{type}/{key}/{message}`; it is also
  /// the route's metrics label.
  void add_route(std::string method, std::string pattern, route_handler handler,
                 route_access access = route_access::keyed);

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

  /// Appends the gateway's Prometheus series, then those of each metrics source.
  void render_metrics(std::string& out) const;
  /// Requires: called before the server starts serving.
  void add_metrics_source(std::function<void(std::string&)> source) {
    metrics_sources_.push_back(std::move(source));
  }

  const gateway_options& options() const noexcept { return opts_; }

 private:
  static constexpr std::array<int, 13> tracked_statuses{200, 201, 400, 401, 404, 405, 409,
                                                        413, 429, 500, 503, 504, 505};
  struct route_stats {
    std::array<counter, tracked_statuses.size() + 1> by_status;  // last slot: any other
    histogram latency;
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" captures
    route_handler handler;
    route_access access;
    std::unique_ptr<route_stats> stats;
  };

  /// The route for the request's method and path (a GET route for HEAD); `allowed` gets
  /// the methods of the routes matching the path when none has this method.
  route* match(const request& req, const std::vector<std::string_view>& segments,
               std::string& allowed);
  /// Answers a request the gateway refuses before any route runs; false if it passes.
  bool refused_before_route(const exchange_ptr& ex, route* matched, const std::string& allowed);
  /// Answers a keyed request that fails authentication or a limit; false if it passes.
  bool refused_access(const exchange_ptr& ex);
  bool authorized(const request& req) const;
  /// Takes a token from the caller's bucket; when empty, returns the seconds to wait.
  std::optional<int> rate_limited(const request& req);
  void count(route_stats& stats, int status, steady_time started) const;

  gateway_options opts_;
  std::vector<route> routes_;
  std::vector<readiness_check> readiness_;
  std::unique_ptr<route_stats> unmatched_ = std::make_unique<route_stats>();
  std::atomic<size_t> inflight_{0};
  std::atomic<bool> draining_{false};
  counter overloaded_;
  counter rate_limited_;
  counter auth_throttled_;
  std::unique_ptr<failure_throttle> auth_throttle_;  // null: not throttled
  std::vector<std::function<void(std::string&)>> metrics_sources_;

  struct bucket {
    double tokens = 0;
    steady_time refilled;
  };
  std::mutex buckets_mutex_;
  std::map<std::string, bucket, std::less<>> buckets_;  // guarded by buckets_mutex_
};

/// Parses `X-Request-Timeout` values: "250ms", "2s", "1m" or a plain number of ms.
[[nodiscard]] caf::expected<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace keel::http
