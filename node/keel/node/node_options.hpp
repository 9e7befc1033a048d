#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace keel {

class app_flags;

/// A node's command line, the same for every app node_main runs (operations.md "Flags").
/// Plain values; filled once by parse_node_options before anything starts.
struct node_options {
  std::string node_id = "n1";
  uint16_t http_port = 8080;
  uint16_t cluster_port = 7001;
  std::string advertise_host = "127.0.0.1";
  std::string listen_host;  // the servers' bind address; empty: advertise_host
  /// The address the HTTP and cluster servers bind.
  const std::string& bind_host() const {
    return listen_host.empty() ? advertise_host : listen_host;
  }
  std::string data_dir = "./data";
  std::string etcd;
  std::string cluster_name = "keel";
  int replication_factor = 0;  // 0: the cluster's (2 for a new one)
  int min_insync = 1;
  std::chrono::milliseconds replica_timeout{std::chrono::seconds{1}};
  std::string api_keys_file;
  std::chrono::milliseconds request_timeout{std::chrono::seconds{5}};
  std::chrono::milliseconds slow_request{std::chrono::seconds{1}};
  std::string otlp_endpoint;  // empty: no span export
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{5}};
  size_t max_activations = 1'000'000;
  std::string sync = "batch";
  size_t max_inflight = 4096;
  size_t max_body = 1 << 20;
  // One core is left to the HTTP I/O threads and the store writer: on 2 cores a second
  // scheduler thread cost ~10 % of throughput in work stealing and wake-ups
  // (docs/benchmarks.md).
  size_t threads = std::max(2u, std::thread::hardware_concurrency()) - 1;
  // On 2 cores one I/O thread: two woke each other for every request (~2 context switches
  // per request each, against ~0.3 for one busy thread) and took the cores from the turns;
  // rideshare-sim ran ~13 % more rides/s with one. A request that is one tiny turn (a
  // counter Increment) does better with two, as its HTTP work is most of the work
  // (docs/benchmarks.md).
  size_t http_threads = std::thread::hardware_concurrency() <= 2 ? 1 : 2;
  std::chrono::milliseconds lease_ttl{std::chrono::seconds{2}};
  std::string rate_limit = "off";
  std::string auth_failure_limit = "10/m,burst=20";
  size_t max_connections = 10000;
  size_t max_connections_per_client = 0;  // 0: no cap ("off")
  bool test_actors = false;
  std::chrono::milliseconds leave_timeout{std::chrono::minutes{1}};
  std::chrono::milliseconds test_handoff_delay{0};
  std::string log_level = "info";
  std::string log_format = "text";
  // TLS (operations.md "TLS"); every file is PEM, and an empty name means no TLS there.
  std::string tls_cert;  // the HTTP API's certificate chain; with tls_key, HTTPS on http_port
  std::string tls_key;
  int http_plaintext_port = -1;  // with TLS: plaintext HTTP on this port too; -1: none
  std::string etcd_ca;           // etcd over TLS, trusting this CA
  std::string etcd_cert;         // the client certificate etcd checks, with etcd_key
  std::string etcd_key;
  std::string cluster_tls_cert;  // mutual TLS between nodes: all three or none
  std::string cluster_tls_key;
  std::string cluster_tls_ca;
};

/// Parses argv and KEEL_* environment variables (the command line wins) into `out` and
/// into the app's own flags, which `declare_app_flags` declares (it may be called more
/// than once). Returns the exit code to use when the process should stop now (help
/// printed: 0; bad flag: 2, with the flag named on stderr, prefixed by the program's
/// name), or -1 to run.
int parse_node_options(int argc, char** argv, node_options& out,
                       const std::function<void(app_flags&)>& declare_app_flags = {});

/// The program's name as errors name it: argv[0] without its directory.
std::string program_name(const char* argv0);

}  // namespace keel
