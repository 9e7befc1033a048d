#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "keel/node/node_app.hpp"
#include "keel/node/node_options.hpp"

namespace caf {
class actor_system;
class actor_system_config;
}  // namespace caf

namespace spdlog {
class logger;
}

namespace keel {
class monotonic_clock;
class state_store;
class wall_clock;
namespace http {
class api_key_table;
class connection_table;
class gateway;
class recent_requests;
class server;
}  // namespace http
namespace cluster {
class cluster_directory;
class membership;
}  // namespace cluster
namespace otlp {
class otlp_exporter;
}  // namespace otlp
}  // namespace keel

namespace keel::detail {

/// One node's life, in the order node_main runs it: open the store, start the runtime,
/// add the routes, serve (and join the cluster), wait for a stop, stop gracefully. Owns
/// every part and tears them down in reverse.
/// Thread safety: call from node_main's thread only.
class node_host {
 public:
  /// REQUIRES: `opts` and `app` outlive this object.
  node_host(const node_options& opts, node_app& app, std::string program);
  ~node_host();
  node_host(const node_host&) = delete;
  node_host& operator=(const node_host&) = delete;

  /// Starts the node, serves until a stop signal or a completed drain, stops it. Returns
  /// the process's exit code.
  int run(const sigset_t& stop_signals);

 private:
  /// Prints `program: why` on stderr; returns the exit code 1.
  int fail(const std::string& why);
  /// The ports are free, the data dir exists, the store and the API keys are read and,
  /// with --etcd, the data belongs to this node; or the exit code.
  std::optional<int> open_store();
  std::optional<int> start_runtime();
  void add_routes();
  /// The HTTP server (HTTPS with --tls-cert, and then plaintext too with
  /// --http-plaintext-port); or the exit code.
  std::optional<int> start_http();
  /// The HTTP server, then with --etcd the cluster port and the join; prints `listening`.
  std::optional<int> serve();
  void wait_for_stop(const sigset_t& stop_signals);
  void stop();
  void reload_api_keys();

  const node_options& opts_;
  node_app& app_;
  std::string program_;
  std::shared_ptr<spdlog::logger> log_;
  // The node's clocks, one of each: the runtime, the gateway and the cluster all read these.
  const std::shared_ptr<monotonic_clock> monotonic_;
  const std::shared_ptr<wall_clock> wall_;
  std::unique_ptr<state_store> store_;
  std::shared_ptr<const http::api_key_table> api_keys_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<cluster::membership> members_;
  std::unique_ptr<node_runtime> runtime_;
  // With --otlp-endpoint: sends the spans the runtime's turns leave; stopped after it.
  std::unique_ptr<otlp::otlp_exporter> exporter_;
  // The slow and failed requests the gateway answered; outlives it.
  std::unique_ptr<http::recent_requests> recent_;
  std::unique_ptr<http::gateway> gateway_;
  std::shared_ptr<http::connection_table> connections_;
  std::shared_ptr<std::atomic<uint16_t>> http_port_;
  // Before the routes, which report its links; it routes nothing until serve() sets it.
  std::unique_ptr<cluster::cluster_directory> directory_;
  std::unique_ptr<http::server> server_;            // HTTPS with --tls-cert, else plaintext
  std::unique_ptr<http::server> plaintext_server_;  // with --http-plaintext-port only
};

}  // namespace keel::detail
