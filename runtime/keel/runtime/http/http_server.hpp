#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "keel/runtime/http/http_types.hpp"
#include "keel/runtime/tls_files.hpp"

namespace keel::http {

class connection_table;

/// Limits the HTTP library enforces before a request reaches Keel. A body over
/// `max_body` still reaches the gateway (which answers 413) up to `hard_body_cap`; beyond
/// that the library drops the connection, because it reads whole bodies into memory.
struct server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port
  size_t threads = 2;
  size_t hard_body_cap = 16 << 20;
  size_t max_connections = 10000;  // used when `connections` is not given
  /// The open connections and their limits (shared so that /metrics can read it).
  std::shared_ptr<connection_table> connections;
  std::chrono::milliseconds read_timeout{std::chrono::seconds{30}};
  std::chrono::milliseconds handle_timeout{std::chrono::seconds{60}};
  /// Serve HTTPS (TLS 1.2 or newer, HTTP/1.1 with keep-alive) with this certificate and
  /// key; none: plaintext. A TLS handshake is bounded by `read_timeout`.
  std::optional<tls_identity> tls;
};

/// A running HTTP server. The library stays behind this interface (and one .cpp file):
/// it is heavy to compile and may be replaced.
/// Thread safety: thread-safe.
class server {
 public:
  virtual ~server() = default;
  /// The bound port (the real one when started with port 0).
  virtual uint16_t port() const noexcept = 0;
  /// Stops accepting and closes connections; returns when the I/O threads have ended.
  virtual void stop() = 0;
};

/// Whether `host`:`port` can be bound now (a probe, closed at once), so that a node finds
/// its port taken before it opens its data dir; errc::unavailable naming the reason if not.
/// Port 0 always can.
[[nodiscard]] caf::error check_can_listen(const std::string& host, uint16_t port);

/// Starts a RESTinio server calling `handler` on its I/O threads; fails with
/// errc::unavailable if the port cannot be bound, errc::bad_payload if the TLS certificate
/// or key cannot be used.
caf::expected<std::unique_ptr<server>> start_server(const server_options& opts,
                                                    request_handler handler);

}  // namespace keel::http
