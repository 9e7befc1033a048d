#pragma once

#include <string>

#include "keel/runtime/tls_files.hpp"

namespace keel::cluster {

/// How a node reaches etcd over TLS (operations.md "TLS"): HTTPS to etcd's client port,
/// checking etcd's certificate against `ca` (the system's CAs when empty) and its host
/// name against the endpoint's, and showing `client` when etcd asks for a client
/// certificate. Plaintext when neither is given. Plain value.
struct etcd_tls {
  std::string ca;
  tls_identity client;  // empty names: no client certificate
  bool enabled() const noexcept { return !ca.empty() || !client.cert.empty(); }
};

}  // namespace keel::cluster
