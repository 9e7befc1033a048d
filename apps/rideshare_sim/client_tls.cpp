#include "client_tls.hpp"

#include <arpa/inet.h>

#include <cerrno>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <asio/ssl/context.hpp>

namespace keel::sim {

namespace {

bool is_ip_address(const std::string& host) {
  unsigned char bytes[16];
  return ::inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), bytes) == 1;
}

}  // namespace

client_tls::client_tls()
    : context_(std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client)) {}

client_tls::~client_tls() = default;

SSL_CTX* client_tls::native() const {
  return context_->native_handle();
}

std::shared_ptr<const client_tls> client_tls::make(const std::string& ca_file, std::string& error) {
  std::shared_ptr<client_tls> tls{new client_tls};
  auto* ctx = tls->native();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  if (ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) != 1
                      : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    error = tls_failure(ca_file.empty() ? "the system's CAs" : "--ca " + ca_file);
    return nullptr;
  }
  return tls;
}

bool expect_peer(SSL* ssl, const std::string& host) {
  if (is_ip_address(host))
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

std::string tls_failure(const std::string& what) {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return what + ": connection closed";
  if (const char* reason = ERR_reason_error_string(code);
      reason && ERR_GET_LIB(code) != ERR_LIB_SYS)
    return what + ": " + reason;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);  // names the system error too
  return what + ": " + text;
}

std::string tls_failure(const std::string& what, SSL* ssl, int result) {
  auto saved_errno = errno;
  auto kind = SSL_get_error(ssl, result);
  if (kind == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    ERR_clear_error();
    return "Timeout";
  }
  auto failure = tls_failure(what);
  if (auto verify = SSL_get_verify_result(ssl); verify != X509_V_OK)
    failure += std::string{" ("} + X509_verify_cert_error_string(verify) + ")";
  return failure;
}

}  // namespace keel::sim
