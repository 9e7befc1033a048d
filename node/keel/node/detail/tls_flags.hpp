#pragma once

#include <ctime>
#include <string>

namespace CLI {
class App;
}

namespace keel {
struct node_options;
}

namespace keel::detail {

/// Declares the TLS flags into `o`: the HTTP API's (--tls-cert, --tls-key,
/// --http-plaintext-port), etcd's (--etcd-ca, --etcd-cert, --etcd-key) and the cluster
/// transport's (--cluster-tls-cert, --cluster-tls-key, --cluster-tls-ca); each reads its
/// KEEL_* variable when `read_environment`.
void add_tls_flags(CLI::App& app, node_options& o, bool read_environment);

/// Checks the TLS flags together (pairs given together, each only where it means
/// something) and then their files, as a handshake would find them at `now`. Returns why
/// they cannot be used, naming the flag and the file; empty if they can.
std::string check_tls_flags(const node_options& o, std::time_t now);

}  // namespace keel::detail
