#include "keel/runtime/tls_files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <caf/expected.hpp>

#include "keel/runtime/errc.hpp"

namespace keel {

namespace {

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

caf::error bad(std::string message) {
  return make_error(errc::bad_payload, std::move(message));
}

// OpenSSL's reason for the last failure, emptying its error queue.
std::string openssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "no PEM block found";
}

caf::expected<file_ptr> open_file(const std::string& path, const char* what) {
  file_ptr f{std::fopen(path.c_str(), "r")};
  if (!f) return bad(std::string{"cannot read "} + what + " " + path + ": " + std::strerror(errno));
  return f;
}

caf::expected<x509_ptr> read_certificate(const std::string& path, const char* what,
                                         std::time_t now) {
  auto file = open_file(path, what);
  if (!file) return std::move(file.error());
  x509_ptr cert{PEM_read_X509(file->get(), nullptr, nullptr, nullptr), X509_free};
  if (!cert)
    return bad(path + " holds no PEM " + what + " (" + openssl_reason() +
               "): expected -----BEGIN CERTIFICATE-----");
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &now) < 0)
    return bad(std::string{what} + " " + path + " has expired");
  if (X509_cmp_time(X509_get0_notBefore(cert.get()), &now) > 0)
    return bad(std::string{what} + " " + path + " is not valid yet");
  return cert;
}

}  // namespace

caf::error check_tls_identity(const tls_identity& id, std::time_t now) {
  auto cert = read_certificate(id.cert, "certificate", now);
  if (!cert) return std::move(cert.error());
  auto file = open_file(id.key, "private key");
  if (!file) return std::move(file.error());
  key_ptr key{PEM_read_PrivateKey(file->get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
  if (!key)
    return bad(id.key + " holds no PEM private key (" + openssl_reason() +
               "; an encrypted key is not supported)");
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return bad("private key " + id.key + " does not belong to certificate " + id.cert);
  }
  return {};
}

caf::error check_tls_ca(const std::string& ca, std::time_t now) {
  auto cert = read_certificate(ca, "CA certificate", now);
  return cert ? caf::error{} : std::move(cert.error());
}

caf::error check_signed_by(std::string_view cert, std::string_view cas) {
  using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
  using store_ptr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;
  using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;
  bio_ptr cert_bio{BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size())), BIO_free};
  x509_ptr leaf{PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free};
  if (!leaf) return bad("no PEM certificate to check (" + openssl_reason() + ")");
  store_ptr store{X509_STORE_new(), X509_STORE_free};
  bio_ptr ca_bio{BIO_new_mem_buf(cas.data(), static_cast<int>(cas.size())), BIO_free};
  int loaded = 0;
  while (x509_ptr ca{PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr), X509_free}) {
    X509_STORE_add_cert(store.get(), ca.get());
    ++loaded;
  }
  ERR_clear_error();  // the read that ended the loop
  if (loaded == 0) return bad("no PEM CA certificate to check against");
  store_ctx_ptr ctx{X509_STORE_CTX_new(), X509_STORE_CTX_free};
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) == 1) return {};
  auto why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  ERR_clear_error();
  return bad(std::string{"not signed by that CA ("} + why + ")");
}

caf::expected<std::string> read_pem_file(const std::string& path) {
  auto file = open_file(path, "file");
  if (!file) return std::move(file.error());
  std::string text;
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, file->get())) > 0;) text.append(chunk, n);
  return text;
}

}  // namespace keel
