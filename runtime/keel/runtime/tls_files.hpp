#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace keel {

/// A certificate (PEM, the leaf first, then any intermediates) and its private key (PEM),
/// as the HTTP server, the etcd client and the cluster transport take them. Plain value.
struct tls_identity {
  std::string cert;
  std::string key;
};

/// Checks what a TLS server or client would find only at its first handshake: that
/// `id.cert` is a readable PEM certificate valid at `now` (not expired, not yet valid), that
/// `id.key` is a readable PEM private key, and that the key belongs to the certificate.
/// Returns errc::bad_payload naming the file and what is wrong with it, or no error.
/// `now` is a parameter because runtime/ reads no wall clock: the caller's is used.
[[nodiscard]] caf::error check_tls_identity(const tls_identity& id, std::time_t now);

/// Checks that `ca` is a readable PEM file whose first certificate is valid at `now`: the
/// certificate authority peers' certificates must be signed by. errc::bad_payload if not.
[[nodiscard]] caf::error check_tls_ca(const std::string& ca, std::time_t now);

/// Checks that the first certificate in the PEM text `cert` is signed by a CA certificate
/// in the PEM text `cas` (a chain of trust; validity dates are not checked here, the
/// functions above check them against the caller's clock). errc::bad_payload if not, or if
/// either text holds no certificate.
[[nodiscard]] caf::error check_signed_by(std::string_view cert, std::string_view cas);

/// The whole content of the file at `path`; errc::bad_payload naming it if unreadable.
[[nodiscard]] caf::expected<std::string> read_pem_file(const std::string& path);

}  // namespace keel
