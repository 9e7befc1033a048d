#pragma once

#include <memory>
#include <optional>
#include <string>

#include "keel/test/raw_http.hpp"

namespace keel::test {

/// One TLS connection (TLS 1.2 or newer) to 127.0.0.1:`port`, checking the server's
/// certificate against the CA in `ca` and its address, and showing `cert`/`key` when
/// given: for tests that must know every request went over the same connection.
/// Thread safety: none; one thread uses a connection.
class tls_connection {
 public:
  /// Connects and completes the handshake; throws std::runtime_error with OpenSSL's
  /// reason if either fails.
  tls_connection(int port, const std::string& ca, const std::string& cert = {},
                 const std::string& key = {});
  ~tls_connection();
  tls_connection(const tls_connection&) = delete;
  tls_connection& operator=(const tls_connection&) = delete;

  /// Sends `request` whole and reads the one response to it; nullopt if the connection
  /// ends (or breaks) first.
  std::optional<raw_response> exchange(const std::string& request);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace keel::test
