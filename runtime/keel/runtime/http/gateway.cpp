#include "keel/runtime/http/gateway.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/request_checks.hpp"

namespace keel::http {

caf::expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0)
    return make_error(errc::bad_payload, "invalid duration '" + std::string{text} + "'");
  std::string_view unit{end, static_cast<size_t>(text.data() + text.size() - end)};
  if (unit.empty() || unit == "ms") return std::chrono::milliseconds{value};
  if (unit == "s") return std::chrono::milliseconds{value * 1000};
  if (unit == "m") return std::chrono::milliseconds{value * 60000};
  if (unit == "h") return std::chrono::milliseconds{value * 3600000};
  return make_error(errc::bad_payload, "invalid duration unit in '" + std::string{text} + "'");
}

caf::expected<std::optional<rate_limit>> parse_rate_limit(std::string_view text) {
  if (text.empty() || text == "off") return std::optional<rate_limit>{};
  auto bad = [&](std::string why) {
    return make_error(errc::bad_payload, "rate limit '" + std::string{text} + "': " + why +
                                             " (e.g. 100/s,burst=200 or off)");
  };
  double rate = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (ec != std::errc{} || !(rate > 0)) return bad("rate must be a positive number");
  std::string_view rest{end, static_cast<size_t>(text.data() + text.size() - end)};
  double per_second = 0;
  if (rest.starts_with("/s"))
    per_second = rate;
  else if (rest.starts_with("/m"))
    per_second = rate / 60.0;
  else
    return bad("unit must be /s or /m");
  rest.remove_prefix(2);
  double burst = std::max(1.0, per_second);
  if (!rest.empty()) {
    constexpr std::string_view burst_prefix = ",burst=";
    if (!rest.starts_with(burst_prefix)) return bad("expected ',burst=N' after the rate");
    rest.remove_prefix(burst_prefix.size());
    auto [bend, bec] = std::from_chars(rest.data(), rest.data() + rest.size(), burst);
    if (bec != std::errc{} || bend != rest.data() + rest.size() || !(burst >= 1))
      return bad("burst must be a number >= 1");
  }
  return std::optional<rate_limit>{rate_limit{per_second, burst}};
}

std::string_view exchange::param(std::string_view name) const {
  for (const auto& [k, v] : params_)
    if (k == name) return v;
  return {};
}

exchange::~exchange() {
  // A handler that dropped its request still answers once, and frees its admission slot.
  if (!answered_.load() && respond_)
    fail(make_error(errc::app_error, "the route handler dropped the request unanswered"));
}

void exchange::respond(int status, std::string json_body) {
  response resp;
  resp.status = status;
  resp.body = std::move(json_body);
  respond(std::move(resp));
}

void exchange::respond(response resp) {
  if (answered_.exchange(true)) return;
  resp.headers.emplace_back("traceparent", trace_.to_traceparent());
  auto status = resp.status;
  respond_(std::move(resp));
  if (on_done_) on_done_(status);
}

void exchange::fail(const caf::error& err, int retry_after_seconds) {
  auto code = code_of(err);
  response resp;
  resp.status = http_status(code);
  resp.body = error_body(code_name(code), message_of(err));
  if (code == errc::rate_limited)
    resp.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  if (code == errc::unauthenticated) resp.headers.emplace_back("WWW-Authenticate", "Bearer");
  respond(std::move(resp));
}

gateway::gateway(gateway_options opts) : opts_(std::move(opts)) {
  if (opts_.auth_failure_limit && !opts_.api_keys.empty())
    auth_throttle_ =
        std::make_unique<failure_throttle>(opts_.auth_failure_limit->per_second,
                                           opts_.auth_failure_limit->burst, max_throttled_clients);
}

void gateway::add_route(std::string method, std::string pattern, route_handler handler,
                        route_access access) {
  route r;
  r.method = std::move(method);
  auto segments = split_path(pattern);
  for (size_t i = 0; i < segments.size(); ++i) r.segments.emplace_back(segments[i]);
  r.pattern = std::move(pattern);
  r.handler = std::move(handler);
  r.access = access;
  r.stats = std::make_unique<route_stats>();
  routes_.push_back(std::move(r));
}

bool gateway::authorized(const request& req) const {
  if (opts_.api_keys.empty()) return true;
  // RFC 9110 11.1: the scheme is case-insensitive, and one or more spaces follow it.
  auto key = bearer_token(req.header("authorization"));
  if (!key) return false;
  for (const auto& k : opts_.api_keys)
    if (k == *key) return true;
  return false;
}

std::optional<int> gateway::rate_limited(const request& req) {
  if (!opts_.limit) return std::nullopt;
  const auto& limit = *opts_.limit;
  // Keyed by the credential: authorization ran first, so only configured keys get here.
  // Without API keys there is one shared bucket (headers are the client's to vary).
  auto key = opts_.api_keys.empty() ? std::string_view{} : req.header("authorization");
  auto now = std::chrono::steady_clock::now();
  std::lock_guard guard{buckets_mutex_};
  auto it = buckets_.find(key);
  if (it == buckets_.end()) it = buckets_.emplace(std::string{key}, bucket{limit.burst, now}).first;
  auto& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(limit.burst, b.tokens + elapsed * limit.per_second);
  b.refilled = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / limit.per_second)));
}

void gateway::count(route_stats& stats, int status, steady_time started) const {
  size_t slot = tracked_statuses.size();
  for (size_t i = 0; i < tracked_statuses.size(); ++i)
    if (tracked_statuses[i] == status) slot = i;
  stats.by_status[slot].add();
  stats.latency.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

gateway::route* gateway::match(const request& req, const std::vector<std::string_view>& segments,
                               std::string& allowed) {
  route* get_route = nullptr;
  std::vector<std::string_view> methods;
  for (auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& pat = r.segments[i];
      ok = (pat.size() > 2 && pat.front() == '{' && pat.back() == '}') || pat == segments[i];
    }
    if (!ok) continue;
    if (r.method == req.method) return &r;
    if (r.method == "GET" && !get_route) get_route = &r;
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
      methods.push_back(r.method);
  }
  // HEAD is GET without the body (the server leaves it out).
  if (req.method == "HEAD" && get_route) return get_route;
  if (get_route) methods.push_back("HEAD");
  for (auto m : methods) allowed += (allowed.empty() ? "" : ", ") + std::string{m};
  return nullptr;
}

bool gateway::refused_before_route(const exchange_ptr& ex, route* matched,
                                   const std::string& allowed) {
  const auto& req = ex->request_;
  if (auto problem = protocol_problem(req)) {
    ex->fail(*problem);
    return true;
  }
  if (matched) return false;
  if (allowed.empty()) {
    ex->fail(make_error(errc::not_found, "no route for " + req.method + " " + req.path));
    return true;
  }
  auto err = make_error(errc::method_not_allowed,
                        req.method + " is not allowed on " + req.path + "; use " + allowed);
  response resp;
  resp.status = http_status(errc::method_not_allowed);
  resp.body = error_body(code_name(errc::method_not_allowed), message_of(err));
  resp.headers.emplace_back("Allow", allowed);
  ex->respond(std::move(resp));
  return true;
}

bool gateway::refused_access(const exchange_ptr& ex) {
  const auto& req = ex->request_;
  auto now = std::chrono::steady_clock::now();
  // A client that failed too often waits before its key is even looked at: otherwise the
  // throttle would still tell a right guess from a wrong one.
  if (auth_throttle_) {
    if (auto wait = auth_throttle_->wait_for(req.client, now)) {
      auth_throttled_.add();
      ex->fail(make_error(errc::rate_limited,
                          fmt::format("too many failed API keys from {}; retry in {} s", req.client,
                                      *wait)),
               *wait);
      return true;
    }
  }
  if (!authorized(req)) {
    if (auth_throttle_) auth_throttle_->failed(req.client, now);
    ex->fail(make_error(errc::unauthenticated, "missing or unknown API key"));
    return true;
  }
  if (auto wait = rate_limited(req)) {
    rate_limited_.add();
    ex->fail(
        make_error(errc::rate_limited, fmt::format("rate limit exceeded; retry in {} s", *wait)),
        *wait);
    return true;
  }
  return false;
}

void gateway::handle(request req, responder respond) {
  auto ex = std::make_shared<exchange>();
  ex->started_ = std::chrono::steady_clock::now();
  auto parent = req.header("traceparent");
  auto parsed = parent.empty() ? std::nullopt : trace_id::from_traceparent(parent);
  ex->trace_ = parsed ? *parsed : trace_id::make();
  ex->respond_ = std::move(respond);

  auto segments = split_path(req.path);
  std::string allowed;
  route* matched = match(req, segments, allowed);
  std::string param_error;
  if (matched) param_error = decode_params(segments, matched->segments, ex->params_);
  ex->request_ = std::move(req);
  auto* stats = matched ? matched->stats.get() : unmatched_.get();
  auto started = ex->started_;
  ex->on_done_ = [this, stats, started](int status) { count(*stats, status, started); };

  if (refused_before_route(ex, matched, allowed)) return;
  if (matched->access == route_access::keyed && refused_access(ex)) return;
  if (!param_error.empty()) return ex->fail(make_error(errc::bad_payload, param_error));
  if (ex->request_.body.size() > opts_.max_body)
    return ex->fail(make_error(errc::payload_too_large,
                               fmt::format("body of {} bytes is over the limit of {} bytes",
                                           ex->request_.body.size(), opts_.max_body)));
  auto timeout = opts_.request_timeout;
  if (auto header = ex->request_.header("x-request-timeout"); !header.empty()) {
    auto asked = parse_duration(header);
    if (!asked)
      return ex->fail(
          make_error(errc::bad_payload, "X-Request-Timeout: " + message_of(asked.error())));
    timeout = std::min(timeout, *asked);
  }
  ex->deadline_ = ex->started_ + timeout;
  if (matched->access == route_access::keyed) {
    if (draining_.load(std::memory_order_relaxed))
      return ex->fail(make_error(errc::unavailable, "node is shutting down"));
    // Admission: refuse fast rather than queue without bound and collapse.
    if (inflight_.fetch_add(1, std::memory_order_acq_rel) >= opts_.max_inflight) {
      inflight_.fetch_sub(1, std::memory_order_acq_rel);
      overloaded_.add();
      return ex->fail(make_error(
          errc::overloaded, fmt::format("more than {} requests in flight", opts_.max_inflight)));
    }
    ex->on_done_ = [this, stats, started](int status) {
      inflight_.fetch_sub(1, std::memory_order_acq_rel);
      count(*stats, status, started);
    };
  }
  try {
    matched->handler(ex);
  } catch (const std::exception& e) {
    ex->fail(make_error(errc::app_error, std::string{"route handler threw: "} + e.what()));
  } catch (...) {
    ex->fail(make_error(errc::app_error, "route handler threw"));
  }
}

std::optional<std::string> gateway::not_ready_reason() const {
  for (const auto& check : readiness_)
    if (auto why = check()) return why;
  return std::nullopt;
}

void gateway::render_metrics(std::string& out) const {
  render_header(out, "keel_http_requests_total", "counter", "HTTP requests by route and status.");
  auto series = [&](const std::string& method, const std::string& pattern,
                    const route_stats& stats) {
    for (size_t i = 0; i < tracked_statuses.size(); ++i) {
      auto n = stats.by_status[i].value();
      if (n == 0) continue;
      out +=
          fmt::format("keel_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                      method, pattern, tracked_statuses[i], n);
    }
    auto other = stats.by_status.back().value();
    if (other > 0)
      out += fmt::format(
          "keel_http_requests_total{{method=\"{}\",route=\"{}\",status=\"other\"}} {}\n", method,
          pattern, other);
  };
  for (const auto& r : routes_) series(r.method, r.pattern, *r.stats);
  series("any", "unmatched", *unmatched_);
  render_header(out, "keel_http_request_duration_seconds", "histogram",
                "HTTP request latency by route.");
  for (const auto& r : routes_)
    if (r.stats->latency.count() > 0)
      r.stats->latency.render(out, "keel_http_request_duration_seconds",
                              fmt::format("method=\"{}\",route=\"{}\"", r.method, r.pattern));
  render_gauge(out, "keel_http_inflight", "HTTP requests in flight.",
               static_cast<int64_t>(inflight()));
  render_counter(out, "keel_http_overloaded_total", "Requests refused by admission control.",
                 overloaded_.value());
  render_counter(out, "keel_http_rate_limited_total", "Requests refused by the per-key rate limit.",
                 rate_limited_.value());
  render_counter(out, "keel_http_auth_throttled_total",
                 "Requests refused because their client address failed too many API keys.",
                 auth_throttled_.value());
  for (const auto& source : metrics_sources_) source(out);
}

}  // namespace keel::http
