#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace httplib {
class Client;
}

namespace keel::chaos {

/// What an answer tells the caller about whether its write was applied.
enum class outcome {
  acked,        // 200 with the counter's value
  not_applied,  // the node says it did not happen: it may be retried without double-counting
  unknown,      // it may or may not have happened
};

/// One call's answer, reduced to what the checks need.
struct call_result {
  outcome kind = outcome::unknown;
  std::string code;     // "ok", the JSON error code, or a transport label (see outcome_of)
  int http_status = 0;  // 0: no HTTP response
  int64_t value = 0;    // the counter's value; meaningful only when kind == acked
  std::string message;  // the error's message or the transport's detail: shown, never classified
};

/// The one classification table, by error code (never by message text). Transport labels:
/// `connect_failed` (nothing was sent: not applied), `connection_lost` and `client_timeout`
/// (sent, no answer: unknown), `bad_answer` (a 200 without a value, or an error without a
/// code). A code the table does not know (`bad_answer` included) is not applied for a 4xx
/// status (the request was refused) and unknown otherwise.
outcome outcome_of(std::string_view code, int http_status);

/// Calls the counter actor over HTTP through any node, one call at a time, keeping one
/// keep-alive connection per node port.
/// Thread safety: externally synchronized; each client thread owns its own.
class counter_client {
 public:
  /// `timeout` bounds a call from connect to the last byte of the answer; it should exceed
  /// the nodes' --request-timeout, so a node's own 504 arrives before the client gives up.
  explicit counter_client(std::chrono::milliseconds timeout);
  ~counter_client();
  counter_client(const counter_client&) = delete;
  counter_client& operator=(const counter_client&) = delete;

  /// POST /v1/actors/counter/{key}/Increment {"by":1} on 127.0.0.1:`port`.
  call_result increment(int port, const std::string& key);
  /// POST /v1/actors/counter/{key}/Get {} on 127.0.0.1:`port`.
  call_result get(int port, const std::string& key);

 private:
  call_result post(int port, const std::string& path, const std::string& body);

  std::chrono::milliseconds timeout_;
  std::map<int, std::unique_ptr<httplib::Client>> clients_;  // by node port
};

}  // namespace keel::chaos
