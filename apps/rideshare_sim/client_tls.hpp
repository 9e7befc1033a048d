#pragma once

#include <memory>
#include <optional>
#include <string>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace asio::ssl {
class context;
}

namespace keel::sim {

/// TLS for the sim's connections to nodes given as `https://host:port`: one OpenSSL client
/// context that checks each node's certificate against the CA given (`--ca`; the system's
/// CAs without one) and, for each connection, the certificate's names against the host the
/// node was given by (a DNS name or an IP address), as keelctl does.
/// Thread safety: made once in main before any connection, then only read; OpenSSL makes
/// connections from one context on any thread.
class client_tls {
 public:
  /// The context, or an error naming what could not be loaded.
  static std::shared_ptr<const client_tls> make(const std::string& ca_file, std::string& error);

  ~client_tls();
  client_tls(const client_tls&) = delete;
  client_tls& operator=(const client_tls&) = delete;

  asio::ssl::context& context() const { return *context_; }
  SSL_CTX* native() const;

 private:
  client_tls();
  std::unique_ptr<asio::ssl::context> context_;
};

/// Prepares a connection's `ssl` to `host` before its handshake: SNI for a name, and the
/// check of the peer's certificate against the name or IP address. False if OpenSSL
/// refused either.
bool expect_peer(SSL* ssl, const std::string& host);

/// Why the last TLS operation on this thread failed, from OpenSSL's error queue (cleared),
/// e.g. "TLS handshake: certificate verify failed"; `what` names the operation.
std::string tls_failure(const std::string& what);

/// The same for an operation on `ssl` that returned `result`: "Timeout" when a socket
/// timeout ended it, and why the peer's certificate was refused (the name, the expiry, the
/// CA) when that ended it. Requires: `ssl` is not null.
std::string tls_failure(const std::string& what, SSL* ssl, int result);

}  // namespace keel::sim
