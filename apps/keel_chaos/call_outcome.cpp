#include "call_outcome.hpp"

#include <httplib.h>

#include <array>

#include <fmt/format.h>

#include "json_value.hpp"

namespace keel::chaos {

namespace {

struct code_rule {
  std::string_view code;
  outcome kind;
};

// The whole classification. "Did not happen" is what the node promises for a refusal
// (docs/api.md "Errors"); anything that leaves the turn possibly committed is unknown.
constexpr std::array<code_rule, 17> rules{{
    {"ok", outcome::acked},
    {"unavailable", outcome::not_applied},  // 503: owner down, fenced, stopping or moving
    {"overloaded", outcome::not_applied},   // 503: admission refused
    {"bad_payload", outcome::not_applied},
    {"unauthenticated", outcome::not_applied},
    {"not_found", outcome::not_applied},
    {"unknown_actor_type", outcome::not_applied},
    {"unknown_message", outcome::not_applied},
    {"conflict", outcome::not_applied},  // 409 stale version: the commit was refused
    {"payload_too_large", outcome::not_applied},
    {"rate_limited", outcome::not_applied},
    {"connect_failed", outcome::not_applied},  // no connection: nothing was sent
    {"timeout", outcome::unknown},             // 504: the turn may still commit
    {"unknown_outcome", outcome::unknown},     // 504: the node itself cannot tell
    {"app_error", outcome::unknown},           // 500: includes a failed commit
    {"connection_lost", outcome::unknown},     // sent, then reset or closed
    {"client_timeout", outcome::unknown},      // sent, no answer in time
}};

}  // namespace

outcome outcome_of(std::string_view code, int http_status) {
  for (const auto& rule : rules)
    if (rule.code == code) return rule.kind;
  return http_status >= 400 && http_status < 500 ? outcome::not_applied : outcome::unknown;
}

counter_client::counter_client(std::chrono::milliseconds timeout) : timeout_(timeout) {}

counter_client::~counter_client() = default;

call_result counter_client::increment(int port, const std::string& key) {
  return post(port, "/v1/actors/counter/" + key + "/Increment", R"({"by":1})");
}

call_result counter_client::get(int port, const std::string& key) {
  return post(port, "/v1/actors/counter/" + key + "/Get", "{}");
}

call_result counter_client::post(int port, const std::string& path, const std::string& body) {
  auto& cli = clients_[port];
  if (!cli) {
    cli = std::make_unique<httplib::Client>("127.0.0.1", port);
    cli->set_keep_alive(true);
    cli->set_tcp_nodelay(true);
    cli->set_connection_timeout(std::chrono::seconds{1});
    cli->set_read_timeout(timeout_);
    cli->set_write_timeout(timeout_);
  }
  auto started = std::chrono::steady_clock::now();
  auto res = cli->Post(path, body, "application/json");
  call_result out;
  if (!res) {
    auto err = res.error();
    bool slow = std::chrono::steady_clock::now() - started >= timeout_;
    out.code = err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout
                   ? "connect_failed"
               : slow ? "client_timeout"
                      : "connection_lost";
    out.message = fmt::format("{} after {} ms (port {})", httplib::to_string(err),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count(),
                              port);
  } else {
    out.http_status = res->status;
    auto doc = json_value::parse(res->body);
    const json_value* error = doc ? doc->find("error") : nullptr;
    auto value = doc ? doc->int_of("value") : std::nullopt;
    if (res->status == 200 && value) {
      out.code = "ok";
      out.value = *value;
    } else if (res->status != 200 && error && !error->text_of("code").empty()) {
      out.code = error->text_of("code");
      out.message = error->text_of("message");
    } else {
      out.code = "bad_answer";
      out.message = "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
    }
  }
  out.kind = outcome_of(out.code, out.http_status);
  return out;
}

}  // namespace keel::chaos
