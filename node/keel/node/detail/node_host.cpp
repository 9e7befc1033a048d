#include "keel/node/detail/node_host.hpp"

#include <filesystem>
#include <iostream>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/cluster_event_log.hpp"
#include "keel/cluster/cluster_routes.hpp"
#include "keel/cluster/data_identity.hpp"
#include "keel/cluster/graceful_leave.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/partition_key_claims.hpp"
#include "keel/cluster/ssl_error_queue.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/otlp/otlp_exporter.hpp"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/http/connection_table.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/http_server.hpp"
#include "keel/runtime/http/openapi.hpp"
#include "keel/runtime/http/recent_requests.hpp"
#include "keel/runtime/http/runtime_routes.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/partition_key_records.hpp"
#include "keel/runtime/scheduler_config.hpp"

namespace keel::detail {

namespace {

// Spans a node keeps between two exports (100 ms apart): ~80 k turns/s before any drops,
// ~2 MB per batch, of which two exist (turns fill one while the other is sent).
constexpr size_t span_batch = 8192;
// Cluster events the node keeps for GET /v1/cluster/events: a rebalance is a few (its
// moves count as one per pair of nodes and second), so this spans many changes.
constexpr size_t cluster_events_kept = 256;
// Slow requests, and failed ones, the node keeps for the dashboard: a page's worth of each.
constexpr size_t recent_requests_kept = 32;

}  // namespace

node_host::node_host(const node_options& opts, node_app& app, std::string program)
    : opts_(opts),
      app_(app),
      program_(std::move(program)),
      log_(app.log()),
      monotonic_(std::make_shared<monotonic_clock>()),
      wall_(make_system_clock()) {}

node_host::~node_host() = default;

int node_host::fail(const std::string& why) {
  std::cerr << program_ << ": " << why << "\n";
  return 1;
}

std::optional<int> node_host::open_store() {
  // A port already taken is found before the data dir is opened and its reminders loaded.
  auto port_check = http::check_can_listen(opts_.bind_host(), opts_.http_port);
  if (!port_check && opts_.http_plaintext_port > 0)
    port_check =
        http::check_can_listen(opts_.bind_host(), static_cast<uint16_t>(opts_.http_plaintext_port));
  if (!port_check && !opts_.etcd.empty())
    port_check = http::check_can_listen(opts_.bind_host(), opts_.cluster_port);
  if (port_check) return fail(message_of(port_check));
  std::error_code ec;
  std::filesystem::create_directories(opts_.data_dir, ec);
  if (ec) return fail("cannot create --data-dir " + opts_.data_dir + ": " + ec.message());
  auto store = open_leveldb_store({opts_.data_dir, opts_.sync == "batch"});
  if (!store) return fail(message_of(store.error()));
  store_ = std::move(*store);
  if (!opts_.api_keys_file.empty()) {
    auto keys = http::api_key_table::read_file(opts_.api_keys_file);
    if (!keys) return fail(message_of(keys.error()));
    api_keys_ = std::make_shared<const http::api_key_table>(std::move(*keys));
  }
  if (opts_.etcd.empty()) return std::nullopt;
  // A cluster member is fenced (no turn, no commit) until it has registered, and whenever
  // its membership may have lapsed.
  cluster::membership_options mopts;
  mopts.etcd = opts_.etcd;
  mopts.etcd_tls = {opts_.etcd_ca, {opts_.etcd_cert, opts_.etcd_key}};
  mopts.transport_tls = {{opts_.cluster_tls_cert, opts_.cluster_tls_key}, opts_.cluster_tls_ca};
  // Without the guard one TLS session's error fails the others (ssl_error_queue.hpp).
  if (mopts.transport_tls.enabled() && !cluster::ssl_error_queue_guarded())
    return fail("this keel-node's calls to SSL_read and SSL_write do not reach Keel's guard");
  mopts.cluster_name = opts_.cluster_name;
  mopts.node_id = opts_.node_id;
  mopts.lease_ttl = std::chrono::ceil<std::chrono::seconds>(opts_.lease_ttl);
  mopts.clock = monotonic_;
  mopts.wall = wall_;
  mopts.replication_factor = static_cast<size_t>(opts_.replication_factor);
  mopts.min_insync = static_cast<size_t>(opts_.min_insync);
  mopts.replica_timeout = opts_.replica_timeout;
  mopts.events = std::make_shared<cluster::cluster_event_log>(cluster_events_kept, wall_);
  if (auto err = cluster::claim_data(*store_, mopts)) return fail(message_of(err));
  members_ = std::make_shared<cluster::membership>(mopts, log_);
  return std::nullopt;
}

std::optional<int> node_host::start_runtime() {
  if (opts_.test_actors) register_test_actors(app_.types());
  // Wiring mistakes first: a partition key refused there must not be recorded as "id".
  if (auto wiring = app_.types().check()) return fail(message_of(wiring));
  // The data dir's records first, writing nothing: a node it refuses must not have
  // recorded its partition keys in etcd.
  if (auto placed = check_partition_keys(*store_, app_.types(), false))
    return fail(message_of(placed));
  if (members_)
    if (auto err = cluster::claim_partition_keys(members_->options(), app_.types()))
      return fail(message_of(err));
  cfg_ = std::make_unique<caf::actor_system_config>();
  configure_scheduler(*cfg_, opts_.threads);
  if (members_) cluster::configure_cluster_transport(*cfg_, members_->options().transport_tls);
  sys_ = std::make_unique<caf::actor_system>(*cfg_);
  runtime_options ropts;
  ropts.node_id = opts_.node_id;
  ropts.fence = members_;
  ropts.idle_timeout = opts_.idle_timeout;
  ropts.max_activations = opts_.max_activations;
  ropts.default_timeout = opts_.request_timeout;
  ropts.slow_request = opts_.slow_request;
  ropts.monotonic = monotonic_;
  if (!opts_.otlp_endpoint.empty()) ropts.spans = std::make_shared<span_buffer>(span_batch);
  auto runtime = node_runtime::start(*sys_, app_.types(), std::move(store_), wall_, ropts);
  if (!runtime) return fail(message_of(runtime.error()));
  runtime_ = std::move(*runtime);
  if (ropts.spans) {
    otlp::exporter_options eopts;
    eopts.endpoint = *otlp::parse_endpoint(opts_.otlp_endpoint);  // checked by the parser
    eopts.source = {opts_.node_id, opts_.cluster_name};
    log_->info("exporting turn spans to {}{}", eopts.endpoint.scheme_host_port,
               eopts.endpoint.path);
    exporter_ = std::make_unique<otlp::otlp_exporter>(ropts.spans, std::move(eopts), log_);
  }
  return std::nullopt;
}

void node_host::add_routes() {
  // Validated by the command line parser already.
  auto limit = http::parse_rate_limit(opts_.rate_limit);
  auto auth_limit = http::parse_rate_limit(opts_.auth_failure_limit);
  recent_ = std::make_unique<http::recent_requests>(
      http::recent_requests::options{opts_.slow_request, recent_requests_kept, wall_});
  http::gateway_options gopts{opts_.max_body,
                              opts_.max_inflight,
                              opts_.request_timeout,
                              api_keys_,
                              limit ? *limit : std::nullopt,
                              auth_limit ? *auth_limit : std::nullopt,
                              runtime_->options().monotonic,
                              &runtime_->stats(),
                              recent_.get()};
  gateway_ = std::make_unique<http::gateway>(std::move(gopts));
  connections_ = std::make_shared<http::connection_table>(
      http::connection_limits{opts_.max_connections, opts_.max_connections_per_client});
  gateway_->add_metrics_source([c = connections_](std::string& out) { c->render_metrics(out); });
  if (exporter_)
    gateway_->add_metrics_source(
        [e = exporter_.get()](std::string& out) { e->render_metrics(out); });
  http::add_runtime_routes(*gateway_, *runtime_);
  http::add_recent_requests_route(*gateway_, *recent_, opts_.node_id);
  for (const auto& routes : app_.routes()) routes(*gateway_, *runtime_);
  http_port_ = std::make_shared<std::atomic<uint16_t>>(opts_.http_port);
  if (members_) {
    std::function<void(uint32_t)> before_ingest;
    if (auto delay = opts_.test_handoff_delay; delay.count() > 0)
      before_ingest = [delay, log = log_](uint32_t p) {
        log->warn("handoff: test hook: pausing {} ms before ingesting partition {}", delay.count(),
                  p);
        std::this_thread::sleep_for(delay);
      };
    directory_ = std::make_unique<cluster::cluster_directory>(*members_, *runtime_, *sys_, log_,
                                                              std::move(before_ingest));
    gateway_->add_metrics_source(
        [d = directory_.get()](std::string& out) { d->render_metrics(out); });
  }
  cluster::register_cluster_routes(
      *gateway_, *runtime_, members_.get(), directory_.get(),
      {opts_.node_id, opts_.cluster_name, opts_.advertise_host, http_port_});
  http::add_openapi_route(*gateway_);  // last: it describes every route added before it
}

std::optional<int> node_host::start_http() {
  http::server_options sopts;
  sopts.host = opts_.bind_host();
  sopts.port = opts_.http_port;
  sopts.threads = opts_.http_threads;
  sopts.hard_body_cap = std::max<size_t>(opts_.max_body * 4, 16 << 20);
  sopts.connections = connections_;
  if (!opts_.tls_cert.empty()) sopts.tls = tls_identity{opts_.tls_cert, opts_.tls_key};
  auto handler = [gw = gateway_.get()](http::request req, http::responder respond) {
    gw->handle(std::move(req), std::move(respond));
  };
  auto server = http::start_server(sopts, handler);
  if (!server) return fail(message_of(server.error()));
  server_ = std::move(*server);
  http_port_->store(server_->port());
  if (opts_.http_plaintext_port < 0) return std::nullopt;
  // The same gateway and connection table: one set of routes, limits and metrics.
  sopts.tls.reset();
  sopts.port = static_cast<uint16_t>(opts_.http_plaintext_port);
  auto plaintext = http::start_server(sopts, std::move(handler));
  if (!plaintext) return fail("--http-plaintext-port: " + message_of(plaintext.error()));
  plaintext_server_ = std::move(*plaintext);
  return std::nullopt;
}

std::optional<int> node_host::serve() {
  if (auto rc = start_http()) return rc;
  auto http_address = opts_.advertise_host + ":" + std::to_string(server_->port());
  // `https=` names the TLS port, `http=` a plaintext one: scripts find the port they speak.
  std::string listening = "http=" + http_address;
  if (!opts_.tls_cert.empty()) {
    listening = "https=" + http_address;
    if (plaintext_server_)
      listening +=
          " http=" + opts_.advertise_host + ":" + std::to_string(plaintext_server_->port());
  }
  std::string cluster_address = "none";
  if (members_) {
    auto cluster_port = directory_->publish(opts_.bind_host(), opts_.cluster_port);
    if (!cluster_port)
      return fail("cannot open --cluster-port " + std::to_string(opts_.cluster_port) + ": " +
                  message_of(cluster_port.error()));
    cluster_address = opts_.advertise_host + ":" + std::to_string(*cluster_port);
    runtime_->set_directory(directory_.get());
    if (auto err = members_->join(http_address, cluster_address))
      return fail("cannot join cluster '" + opts_.cluster_name + "' at etcd " + opts_.etcd + ": " +
                  message_of(err));
    log_->info("node {} joined cluster '{}' through etcd {}", opts_.node_id, opts_.cluster_name,
               opts_.etcd);
    if (members_->is_draining(opts_.node_id))
      log_->warn(
          "this node was being drained when it stopped: the drain resumes, and the node "
          "leaves once its partitions moved (withdraw it with keelctl undrain {})",
          opts_.node_id);
  }
  // stdout carries only this line, which scripts wait for.
  std::cout << program_ << " listening " << listening << " cluster=" << cluster_address
            << std::endl;
  log_->info("node {} serving, data in {}, sync={}", opts_.node_id, opts_.data_dir, opts_.sync);
  return std::nullopt;
}

// SIGHUP: the keys file again, without a restart; a bad file keeps the keys in use.
void node_host::reload_api_keys() {
  if (opts_.api_keys_file.empty()) return log_->info("SIGHUP: no --api-keys-file to read again");
  if (auto err = gateway_->reload_api_keys(opts_.api_keys_file))
    return log_->error("SIGHUP: kept the API keys in use: {}", message_of(err));
  log_->info("SIGHUP: API keys read again from {}", opts_.api_keys_file);
}

// A stop signal ends the node; so does a drain of this node once its partitions moved.
void node_host::wait_for_stop(const sigset_t& stop_signals) {
  std::optional<cluster::graceful_leave> leaving;
  if (members_) leaving.emplace(*members_, *directory_, *monotonic_, log_);
  int sig = 0;
  while (sig <= 0) {
    timespec poll{0, 100'000'000};
    sig = sigtimedwait(&stop_signals, nullptr, &poll);
    if (sig == SIGHUP) {
      reload_api_keys();
      sig = 0;
      continue;
    }
    if (sig <= 0 && leaving && leaving->drained()) {
      log_->info("drained: this node owns no partition any more; leaving the cluster");
      return;
    }
  }
  log_->info("signal {}: leaving", sig);
  if (leaving) leaving->move_partitions_away(opts_.leave_timeout);
}

// Graceful: refuse new work, let requests in flight finish (bounded by their deadline).
void node_host::stop() {
  if (gateway_) {
    gateway_->begin_drain();
    // steady_clock, not monotonic_: a real wait, and the condition variable waits on it.
    gateway_->wait_until_idle(std::chrono::steady_clock::now() + opts_.request_timeout +
                              std::chrono::seconds{1});
  }
  if (plaintext_server_) plaintext_server_->stop();
  if (server_) server_->stop();
  log_->info("http stopped");
  // The directory stays set while the runtime stops: without it a late tell from a
  // stopping turn would be delivered here even if another node owns its partition.
  if (directory_) directory_->stop();
  if (runtime_) runtime_->stop();
  log_->info("runtime stopped");
  if (exporter_) exporter_->stop();  // after the last turn: its span goes too
  if (members_) members_->leave();   // after the drain: what was acknowledged is committed
}

int node_host::run(const sigset_t& stop_signals) {
  if (auto rc = open_store()) return *rc;
  if (auto rc = start_runtime()) return *rc;
  add_routes();
  if (auto rc = serve()) {
    if (directory_) directory_->stop();
    if (plaintext_server_) plaintext_server_->stop();
    if (server_) server_->stop();
    runtime_->stop();
    return *rc;
  }
  wait_for_stop(stop_signals);
  stop();
  log_->info("stopped");
  return 0;
}

}  // namespace keel::detail
