#include "keel/node/detail/tls_flags.hpp"

#include <CLI/CLI.hpp>

#include "keel/node/detail/flag_parsing.hpp"
#include "keel/node/node_options.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/tls_files.hpp"

namespace keel::detail {

void add_tls_flags(CLI::App& app, node_options& o, bool read_environment) {
  auto env = [read_environment](CLI::Option* opt) { return with_env(opt, read_environment); };
  env(app.add_option("--tls-cert", o.tls_cert,
                     "serve the HTTP API over TLS with this PEM certificate (chain); needs "
                     "--tls-key; plaintext is then off unless --http-plaintext-port"));
  env(app.add_option("--tls-key", o.tls_key, "the PEM private key of --tls-cert"));
  env(app.add_option("--http-plaintext-port", o.http_plaintext_port,
                     "with --tls-cert: serve plaintext HTTP on this port too (same routes); 0 "
                     "picks a free one")
          ->check(CLI::Range(0, 65535)));
  env(app.add_option("--etcd-ca", o.etcd_ca,
                     "reach etcd over TLS, trusting the CA in this PEM file (default with "
                     "--etcd-cert: the system's CAs)"));
  env(app.add_option("--etcd-cert", o.etcd_cert,
                     "the PEM client certificate this node shows etcd; needs --etcd-key"));
  env(app.add_option("--etcd-key", o.etcd_key, "the PEM private key of --etcd-cert"));
  env(app.add_option("--cluster-tls-cert", o.cluster_tls_cert,
                     "mutual TLS between nodes: this node's PEM certificate, signed by "
                     "--cluster-tls-ca; needs --cluster-tls-key and --cluster-tls-ca"));
  env(app.add_option("--cluster-tls-key", o.cluster_tls_key,
                     "the PEM private key of --cluster-tls-cert"));
  env(app.add_option("--cluster-tls-ca", o.cluster_tls_ca,
                     "the PEM CA every node's --cluster-tls-cert must be signed by"));
}

namespace {

// Why a certificate and its key cannot be used, naming both flags; empty if they can.
std::string check_identity(const std::string& cert_flag, const std::string& cert,
                           const std::string& key_flag, const std::string& key, std::time_t now) {
  if (cert.empty() != key.empty())
    return cert.empty() ? key_flag + " needs " + cert_flag : cert_flag + " needs " + key_flag;
  if (cert.empty()) return {};
  auto err = check_tls_identity({cert, key}, now);
  return err ? cert_flag + "/" + key_flag + ": " + message_of(err) : std::string{};
}

std::string check_ca(const std::string& flag, const std::string& ca, std::time_t now) {
  if (ca.empty()) return {};
  auto err = check_tls_ca(ca, now);
  return err ? flag + ": " + message_of(err) : std::string{};
}

std::string check_http(const node_options& o, std::time_t now) {
  if (auto why = check_identity("--tls-cert", o.tls_cert, "--tls-key", o.tls_key, now);
      !why.empty())
    return why;
  if (o.http_plaintext_port < 0) return {};
  if (o.tls_cert.empty())
    return "--http-plaintext-port needs --tls-cert: without TLS, --http-port serves plaintext";
  if (o.http_plaintext_port != 0 && o.http_plaintext_port == o.http_port)
    return "--http-plaintext-port=" + std::to_string(o.http_plaintext_port) +
           " is --http-port, which serves TLS";
  return {};
}

std::string check_etcd(const node_options& o, std::time_t now) {
  bool any = !o.etcd_ca.empty() || !o.etcd_cert.empty() || !o.etcd_key.empty();
  if (any && o.etcd.empty()) return "--etcd-ca, --etcd-cert and --etcd-key need --etcd";
  if (auto why = check_identity("--etcd-cert", o.etcd_cert, "--etcd-key", o.etcd_key, now);
      !why.empty())
    return why;
  return check_ca("--etcd-ca", o.etcd_ca, now);
}

std::string check_cluster(const node_options& o, std::time_t now) {
  int given = !o.cluster_tls_cert.empty() + !o.cluster_tls_key.empty() + !o.cluster_tls_ca.empty();
  if (given == 0) return {};
  if (o.etcd.empty())
    return "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca need --etcd";
  if (given != 3)
    return "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together: a node "
           "proves itself and checks its peers with all three";
  if (auto why = check_identity("--cluster-tls-cert", o.cluster_tls_cert, "--cluster-tls-key",
                                o.cluster_tls_key, now);
      !why.empty())
    return why;
  return check_ca("--cluster-tls-ca", o.cluster_tls_ca, now);
}

}  // namespace

std::string check_tls_flags(const node_options& o, std::time_t now) {
  for (auto check : {check_http, check_etcd, check_cluster})
    if (auto why = check(o, now); !why.empty()) return why;
  return {};
}

}  // namespace keel::detail
