#include "node_options.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"

namespace keel::app {

namespace {

// "250ms", "5s", "5m", "1h"; a bare number is milliseconds.
std::string parse_duration_into(const std::string& text, std::chrono::milliseconds& out) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0) return "not a duration: '" + text + "' (e.g. 250ms, 5s, 5m)";
  std::string unit{end, text.data() + text.size()};
  int64_t factor = 0;
  if (unit.empty() || unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60000;
  else if (unit == "h")
    factor = 3600000;
  else
    return "unknown duration unit '" + unit + "' in '" + text + "' (ms, s, m, h)";
  out = std::chrono::milliseconds{value * factor};
  return {};
}

// "1MiB", "512KiB", "1048576".
std::string parse_size_into(const std::string& text, size_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{}) return "not a size: '" + text + "' (e.g. 1MiB, 64KiB, 1024)";
  std::string unit{end, text.data() + text.size()};
  uint64_t factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KiB")
    factor = 1 << 10;
  else if (unit == "MiB")
    factor = 1 << 20;
  else if (unit == "GiB")
    factor = 1ULL << 30;
  else
    return "unknown size unit '" + unit + "' in '" + text + "' (B, KiB, MiB, GiB)";
  out = static_cast<size_t>(value * factor);
  return {};
}

// A duration flag; values below `at_least` are refused, naming the minimum.
CLI::Option* duration_flag(CLI::App& app, const std::string& name,
                           std::chrono::milliseconds& target, const std::string& default_text,
                           const std::string& help,
                           std::chrono::milliseconds at_least = std::chrono::milliseconds{0}) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name, at_least](const std::string& text) {
            auto err = parse_duration_into(text, target);
            if (err.empty() && target < at_least)
              err = (at_least.count() == 1 ? std::string{"must be more than 0"}
                     : at_least.count() % 1000 == 0
                         ? "must be at least " + std::to_string(at_least.count() / 1000) + "s"
                         : "must be at least " + std::to_string(at_least.count()) + "ms") +
                    ", not '" + text + "'";
            if (!err.empty()) throw CLI::ValidationError(name, err);
          },
          help)
      ->default_str(default_text);
}

// "off" or a whole number >= 1.
std::string parse_cap_into(const std::string& text, size_t& out) {
  if (text == "off") {
    out = 0;
    return {};
  }
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1)
    return "expected off or a number of connections >= 1, not '" + text + "'";
  out = value;
  return {};
}

// KEEL_<NAME>, dashes as underscores: --http-port reads KEEL_HTTP_PORT.
std::string env_name(const CLI::Option& opt) {
  std::string name = opt.get_name(false, true);
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  std::string var = "KEEL_";
  for (char c : name) var += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return var;
}

enum class env_source { read, ignored };

// The flags of the node itself: identity, ports, storage, threads, timeouts.
void add_node_flags(CLI::App& app, node_options& o, env_source source) {
  auto env = [source](CLI::Option* opt) {
    if (source == env_source::read) opt->envname(env_name(*opt));
    return opt;
  };
  env(app.add_option("--node-id", o.node_id, "this node's id, unique in the cluster")
          ->capture_default_str());
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
  env(app.add_option("--replication-factor", o.replication_factor, "copies of each partition")
          ->capture_default_str()
          ->check(CLI::Range(1, 5)));
  env(app.add_option("--api-keys-file", o.api_keys_file,
                     "API keys, one a line: KEY SCOPE NAME [RATE] (scope public, partner or "
                     "admin) or a key alone (admin); # comments; enables auth; read again on "
                     "SIGHUP")
          ->check(CLI::ExistingFile));
  constexpr std::chrono::milliseconds one_ms{1};
  env(duration_flag(app, "--request-timeout", o.request_timeout, "5s", "default request deadline",
                    one_ms));
  env(duration_flag(app, "--slow-request", o.slow_request, "1s",
                    "log a request open this long, with its trace id and what it waits on",
                    one_ms));
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

// The flags of limits on clients and of the ride-sharing app and tests.
void add_limit_and_app_flags(CLI::App& app, node_options& o, env_source source) {
  auto env = [source](CLI::Option* opt) {
    if (source == env_source::read) opt->envname(env_name(*opt));
    return opt;
  };
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
  env(app.add_option("--payment-failure-rate", o.payment_failure_rate,
                     "simulated processor failure rate")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 1.0)));
  env(duration_flag(app, "--payment-latency", o.payment_latency, "0ms",
                    "simulated processor latency"));
  env(duration_flag(app, "--ride-search-timeout", o.ride_search_timeout, "2m",
                    "cancel a ride still searching for a driver after this",
                    std::chrono::seconds{1}));
  env(duration_flag(app, "--ride-accept-timeout", o.ride_accept_timeout, "1m",
                    "offer a matched ride to another driver if not accepted within this",
                    std::chrono::seconds{1}));
  env(app.add_flag("--test-actors", o.test_actors, "register the test-only actor types"));
  env(duration_flag(app, "--leave-timeout", o.leave_timeout, "1m",
                    "on SIGTERM, how long to wait for this node's partitions to move away (0: "
                    "leave at once)"));
  env(duration_flag(app, "--test-handoff-delay", o.test_handoff_delay, "0ms",
                    "test hook: pause this long before ingesting each partition handed here"));
  env(app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
          ->capture_default_str()
          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"})));
}

void add_flags(CLI::App& app, node_options& o, env_source source) {
  app.set_help_flag("-h,--help", "print this help and exit");
  add_node_flags(app, o, source);
  add_limit_and_app_flags(app, o, source);
}

// A KEEL_* variable is checked on its own, so that a bad value names the variable, not
// the flag it stands for; flags given on the command line win and are not checked.
std::string check_environment(const CLI::App& command_line) {
  for (const auto* opt : command_line.get_options()) {
    if (opt->count() > 0 || opt->get_items_expected_max() == 0 || opt->get_name().empty()) continue;
    auto var = env_name(*opt);
    const char* value = std::getenv(var.c_str());
    if (!value) continue;
    CLI::App alone;
    node_options scratch;
    add_flags(alone, scratch, env_source::ignored);
    auto arg = opt->get_name(false, true) + "=" + value;
    const char* args[] = {"keel-node", arg.c_str()};
    try {
      alone.parse(2, args);
    } catch (const CLI::ParseError& e) {
      return "environment variable " + var + "='" + value + "': " + e.what();
    }
  }
  return {};
}

}  // namespace

int parse_node_options(int argc, char** argv, node_options& o) {
  {
    CLI::App app{"keel-node: one node of a Keel virtual-actor cluster"};
    node_options scratch;
    add_flags(app, scratch, env_source::ignored);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      // The help lists each flag's variable: print it from the app that reads them.
      CLI::App with_env{"keel-node: one node of a Keel virtual-actor cluster"};
      add_flags(with_env, scratch, env_source::read);
      return with_env.exit(e);
    } catch (const CLI::ParseError& e) {
      std::cerr << "keel-node: " << e.what() << "\n(run keel-node --help for the flags)\n";
      return 2;
    }
    if (auto err = check_environment(app); !err.empty()) {
      std::cerr << "keel-node: " << err << "\n(run keel-node --help for the flags)\n";
      return 2;
    }
  }
  CLI::App app{"keel-node: one node of a Keel virtual-actor cluster"};
  add_flags(app, o, env_source::read);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "keel-node: " << e.what() << "\n(run keel-node --help for the flags)\n";
    return 2;
  }
  return -1;
}

}  // namespace keel::app
