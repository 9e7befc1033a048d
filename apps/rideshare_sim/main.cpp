// rideshare-sim: drives keel-node's ride-sharing API with concurrent riders and drivers,
// then checks that the money and the drivers add up.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <CLI/CLI.hpp>

#include "client_tls.hpp"
#include "invariants.hpp"
#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/url_authority.hpp"
#include "load_loop.hpp"
#include "node_client.hpp"
#include "report.hpp"
#include "ride_worker.hpp"
#include "sim_options.hpp"

namespace {

using namespace keel::sim;
using clock = std::chrono::steady_clock;

// Exit codes: 0 all invariants pass; 1 an invariant failed; 2 the node could not be used.
constexpr int exit_failed = 1;
constexpr int exit_no_node = 2;

CLI::Option* duration_option(CLI::App& app, const std::string& name,
                             std::chrono::milliseconds& into, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name,
          [&into, name](const std::string& text) {
            auto d = parse_duration(text);
            if (!d) throw CLI::ValidationError(name, "'" + text + "' is not a duration like 10s");
            into = *d;
          },
          help)
      ->default_str(into.count() % 1000 == 0 ? fmt::format("{}s", into.count() / 1000)
                                             : fmt::format("{}ms", into.count()));
}

struct counters {
  std::optional<double> durable_turns;
  std::optional<double> turns;
};

counters read_counters(node_client& client) {
  auto reply = client.get("/metrics");
  if (!reply.ok()) return {};
  return {metric_value(reply.body, "keel_durable_turns_total"),
          metric_value(reply.body, "keel_turns_total")};
}

// The counters summed over every member up: on a cluster a ride's turns run on all nodes.
// A single node answers /v1/cluster as a one-member cluster.
counters read_cluster_counters(node_client& probe, const endpoint& first,
                               std::chrono::milliseconds timeout) {
  auto reply = probe.get("/v1/cluster");
  keel::cluster::ClusterView view;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!reply.ok() ||
      !google::protobuf::util::JsonStringToMessage(reply.body, &view, options).ok() ||
      view.members_size() <= 1)
    return read_counters(probe);
  counters total{0.0, 0.0};
  for (const auto& m : view.members()) {
    if (m.status() != "up") continue;
    auto where = parse_endpoint(keel::http::url_authority(m.http_address()));
    if (!where) return {};
    // Members serve as the first node does: the same scheme, CA and key.
    where->https = first.https;
    where->tls = first.tls;
    where->api_key = first.api_key;
    node_client member{*where, timeout};
    auto c = read_counters(member);
    if (!c.durable_turns || !c.turns) return {};
    *total.durable_turns += *c.durable_turns;
    *total.turns += *c.turns;
  }
  return total;
}

// What to try when the first node cannot be reached, by how it failed.
std::string reach_hint(const endpoint& node, const http_reply& failure) {
  if (failure.transport_error.starts_with("TLS"))
    return "check --ca and the node's certificate; a node serving plaintext is given as "
           "host:port";
  if (!node.https && failure.transport_error == "Read")
    return "a node serving TLS is given as https://host:port";
  return fmt::format(
      "start one, e.g. keel-node --http-port={} --data-dir=DIR, or pass "
      "--node=[https://]host:port",
      node.port);
}

bool any_https(const sim_options& opts) {
  return std::any_of(opts.nodes.begin(), opts.nodes.end(),
                     [](const endpoint& e) { return e.https; });
}

// Gives every node the API key, and every https:// node the TLS context; an error if the
// CA cannot be loaded.
std::optional<std::string> use_tls(sim_options& opts, const std::string& ca_file,
                                   const std::string& api_key) {
  std::shared_ptr<const client_tls> tls;
  if (any_https(opts)) {
    std::string error;
    tls = client_tls::make(ca_file, error);
    if (!tls) return "cannot use TLS: " + error;
  }
  for (auto& node : opts.nodes) {
    node.api_key = api_key;
    if (node.https) node.tls = tls;
  }
  opts.node = opts.nodes.front();
  return std::nullopt;
}

// The live line on stderr, rewritten in place once a second until `done`.
void show_progress(const run_control& control, const std::atomic<bool>& done) {
  auto last_print = clock::now();
  int64_t last_finished = 0;
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = clock::now();
    if (now - last_print < std::chrono::seconds{1}) continue;
    auto finished = control.rides_finished.load();
    double rate =
        (finished - last_finished) / std::chrono::duration<double>(now - last_print).count();
    std::cerr << fmt::format(
                     "\r{:6.1f} s  {:>8} rides  {:>8.1f} rides/s  in flight {:>4}  "
                     "errors {:>6}   ",
                     std::chrono::duration<double>(now - control.started).count(), finished, rate,
                     control.in_flight.load(), control.errors.load())
              << std::flush;
    last_print = now;
    last_finished = finished;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rideshare-sim: load and invariant checks for keel-node's ride-sharing API"};
  app.footer(fmt::format(
      "Exit status: 0 when every invariant passes, 1 when one fails, 2 when keel-node "
      "cannot be reached or the drivers cannot be placed, 100 or more for a bad command "
      "line (105: a value not accepted, such as --node=[::1 without its ]). A ride whose "
      "payment or ledger read got no answer even after {} tries is not judged, which "
      "fails no invariant; the check \"rides judged\" fails when no ride could be judged "
      "or more than {} % could not.",
      check_read_tries, max_not_judged_share * 100));
  sim_options opts;
  app.add_option_function<std::vector<std::string>>(
         "--node",
         [&opts](const std::vector<std::string>& texts) {
           opts.nodes.clear();
           for (const auto& text : texts) {
             auto node = parse_endpoint(text);
             if (!node)
               throw CLI::ValidationError(
                   "--node", keel::message_of(node.error()) +
                                 "; expected [https://]host:port, an IPv6 host in brackets");
             opts.nodes.push_back(*node);
           }
           opts.node = opts.nodes.front();
         },
         "keel-node's HTTP address, https://host:port for a node serving TLS, an IPv6 host "
         "in brackets (https://[::1]:8443); repeated or "
         "comma-separated, the dispatchers' connections are spread over the nodes (the first "
         "also serves the probes and the checks)")
      ->default_str("127.0.0.1:8080")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--follow-owner", opts.follow_owner,
               "send a rider's, a ride's and a driver's later requests to the node that owns "
               "them, as an earlier answer's Keel-Owner-Address header named it, instead of "
               "through the dispatcher's node (which forwards them); back through that node "
               "when the owner does not answer or answers 5xx");
  app.add_option("--rate", opts.rate,
                 "rides started per second on a fixed schedule (open loop; latency counts from "
                 "each ride's scheduled start); 0: each dispatcher starts its next ride when "
                 "the last one ends")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  std::string ca_file;
  app.add_option("--ca", ca_file,
                 "PEM file of the CA that signed the https:// nodes' certificates (default: the "
                 "system's CAs)");
  std::string api_key;
  app.add_option("--api-key", api_key, "API key, for a node run with --api-keys-file")
      ->envname("KEEL_API_KEY");
  app.add_option("--drivers", opts.drivers, "drivers placed in the city")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--riders", opts.riders, "distinct riders requesting rides")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  app.add_option("--concurrency", opts.concurrency,
                 "simulated dispatchers running rides at once, one connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--threads", opts.threads, "threads the dispatchers' connections are spread over")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  auto* duration = duration_option(app, "--duration", opts.duration,
                                   "how long to start new rides (with --rides: at most)");
  app.add_option("--rides", opts.rides, "stop after this many rides")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--cancel-rate", opts.cancel_rate, "share of matched rides cancelled")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", opts.seed, "seed of the riders' and drivers' randomness")
      ->capture_default_str();
  duration_option(app, "--settle-timeout", opts.settle_timeout,
                  "how long to wait for payments to settle before judging them");
  duration_option(app, "--request-timeout", opts.request_timeout, "per-call client timeout");
  app.add_flag("--json", opts.json, "print one JSON object on stdout instead of the table");
  CLI11_PARSE(app, argc, argv);
  // OpenSSL writes to its sockets with write(), not send(MSG_NOSIGNAL): a node that hangs
  // up must cost an exchange, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (!ca_file.empty() && !any_https(opts))
    return app.exit(CLI::ValidationError("--ca", "given, but no --node is https://host:port"));
  if (auto failure = use_tls(opts, ca_file, api_key)) {
    std::cerr << "rideshare-sim: " << *failure << "\n";
    return exit_no_node;
  }
  // A ride count alone still needs a time bound; ten minutes is far beyond any sane run.
  if (opts.rides > 0 && duration->count() == 0) opts.duration = std::chrono::minutes{10};

  auto node_text = (opts.node.https ? "https://" : "") + opts.node.authority();
  node_client probe{opts.node, opts.request_timeout};
  auto metrics = probe.get("/metrics");
  if (!metrics.ok()) {
    std::cerr << fmt::format("rideshare-sim: cannot reach keel-node at {} ({}); {}\n", node_text,
                             metrics.error_key(), reach_hint(opts.node, metrics));
    return exit_no_node;
  }
  if (!metric_value(metrics.body, "keel_durable_turns_total")) {
    std::cerr << fmt::format(
        "rideshare-sim: {} answers /metrics without "
        "keel_durable_turns_total; is it a keel-node?\n",
        node_text);
    return exit_no_node;
  }

  const city town;
  std::cerr << fmt::format("placing {} drivers on {}...\n", opts.drivers, node_text);
  if (auto failure = place_drivers(opts, town)) {
    std::cerr << "rideshare-sim: placing drivers failed: " << *failure << "\n";
    return exit_no_node;
  }
  auto before = read_cluster_counters(probe, opts.node, opts.request_timeout);

  run_control control;
  control.started = clock::now();
  control.deadline = control.started + opts.duration;
  control.ride_limit = opts.rides;
  control.rate = opts.rate;
  std::vector<std::unique_ptr<load_loop>> loops;
  for (int t = 0; t < std::min(opts.threads, opts.concurrency); ++t)
    loops.push_back(std::make_unique<load_loop>(opts, town, control));
  for (int i = 0; i < opts.concurrency; ++i) loops[i % loops.size()]->add_worker(i);
  std::atomic<bool> done{false};
  std::thread progress{[&] { show_progress(control, done); }};
  std::vector<std::thread> threads;
  for (auto& loop : loops) threads.emplace_back([&loop] { loop->run(); });
  for (auto& th : threads) th.join();
  run_summary summary;
  summary.elapsed_s = std::chrono::duration<double>(clock::now() - control.started).count();
  done = true;
  progress.join();
  std::cerr << "\n";

  std::vector<ride_record> rides;
  for (const auto& loop : loops) {
    for (const auto& w : loop->workers()) {
      summary.stats.merge(w->stats());
      rides.insert(rides.end(), w->rides().begin(), w->rides().end());
    }
  }
  for (const auto& r : rides) {
    ++summary.paths[r.path];
    if (r.path != ride_path::lost) ++summary.rides_finished;
  }
  bool node_lost = !probe.get("/metrics").ok();
  if (control.stalled || node_lost) {
    // Nothing can be judged without the node; say so instead of polling a dead address.
    std::cerr << fmt::format("rideshare-sim: keel-node at {} stopped answering during the run{}\n",
                             node_text, control.stalled ? "; the run ended early" : "");
    summary.checks.push_back({"node answered throughout", false,
                              control.stalled
                                  ? fmt::format("no successful call for {} s; payments not checked",
                                                run_control::stall_limit.count())
                                  : "GET /metrics failed after the load; payments not checked"});
  } else {
    std::cerr << fmt::format("waiting up to {} s for {} payments to settle...\n",
                             opts.settle_timeout.count() / 1000.0, rides.size());
    auto payments = settle_payments(opts, rides);
    // After settling, so the payment and processor turns each ride causes are counted.
    auto after = read_cluster_counters(probe, opts.node, opts.request_timeout);
    auto per_ride = [&](std::optional<double> a, std::optional<double> b,
                        double own) -> std::optional<double> {
      if (!a || !b || summary.rides_finished == 0) return std::nullopt;
      return (*b - *a - own) / static_cast<double>(summary.rides_finished);
    };
    summary.durable_turns_per_ride = per_ride(before.durable_turns, after.durable_turns, 0);
    // Each payment poll and ledger read is one read-only turn of the sim's own making.
    summary.turns_per_ride =
        per_ride(before.turns, after.turns, static_cast<double>(payments.reads));
    auto verdicts = judge(opts, rides, payments);
    summary.checks = std::move(verdicts.checks);
    summary.coverage = verdicts.coverage;
    if (!after.durable_turns)
      summary.checks.push_back(
          {"node answered throughout", false, "GET /metrics failed after the payments settled"});
  }
  // Every check passes vacuously on an empty run; a run that finished no ride proves nothing.
  if (summary.rides_finished == 0)
    summary.checks.push_back({"rides finished", false, "no ride finished; see the errors"});
  if (opts.json)
    print_json(summary);
  else
    print_table(summary);
  if (control.stalled || node_lost) return exit_no_node;
  return summary.pass() ? 0 : exit_failed;
}
