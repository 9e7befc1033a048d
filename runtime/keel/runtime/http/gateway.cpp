#include "keel/runtime/http/gateway.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/recent_requests.hpp"
#include "keel/runtime/http/request_checks.hpp"
#include "keel/runtime/node_stats.hpp"

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

void exchange::add_header(std::string name, std::string value, on_answers which) {
  headers_.push_back({std::move(name), std::move(value), which});
}

void exchange::respond(response resp) {
  if (answered_.exchange(true)) return;
  resp.headers.emplace_back("traceparent", trace_.to_traceparent());
  for (const auto& h : headers_)
    if (h.which == on_answers::all || resp.status < 500) resp.headers.emplace_back(h.name, h.value);
  if (on_answer_) on_answer_(resp.status);
  respond_(std::move(resp));
  if (on_sent_) on_sent_();
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

gateway::gateway(gateway_options opts) : opts_(std::move(opts)), api_keys_(opts_.api_keys) {
  if (!opts_.clock) opts_.clock = std::make_shared<monotonic_clock>();
  unmatched_->route = "unmatched";
  if (opts_.auth_failure_limit && api_keys_)
    auth_throttle_ =
        std::make_unique<failure_throttle>(opts_.auth_failure_limit->per_second,
                                           opts_.auth_failure_limit->burst, max_throttled_clients);
}

void gateway::add_route(std::string method, std::string pattern, route_handler handler,
                        api_scope needs, route_doc doc) {
  add_any_route(std::move(method), std::move(pattern), std::move(handler), needs, std::move(doc));
}

void gateway::add_open_route(std::string method, std::string pattern, route_handler handler,
                             route_doc doc) {
  add_any_route(std::move(method), std::move(pattern), std::move(handler), std::nullopt,
                std::move(doc));
}

std::vector<gateway::route_entry> gateway::routes() const {
  std::vector<route_entry> out;
  for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.needs, &r.doc});
  return out;
}

void gateway::add_any_route(std::string method, std::string pattern, route_handler handler,
                            std::optional<api_scope> needs, route_doc doc) {
  route r;
  r.method = std::move(method);
  auto segments = split_path(pattern);
  for (size_t i = 0; i < segments.size(); ++i) r.segments.emplace_back(segments[i]);
  r.pattern = std::move(pattern);
  r.handler = std::move(handler);
  r.needs = needs;
  r.doc = std::move(doc);
  r.stats = std::make_unique<route_stats>();
  r.stats->route = r.pattern;
  routes_.push_back(std::move(r));
}

std::shared_ptr<const api_key_table> gateway::api_keys() const {
  std::lock_guard guard{api_keys_mutex_};
  return api_keys_;
}

caf::error gateway::reload_api_keys(const std::string& path) {
  auto table = api_key_table::read_file(path);
  if (!table) {
    api_keys_reload_failures_.add();
    return table.error();
  }
  auto fresh = std::make_shared<const api_key_table>(std::move(*table));
  std::lock_guard guard{api_keys_mutex_};
  api_keys_ = std::move(fresh);
  return {};
}

std::optional<caf::error> gateway::rate_limited(key_usage::record& usage,
                                                const std::optional<rate_limit>& limit,
                                                int& retry_after) {
  if (!limit) return std::nullopt;
  auto wait = usage.take(*limit, std::chrono::steady_clock::now());
  if (!wait) return std::nullopt;
  rate_limited_.add();
  retry_after = *wait;
  return make_error(errc::rate_limited, fmt::format("rate limit exceeded; retry in {} s", *wait));
}

gateway::access_check gateway::check_access(const request& req, api_scope needs) {
  access_check check;
  auto keys = api_keys();
  // Without keys one bucket serves everyone: headers are the client's to vary.
  if (!keys) {
    check.refusal = rate_limited(usage_.of(""), opts_.limit, check.retry_after);
    return check;
  }
  auto now = std::chrono::steady_clock::now();
  // A client that failed too often waits before its key is even looked at: otherwise the
  // throttle would still tell a right guess from a wrong one.
  if (auth_throttle_) {
    if (auto wait = auth_throttle_->wait_for(req.client, now)) {
      auth_throttled_.add();
      check.retry_after = *wait;
      check.refusal = make_error(
          errc::rate_limited,
          fmt::format("too many failed API keys from {}; retry in {} s", req.client, *wait));
      return check;
    }
  }
  // RFC 9110 11.1: the scheme is case-insensitive, and one or more spaces follow it.
  auto token = bearer_token(req.header("authorization"));
  const api_key* key = token ? keys->find(*token) : nullptr;
  if (!key) {
    if (auth_throttle_) auth_throttle_->failed(req.client, now);
    check.refusal = make_error(errc::unauthenticated, "missing or unknown API key");
    return check;
  }
  check.usage = &usage_.of(key->name);
  if (key->scope < needs) {
    forbidden_.add();
    check.refusal = make_error(
        errc::forbidden, fmt::format("API key '{}' has scope {}; this route needs {}", key->name,
                                     scope_name(key->scope), scope_name(needs)));
    return check;
  }
  check.refusal =
      rate_limited(*check.usage, key->limit ? key->limit : opts_.limit, check.retry_after);
  return check;
}

gateway::~gateway() {
  begin_drain();
  (void)wait_until_idle(std::chrono::steady_clock::now() + std::chrono::seconds{10});
}

bool gateway::wait_until_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock{idle_mutex_};
  return idle_cv_.wait_until(lock, deadline, [this] { return inflight_.load() == 0; });
}

void gateway::release_slot() {
  // While draining, under the lock the waiter checks with: once it sees no request in
  // flight it may destroy the gateway, so nothing here may touch it after the decrement.
  std::unique_lock guard{idle_mutex_, std::defer_lock};
  if (draining_.load()) guard.lock();
  if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1 && guard.owns_lock())
    idle_cv_.notify_all();
}

void gateway::on_done(exchange& ex, route_stats* stats, key_usage::record* usage, admission slot) {
  // `ex` holds this function: the pointer is alive whenever it runs.
  ex.on_answer_ = [this, stats, usage, at = &ex](int status) {
    auto took = count(*stats, status, at->started_);
    if (usage) usage->count(status);
    if (opts_.recent)
      opts_.recent->record(
          {at->trace_, at->request_.method, stats->route, at->request_.path, status, took});
  };
  // Last: once no slot is taken, the gateway may be destroyed (~gateway).
  ex.on_sent_ = nullptr;
  if (slot == admission::taken) ex.on_sent_ = [this] { release_slot(); };
}

std::chrono::microseconds gateway::count(route_stats& stats, int status,
                                         steady_time started) const {
  size_t slot = tracked_statuses.size();
  for (size_t i = 0; i < tracked_statuses.size(); ++i)
    if (tracked_statuses[i] == status) slot = i;
  stats.by_status[slot].add();
  const auto took = std::chrono::steady_clock::now() - started;
  const double seconds = std::chrono::duration<double>(took).count();
  stats.latency.observe(seconds);
  if (opts_.stats) opts_.stats->record_http(status, seconds);
  return std::chrono::duration_cast<std::chrono::microseconds>(took);
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

void gateway::handle(request req, responder respond) {
  auto ex = std::make_shared<exchange>();
  ex->started_ = std::chrono::steady_clock::now();
  auto parent = req.header("traceparent");
  auto parsed = parent.empty() ? std::nullopt : trace_id::from_traceparent(parent);
  ex->trace_ = parsed ? *parsed : trace_id::make();
  if (parsed) ex->parent_span_ = span_id::from_traceparent(parent).value_or(span_id{});
  ex->respond_ = std::move(respond);

  auto segments = split_path(req.path);
  std::string allowed;
  route* matched = match(req, segments, allowed);
  std::string param_error;
  if (matched) param_error = decode_params(segments, matched->segments, ex->params_);
  ex->request_ = std::move(req);
  auto* stats = matched ? matched->stats.get() : unmatched_.get();
  on_done(*ex, stats, nullptr, admission::none);

  if (refused_before_route(ex, matched, allowed)) return;
  key_usage::record* usage = nullptr;
  if (matched->needs) {
    auto access = check_access(ex->request_, *matched->needs);
    usage = access.usage;
    on_done(*ex, stats, usage, admission::none);
    if (access.refusal) return ex->fail(*access.refusal, access.retry_after);
  }
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
  // The runtime's clock reads coarse time, up to a kernel tick behind started_: never let
  // that cut a deadline short (a test advancing the clock moves it past started_).
  ex->deadline_ = std::max(opts_.clock->now(), ex->started_) + timeout;
  if (matched->needs) {
    if (draining_.load(std::memory_order_relaxed))
      return ex->fail(make_error(errc::unavailable, "node is shutting down"));
    // Admission: refuse fast rather than queue without bound and collapse.
    if (inflight_.fetch_add(1, std::memory_order_acq_rel) >= opts_.max_inflight) {
      release_slot();  // it may be the last in flight of a draining gateway
      overloaded_.add();
      return ex->fail(make_error(
          errc::overloaded, fmt::format("more than {} requests in flight", opts_.max_inflight)));
    }
    on_done(*ex, stats, usage, admission::taken);
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
  render_counter(out, "keel_http_forbidden_total",
                 "Requests refused because their API key's scope is below the route's.",
                 forbidden_.value());
  render_counter(out, "keel_api_keys_reload_failures_total",
                 "Reloads of the API keys file (SIGHUP) that kept the old keys: the file was "
                 "unreadable or malformed.",
                 api_keys_reload_failures_.value());
  usage_.render(out);
  for (const auto& source : metrics_sources_) source(out);
}

}  // namespace keel::http
