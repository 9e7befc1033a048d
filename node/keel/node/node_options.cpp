#include "keel/node/node_options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include <CLI/CLI.hpp>

#include "keel/node/app_flags.hpp"
#include "keel/node/detail/flag_parsing.hpp"
#include "keel/node/detail/tls_flags.hpp"
#include "keel/otlp/otlp_exporter.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"

namespace keel {

/// Makes the app_flags node_main hands an app (its constructor is private).
struct app_flags_access {
  static app_flags make(CLI::App& app, bool read_environment) {
    return app_flags{app, read_environment};
  }
};

namespace {

using detail::duration_flag;
using detail::env_name;
using detail::parse_cap_into;
using detail::parse_size_into;

enum class env_source { read, ignored };

// What gives a flag its KEEL_* variable, or not.
auto env_of(env_source source) {
  return
      [read = source == env_source::read](CLI::Option* opt) { return detail::with_env(opt, read); };
}

// The flags of the node's identity and addresses: id, ports, hosts, data, cluster, keys.
void add_identity_flags(CLI::App& app, node_options& o, env_source source) {
  auto env = env_of(source);
  env(app.add_option("--node-id", o.node_id,
                     "this node's id, unique in the cluster: 1-64 letters, digits, '.', '_' "
                     "or '-'")
          ->capture_default_str()
          ->check([](const std::string& id) -> std::string {
            // It goes into etcd keys, log lines, metric labels and response headers.
            bool ok = !id.empty() && id.size() <= 64 &&
                      std::all_of(id.begin(), id.end(), [](unsigned char c) {
                        return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                      });
            return ok ? std::string{}
                      : "'" + id + "' is no node id: 1-64 letters, digits, '.', '_' or '-'";
          }));
  env(app.add_option("--http-port", o.http_port, "HTTP port; 0 picks a free one")
          ->capture_default_str());
  env(app.add_option("--cluster-port", o.cluster_port,
                     "node-to-node port; 0 picks; only with --etcd")
          ->capture_default_str());
  env(app.add_option("--advertise-host", o.advertise_host,
                     "the address other nodes and clients are told (and the one bound, "
                     "without --listen-host)")
          ->capture_default_str()
          ->check([](const std::string& host) -> std::string {
            if (host == "0.0.0.0" || host == "::" || host.empty())
              return "'" + host +
                     "' is no address others can reach; bind it with "
                     "--listen-host and advertise this node's own address";
            return {};
          }));
  env(app.add_option("--listen-host", o.listen_host,
                     "the address the HTTP and cluster servers bind, e.g. 0.0.0.0 in a "
                     "container (default: --advertise-host)"));
  env(app.add_option("--data-dir", o.data_dir, "LevelDB directory (created if missing)")
          ->capture_default_str());
  env(app.add_option("--etcd", o.etcd, "etcd host:port; none runs a single node"));
  env(app.add_option("--cluster-name", o.cluster_name, "cluster name (etcd key prefix)")
          ->capture_default_str());
  env(app.add_option("--replication-factor", o.replication_factor,
                     "with --etcd: copies of each partition, the owner's included, fixed when "
                     "the cluster is created (default: the cluster's; 2 for a new one)")
          ->check(CLI::Range(1, 5)));
  env(app.add_option("--min-insync", o.min_insync,
                     "copies (the owner's included) a write must be on before it is "
                     "acknowledged; fewer in sync: writes answer unavailable")
          ->capture_default_str()
          ->check(CLI::Range(1, 5)));
  env(duration_flag(app, "--replica-timeout", o.replica_timeout, "1s",
                    "a replica that has not acknowledged a write this long leaves the "
                    "in-sync set",
                    std::chrono::milliseconds{1}));
  env(app.add_option("--api-keys-file", o.api_keys_file,
                     "API keys, one a line: KEY SCOPE NAME [RATE] (scope public, partner or "
                     "admin) or a key alone (admin); # comments; enables auth; read again on "
                     "SIGHUP")
          ->check(CLI::ExistingFile));
}

// The flags of how the node runs: timeouts, activations, storage, admission, threads.
void add_runtime_flags(CLI::App& app, node_options& o, env_source source) {
  auto env = env_of(source);
  constexpr std::chrono::milliseconds one_ms{1};
  env(duration_flag(app, "--request-timeout", o.request_timeout, "5s", "default request deadline",
                    one_ms));
  env(duration_flag(app, "--slow-request", o.slow_request, "1s",
                    "log a request open this long, with its trace id and what it waits on",
                    one_ms));
  env(app.add_option("--otlp-endpoint", o.otlp_endpoint,
                     "export each turn as an OpenTelemetry span to this OTLP/HTTP collector, "
                     "e.g. http://127.0.0.1:4318 (POSTs to /v1/traces); none: no export")
          ->check([](const std::string& url) -> std::string {
            auto parsed = otlp::parse_endpoint(url);
            return parsed ? std::string{} : keel::message_of(parsed.error());
          }));
  env(duration_flag(app, "--idle-timeout", o.idle_timeout, "5m",
                    "passivate an activation after this idle time", one_ms));
  env(app.add_option("--max-activations", o.max_activations,
                     "live activations at most: the longest idle leave from 90 %, new ones "
                     "are refused at it")
          ->capture_default_str()
          ->check(CLI::Range(size_t{10}, size_t{100'000'000})));
  env(app.add_option("--sync", o.sync,
                     "batch: fsync per group commit; none: no fsync (benchmarks only)")
          ->capture_default_str()
          ->check(CLI::IsMember({"batch", "none"})));
  env(app.add_option("--max-inflight", o.max_inflight, "admission limit on requests in flight")
          ->capture_default_str()
          ->check(CLI::Range(1, 1000000)));
  env(app.add_option_function<std::string>(
             "--max-body",
             [&o](const std::string& text) {
               auto err = parse_size_into(text, o.max_body);
               if (err.empty() && o.max_body == 0) err = "must be at least 1 byte, not '0'";
               if (!err.empty()) throw CLI::ValidationError("--max-body", err);
             },
             "largest accepted request body")
          ->default_str("1MiB"));
  env(app.add_option("--threads", o.threads, "CAF scheduler threads (turns run on them)")
          ->capture_default_str()
          ->check(CLI::Range(1, 256)));
  env(app.add_option("--http-threads", o.http_threads, "HTTP I/O threads")
          ->capture_default_str()
          ->check(CLI::Range(1, 256)));
  env(duration_flag(app, "--lease-ttl", o.lease_ttl, "2s", "etcd lease TTL", one_ms));
}

// The flags of limits on clients, of leaving, of tests and of logs.
void add_limit_flags(CLI::App& app, node_options& o, env_source source) {
  auto env = env_of(source);
  env(app.add_option("--rate-limit", o.rate_limit, "per API key, e.g. 100/s,burst=200")
          ->capture_default_str()
          ->check([](const std::string& text) -> std::string {
            auto parsed = keel::http::parse_rate_limit(text);
            return parsed ? std::string{} : keel::message_of(parsed.error());
          }));
  env(app.add_option("--auth-failure-limit", o.auth_failure_limit,
                     "failed API keys per client address, e.g. 10/m,burst=20, or off")
          ->capture_default_str()
          ->check([](const std::string& text) -> std::string {
            auto parsed = keel::http::parse_rate_limit(text);
            return parsed ? std::string{} : keel::message_of(parsed.error());
          }));
  env(app.add_option("--max-connections", o.max_connections,
                     "open HTTP connections; idle ones are closed first when near it")
          ->capture_default_str()
          ->check(CLI::Range(2, 1000000)));
  env(app.add_option_function<std::string>(
             "--max-connections-per-client",
             [&o](const std::string& text) {
               auto err = parse_cap_into(text, o.max_connections_per_client);
               if (!err.empty()) throw CLI::ValidationError("--max-connections-per-client", err);
             },
             "open HTTP connections per client address, or off")
          ->default_str("off"));
  env(app.add_flag("--test-actors", o.test_actors, "register the test-only actor types"));
  env(duration_flag(app, "--leave-timeout", o.leave_timeout, "1m",
                    "on SIGTERM, how long to wait for this node's partitions to move away (0: "
                    "leave at once)"));
  env(duration_flag(app, "--test-handoff-delay", o.test_handoff_delay, "0ms",
                    "test hook: pause this long before ingesting each partition handed here"));
  env(app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
          ->capture_default_str()
          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"})));
  env(app.add_option("--log-format", o.log_format,
                     "text, or json: one object a line (time, level, logger, message, and "
                     "trace_id on lines about a request)")
          ->capture_default_str()
          ->check(CLI::IsMember({"text", "json"})));
}

using app_flags_fn = std::function<void(app_flags&)>;

// Returns why the app's flags could not be declared (a name taken, or not a --flag);
// empty if they were.
std::string add_flags(CLI::App& app, node_options& o, const app_flags_fn& declare_app_flags,
                      env_source source) {
  app.set_help_flag("-h,--help", "print this help and exit");
  add_identity_flags(app, o, source);
  add_runtime_flags(app, o, source);
  add_limit_flags(app, o, source);
  detail::add_tls_flags(app, o, source == env_source::read);
  if (!declare_app_flags) return {};
  auto flags = app_flags_access::make(app, source == env_source::read);
  try {
    declare_app_flags(flags);
  } catch (const CLI::Error& e) {
    return std::string{"the app's flags: "} + e.what();
  }
  return {};
}

// A KEEL_* variable is checked on its own, so that a bad value names the variable, not
// the flag it stands for; flags given on the command line win and are not checked.
std::string check_environment(const CLI::App& command_line, const app_flags_fn& declare_app_flags,
                              const std::string& program) {
  for (const auto* opt : command_line.get_options()) {
    if (opt->count() > 0 || opt->get_items_expected_max() == 0 || opt->get_name().empty()) continue;
    auto var = env_name(*opt);
    const char* value = std::getenv(var.c_str());
    if (!value) continue;
    CLI::App alone;
    node_options scratch;
    (void)add_flags(alone, scratch, declare_app_flags, env_source::ignored);
    auto arg = opt->get_name(false, true) + "=" + value;
    const char* args[] = {program.c_str(), arg.c_str()};
    try {
      alone.parse(2, args);
    } catch (const CLI::ParseError& e) {
      return "environment variable " + var + "='" + value + "': " + e.what();
    }
  }
  return {};
}

}  // namespace

std::string program_name(const char* argv0) {
  std::string path = argv0 != nullptr ? argv0 : "keel-node";
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int parse_node_options(int argc, char** argv, node_options& o,
                       const app_flags_fn& declare_app_flags) {
  auto program = program_name(argc > 0 ? argv[0] : nullptr);
  auto title = program + ": one node of a Keel virtual-actor cluster";
  auto bad_flag = [&program](const std::string& why) {
    std::cerr << program << ": " << why << "\n(run " << program << " --help for the flags)\n";
    return 2;
  };
  {
    CLI::App app{title};
    node_options scratch;
    if (auto err = add_flags(app, scratch, declare_app_flags, env_source::ignored); !err.empty())
      return bad_flag(err);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      // The help lists each flag's variable: print it from the app that reads them.
      CLI::App with_env{title};
      (void)add_flags(with_env, scratch, declare_app_flags, env_source::read);
      return with_env.exit(e);
    } catch (const CLI::ParseError& e) {
      return bad_flag(e.what());
    }
    if (auto err = check_environment(app, declare_app_flags, program); !err.empty())
      return bad_flag(err);
  }
  CLI::App app{title};
  (void)add_flags(app, o, declare_app_flags, env_source::read);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return bad_flag(e.what());
  }
  if (o.replication_factor > 0 && o.min_insync > o.replication_factor)
    return bad_flag("--min-insync=" + std::to_string(o.min_insync) + " is more than " +
                    "--replication-factor=" + std::to_string(o.replication_factor) +
                    ": no write could ever be acknowledged");
  // The files are read now, so that a bad one stops the node before it opens anything.
  if (auto why = detail::check_tls_flags(o, std::time(nullptr)); !why.empty()) return bad_flag(why);
  return -1;
}

}  // namespace keel
