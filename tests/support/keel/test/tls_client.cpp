#include "keel/test/tls_client.hpp"

#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace keel::test {

struct tls_connection::state {
  SSL_CTX* ctx = nullptr;
  BIO* bio = nullptr;
  std::string buffer;
  ~state() {
    if (bio) BIO_free_all(bio);
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

[[noreturn]] void fail(const std::string& what) {
  auto code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  throw std::runtime_error(what + ": " + (reason ? reason : "connection closed"));
}

}  // namespace

tls_connection::tls_connection(int port, const std::string& ca, const std::string& cert,
                               const std::string& key)
    : state_(std::make_unique<state>()) {
  auto& s = *state_;
  s.ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(s.ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(s.ctx, ca.c_str(), nullptr) != 1) fail("loading CA " + ca);
  SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER, nullptr);
  if (!cert.empty() && (SSL_CTX_use_certificate_chain_file(s.ctx, cert.c_str()) != 1 ||
                        SSL_CTX_use_PrivateKey_file(s.ctx, key.c_str(), SSL_FILETYPE_PEM) != 1))
    fail("loading client certificate " + cert);
  s.bio = BIO_new_ssl_connect(s.ctx);
  SSL* ssl = nullptr;
  BIO_get_ssl(s.bio, &ssl);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  auto address = "127.0.0.1:" + std::to_string(port);
  BIO_set_conn_hostname(s.bio, address.c_str());
  if (BIO_do_connect(s.bio) <= 0 || BIO_do_handshake(s.bio) <= 0)
    fail("TLS handshake with " + address);
}

tls_connection::~tls_connection() = default;

std::optional<raw_response> tls_connection::exchange(const std::string& request) {
  auto& s = *state_;
  for (size_t sent = 0; sent < request.size();) {
    int n = BIO_write(s.bio, request.data() + sent, static_cast<int>(request.size() - sent));
    if (n <= 0) return std::nullopt;
    sent += static_cast<size_t>(n);
  }
  return read_response_from(s.buffer, false, [&s] {
    char chunk[4096];
    int n = BIO_read(s.bio, chunk, sizeof chunk);
    if (n <= 0) return false;
    s.buffer.append(chunk, static_cast<size_t>(n));
    return true;
  });
}

}  // namespace keel::test
