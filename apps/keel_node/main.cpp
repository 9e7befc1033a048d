// keel-node: wires one node — options, actor system, store, runtime, gateway — and waits
// for SIGTERM. Wiring only: every decision lives in runtime/, cluster/ and actors/.
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/cluster_routes.hpp"
#include "keel/cluster/data_identity.hpp"
#include "keel/cluster/graceful_leave.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/http/connection_table.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/http_server.hpp"
#include "keel/runtime/http/openapi.hpp"
#include "keel/runtime/http/runtime_routes.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "node_options.hpp"

namespace {

using namespace keel;

// SIGHUP: the keys file again, without a restart; a bad file keeps the keys in use.
void reload_api_keys(http::gateway& gw, const app::node_options& opts, spdlog::logger& log) {
  if (opts.api_keys_file.empty()) return log.info("SIGHUP: no --api-keys-file to read again");
  if (auto err = gw.reload_api_keys(opts.api_keys_file))
    return log.error("SIGHUP: kept the API keys in use: {}", message_of(err));
  log.info("SIGHUP: API keys read again from {}", opts.api_keys_file);
}

int run(const app::node_options& opts, const sigset_t& stop_signals) {
  // stdout carries only the `listening` line scripts wait for; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("node"));
  spdlog::set_level(spdlog::level::from_str(opts.log_level));
  auto log = spdlog::default_logger();

  // A port already taken is found before the data dir is opened and its reminders loaded.
  auto port_check = http::check_can_listen(opts.bind_host(), opts.http_port);
  if (!port_check && !opts.etcd.empty())
    port_check = http::check_can_listen(opts.bind_host(), opts.cluster_port);
  if (port_check) {
    std::cerr << "keel-node: " << message_of(port_check) << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(opts.data_dir, ec);
  if (ec) {
    std::cerr << "keel-node: cannot create --data-dir " << opts.data_dir << ": " << ec.message()
              << "\n";
    return 1;
  }
  auto store = open_leveldb_store({opts.data_dir, opts.sync == "batch"});
  if (!store) {
    std::cerr << "keel-node: " << message_of(store.error()) << "\n";
    return 1;
  }
  std::shared_ptr<const http::api_key_table> api_keys;
  if (!opts.api_keys_file.empty()) {
    auto keys = http::api_key_table::read_file(opts.api_keys_file);
    if (!keys) {
      std::cerr << "keel-node: " << message_of(keys.error()) << "\n";
      return 1;
    }
    api_keys = std::make_shared<const http::api_key_table>(std::move(*keys));
  }

  rideshare::rideshare_options ride_opts;
  ride_opts.payment_failure_rate = opts.payment_failure_rate;
  ride_opts.payment_latency = opts.payment_latency;
  ride_opts.search_timeout = opts.ride_search_timeout;
  ride_opts.accept_timeout = opts.ride_accept_timeout;
  type_registry types;
  register_counter(types);
  rideshare::register_rideshare(types, ride_opts);
  if (opts.test_actors) register_test_actors(types);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", opts.threads);
  if (!opts.etcd.empty()) cluster::configure_cluster_transport(cfg);
  caf::actor_system sys{cfg};
  // With --etcd the node is a cluster member: fenced (no turn, no commit) until it has
  // registered, and whenever its membership may have lapsed.
  std::shared_ptr<cluster::membership> members;
  if (!opts.etcd.empty()) {
    cluster::membership_options mopts;
    mopts.etcd = opts.etcd;
    mopts.cluster_name = opts.cluster_name;
    mopts.node_id = opts.node_id;
    mopts.lease_ttl = std::chrono::ceil<std::chrono::seconds>(opts.lease_ttl);
    if (auto err = cluster::claim_data(**store, mopts)) {
      std::cerr << "keel-node: " << message_of(err) << "\n";
      return 1;
    }
    members = std::make_shared<cluster::membership>(mopts, log);
  }
  {
    runtime_options ropts;
    ropts.node_id = opts.node_id;
    ropts.fence = members;
    ropts.idle_timeout = opts.idle_timeout;
    ropts.max_activations = opts.max_activations;
    ropts.default_timeout = opts.request_timeout;
    ropts.slow_request = opts.slow_request;
    auto runtime = node_runtime::start(sys, types, std::move(*store), make_system_clock(), ropts);
    if (!runtime) {
      std::cerr << "keel-node: " << message_of(runtime.error()) << "\n";
      return 1;
    }
    // Validated by the command line parser already.
    auto limit = http::parse_rate_limit(opts.rate_limit);
    auto auth_limit = http::parse_rate_limit(opts.auth_failure_limit);
    http::gateway gw{{opts.max_body, opts.max_inflight, opts.request_timeout, api_keys,
                      limit ? *limit : std::nullopt, auth_limit ? *auth_limit : std::nullopt}};
    auto connections = std::make_shared<http::connection_table>(
        http::connection_limits{opts.max_connections, opts.max_connections_per_client});
    gw.add_metrics_source([connections](std::string& out) { connections->render_metrics(out); });
    http::add_runtime_routes(gw, **runtime);
    rideshare::add_rideshare_routes(gw, **runtime, ride_opts);
    auto http_port = std::make_shared<std::atomic<uint16_t>>(opts.http_port);
    // Before the routes, which report its links; it routes nothing until set below.
    std::unique_ptr<cluster::cluster_directory> directory;
    if (members) {
      std::function<void(uint32_t)> before_ingest;
      if (auto delay = opts.test_handoff_delay; delay.count() > 0)
        before_ingest = [delay, log](uint32_t p) {
          log->warn("handoff: test hook: pausing {} ms before ingesting partition {}",
                    delay.count(), p);
          std::this_thread::sleep_for(delay);
        };
      directory = std::make_unique<cluster::cluster_directory>(*members, **runtime, sys, log,
                                                               std::move(before_ingest));
    }
    if (directory)
      gw.add_metrics_source([d = directory.get()](std::string& out) { d->render_metrics(out); });
    cluster::register_cluster_routes(
        gw, **runtime, members.get(), directory.get(),
        {opts.node_id, opts.cluster_name, opts.advertise_host, http_port});
    http::add_openapi_route(gw);  // last: it describes every route added before it
    http::server_options sopts;
    sopts.host = opts.bind_host();
    sopts.port = opts.http_port;
    sopts.threads = opts.http_threads;
    sopts.hard_body_cap = std::max<size_t>(opts.max_body * 4, 16 << 20);
    sopts.connections = connections;
    auto server = http::start_server(sopts, [&gw](http::request req, http::responder respond) {
      gw.handle(std::move(req), std::move(respond));
    });
    if (!server) {
      std::cerr << "keel-node: " << message_of(server.error()) << "\n";
      if (directory) directory->stop();
      (*runtime)->stop();
      return 1;
    }
    http_port->store((*server)->port());
    auto http_address = opts.advertise_host + ":" + std::to_string((*server)->port());
    std::string cluster_address = "none";
    if (members) {
      auto fail = [&](const std::string& what, const caf::error& err) {
        auto why = message_of(err);
        std::cerr << "keel-node: " << what << ": " << why << "\n";
        if (directory) directory->stop();
        (*server)->stop();
        (*runtime)->stop();
        return 1;
      };
      auto cluster_port = directory->publish(opts.bind_host(), opts.cluster_port);
      if (!cluster_port)
        return fail("cannot open --cluster-port " + std::to_string(opts.cluster_port),
                    cluster_port.error());
      cluster_address = opts.advertise_host + ":" + std::to_string(*cluster_port);
      (*runtime)->set_directory(directory.get());
      if (auto err = members->join(http_address, cluster_address))
        return fail("cannot join cluster '" + opts.cluster_name + "' at etcd " + opts.etcd, err);
      log->info("node {} joined cluster '{}' through etcd {}", opts.node_id, opts.cluster_name,
                opts.etcd);
      if (members->is_draining(opts.node_id))
        log->warn(
            "this node was being drained when it stopped: the drain resumes, and the "
            "node leaves once its partitions moved (withdraw it with keelctl undrain {})",
            opts.node_id);
    }
    std::cout << "keel-node listening http=" << http_address << " cluster=" << cluster_address
              << std::endl;
    log->info("node {} serving, data in {}, sync={}", opts.node_id, opts.data_dir, opts.sync);

    // A stop signal ends the node; so does a drain of this node once its partitions moved.
    std::optional<cluster::graceful_leave> leaving;
    if (members) leaving.emplace(*members, *directory, log);
    int sig = 0;
    while (sig <= 0) {
      timespec poll{0, 100'000'000};
      sig = sigtimedwait(&stop_signals, nullptr, &poll);
      if (sig == SIGHUP) {
        reload_api_keys(gw, opts, *log);
        sig = 0;
        continue;
      }
      if (sig <= 0 && leaving && leaving->drained()) {
        log->info("drained: this node owns no partition any more; leaving the cluster");
        break;
      }
    }
    if (sig > 0) log->info("signal {}: leaving", sig);
    if (sig > 0 && leaving) leaving->move_partitions_away(opts.leave_timeout);
    // Graceful: refuse new work, let requests in flight finish (bounded by their deadline).
    gw.begin_drain();
    auto give_up =
        std::chrono::steady_clock::now() + opts.request_timeout + std::chrono::seconds{1};
    while (gw.inflight() > 0 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    (*server)->stop();
    log->info("http stopped");
    // The directory stays set while the runtime stops: without it a late tell from a
    // stopping turn would be delivered here even if another node owns its partition.
    if (directory) directory->stop();
    (*runtime)->stop();
    log->info("runtime stopped");
    if (members) members->leave();  // after the drain: what was acknowledged is committed
  }
  log->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  keel::app::node_options opts;
  if (auto rc = keel::app::parse_node_options(argc, argv, opts); rc >= 0) return rc;
  // Block the stop signals (and SIGHUP, which reloads the API keys) before any thread
  // starts, so only sigwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return run(opts, stop_signals);
}
