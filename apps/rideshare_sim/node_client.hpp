#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim_options.hpp"

namespace keel::sim {

/// One HTTP exchange as the sim saw it.
/// A plain value; immutable once returned.
struct http_reply {
  int status = 0;  // 0: no HTTP answer at all, see `transport_error`
  std::string body;
  std::string transport_error;  // what went wrong when status is 0: Connection, Write, Read

  bool ok() const { return status >= 200 && status < 300; }
  /// "409 conflict", "503 unavailable" or "transport Read": the key errors are tallied by.
  std::string error_key() const;
};

/// A keep-alive HTTP/1.1 connection to one keel-node: each sim thread owns one, so requests
/// of different threads never queue behind each other on a shared socket. A request leaves
/// in one send (headers and body together, as browsers and curl send small requests), and
/// blocking reads are bounded by socket timeouts instead of a poll before each read:
/// cpp-httplib sent every POST as two segments and polled ~6 times per exchange, which on
/// two cores cost the measured node a quarter of the machine (docs/benchmarks.md). Responses
/// are parsed by http_parser, the parser RESTinio uses.
/// Thread safety: externally synchronized (one thread at a time; in practice one owner).
class node_client {
 public:
  /// `timeout` bounds connecting, each read and each write, so no call blocks forever.
  node_client(const endpoint& node, std::chrono::milliseconds timeout);
  ~node_client();
  node_client(const node_client&) = delete;
  node_client& operator=(const node_client&) = delete;

  http_reply get(const std::string& path);
  http_reply post(const std::string& path, const std::string& json_body);
  http_reply put(const std::string& path, const std::string& json_body);

 private:
  http_reply exchange(std::string_view method, const std::string& path, std::string_view body);
  bool connect_socket(std::string& error);
  bool usable_after_idle();
  void disconnect();

  endpoint node_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point last_used_;
  std::string request_;  // reused buffer of the request being sent
  std::vector<char> buffer_;
};

/// The value of an unlabelled counter or gauge in Prometheus text; nullopt when `text` has
/// no sample line for `name`.
std::optional<double> metric_value(const std::string& text, const std::string& name);

}  // namespace keel::sim
