// keelctl: a cluster's state for people (tables) and scripts (--json), read from any
// node's HTTP API. Wiring only: the views are cluster/'s messages.
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <CLI/CLI.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/keelctl/cluster_top.hpp"
#include "keel/keelctl/trace_tree.hpp"

namespace {

using keel::cluster::ActorLocation;
using keel::cluster::ClusterView;

struct options {
  std::string node = "127.0.0.1:8080";  // host:port, or https://host:port for a TLS node
  std::string ca;       // verifies a TLS node's certificate; empty: the system's CAs
  std::string api_key;  // sent as a bearer token when the node runs with --api-keys-file
  bool json = false;
  bool verbose = false;
  std::string type;
  std::string key;
  std::string trace_id;
  bool once = false;
  double delay_s = 5;
};

enum class method { get, post, del };

// The body of node `node`'s answer to `path`, or why there is none (it cannot be reached,
// or answered anything but `expect`).
struct answer {
  std::optional<std::string> body;
  std::string error;
};

constexpr std::string_view https_scheme = "https://";

// Why a request over TLS failed, in the terms of keelctl's flags.
std::string describe_tls(httplib::Error err) {
  switch (err) {
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (does the node speak TLS on that port?)";
    case httplib::Error::SSLServerVerification:
      return "the node's certificate is not signed by the CA given (--ca), or by one this "
             "machine trusts without it, or does not name the host dialled";
    case httplib::Error::SSLLoadingCerts:
      return "the CA file given (--ca) could not be loaded";
    default:
      return keel::cluster::describe(err);
  }
}

// A client for `node` (host:port or https://host:port). A member's address from
// /v1/cluster has no scheme: it takes --node's, since a cluster's nodes serve alike.
std::unique_ptr<httplib::Client> client_for(const options& opts, std::string node) {
  bool tls = opts.node.starts_with(https_scheme);
  if (node.starts_with(https_scheme)) node.erase(0, https_scheme.size());
  if (node.starts_with("http://")) {
    node.erase(0, 7);
    tls = false;
  }
  auto colon = node.rfind(':');
  auto host = colon == std::string::npos ? node : node.substr(0, colon);
  int port = colon == std::string::npos ? 8080 : std::atoi(node.c_str() + colon + 1);
  if (!tls) return std::make_unique<httplib::Client>(host, port);
  auto cli = std::make_unique<httplib::Client>(std::string{https_scheme} + host + ":" +
                                               std::to_string(port));
  if (!opts.ca.empty()) cli->set_ca_cert_path(opts.ca);
  cli->enable_server_certificate_verification(true);
  return cli;
}

answer try_fetch(const options& opts, const std::string& node, const std::string& path,
                 method how = method::get, int expect = 200) {
  auto client = client_for(opts, node);
  auto& cli = *client;
  cli.set_tcp_nodelay(true);
  if (!opts.api_key.empty()) cli.set_bearer_token_auth(opts.api_key);
  cli.set_connection_timeout(std::chrono::seconds{2});
  cli.set_read_timeout(std::chrono::seconds{10});
  auto res = how == method::post  ? cli.Post(path, "", "application/json")
             : how == method::del ? cli.Delete(path)
                                  : cli.Get(path);
  if (!res)
    return {std::nullopt, "cannot reach keel-node at " + node + ": " + describe_tls(res.error())};
  if (res->status != expect)
    return {std::nullopt,
            node + " answered " + std::to_string(res->status) + " to " + path + ": " + res->body};
  return {res->body, {}};
}

// GETs (or POSTs) `path` at the node; exits 1 with a clear message when it cannot or when
// it answers anything but `expect`.
std::string fetch(const options& opts, const std::string& path, method how = method::get,
                  int expect = 200) {
  auto got = try_fetch(opts, opts.node, path, how, expect);
  if (!got.body) {
    std::cerr << "keelctl: " << got.error << "\n";
    std::exit(1);
  }
  return *got.body;
}

// Percent-encodes one path segment (keys may hold any byte).
std::string path_segment(const std::string& raw) {
  std::string out;
  for (unsigned char c : raw) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

template <class Message>
Message parse(const std::string& body, const options& opts) {
  Message out;
  google::protobuf::util::JsonParseOptions parse_opts;
  parse_opts.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(body, &out, parse_opts).ok()) {
    std::cerr << "keelctl: " << opts.node << " answered JSON keelctl cannot read: " << body << "\n";
    std::exit(1);
  }
  return out;
}

int status(const options& opts) {
  auto body = fetch(opts, "/v1/cluster");
  if (opts.json) return std::cout << body << "\n", 0;
  auto view = parse<ClusterView>(body, opts);
  size_t up = 0;
  for (const auto& m : view.members()) up += m.status() == "up";
  fmt::print("cluster      {}\n", view.cluster_name());
  fmt::print("asked node   {} ({})\n", view.node_id(), opts.node);
  fmt::print("coordinator  {}\n", view.coordinator().empty() ? "none" : view.coordinator());
  fmt::print("members      {} up of {}\n", up, view.members_size());
  fmt::print("fenced       {}\n", view.fenced() ? "yes: " + view.fence_reason() : "no");
  for (const auto& id : view.draining()) {
    bool member = false;
    for (const auto& m : view.members())
      member = member || (m.node_id() == id && m.status() != "down");
    fmt::print("draining     {}{}\n", id,
               member ? ""
                      : " (down: the drain resumes when it returns; keelctl undrain " + id +
                            " withdraws it)");
  }
  const auto& copies = view.replication();
  if (copies.factor() > 1)
    fmt::print(
        "replication  {} copies, {} in sync to write; {} under-replicated, {} awaiting a "
        "copy\n",
        copies.factor(), copies.min_insync(), copies.under_replicated(), copies.unavailable());
  const auto& r = view.rebalance();
  if (r.running())
    fmt::print("rebalance    running: {} planned, {} moving, {} done, {} aborted ({})\n",
               r.planned(), r.moving(), r.done(), r.failed(), r.reason());
  else if (r.planned() > 0)
    fmt::print("rebalance    idle; the last one moved {} of {} partitions ({} aborted)\n", r.done(),
               r.planned(), r.failed());
  else
    fmt::print("rebalance    idle\n");
  return 0;
}

// Asks for the drain, then follows it (a progress line) until the node has left.
int drain(const options& opts, const std::string& node_id, bool wait, std::chrono::seconds limit) {
  auto body =
      fetch(opts, "/v1/cluster/nodes/" + path_segment(node_id) + "/drain", method::post, 202);
  if (opts.json && !wait) return std::cout << body << "\n", 0;
  if (!wait) return fmt::print("{} is leaving: its partitions move to the others\n", node_id), 0;
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto view = parse<ClusterView>(fetch(opts, "/v1/cluster"), opts);
    const keel::cluster::MemberView* member = nullptr;
    for (const auto& m : view.members())
      if (m.node_id() == node_id) member = &m;
    if (!member || member->status() == "down") {
      fmt::print(stderr, "\n");
      // Gone with partitions still its own: it died mid-drain, and resumes when it returns.
      if (member && member->partitions() > 0) {
        fmt::print(stderr,
                   "keelctl: {} went down holding {} partitions; its drain resumes when it "
                   "returns (keelctl undrain {} withdraws it)\n",
                   node_id, member->partitions(), node_id);
        return 1;
      }
      fmt::print("{} drained and left the cluster\n", node_id);
      return 0;
    }
    fmt::print(stderr, "\r{}: {} partitions left; rebalance {} of {} done   ", node_id,
               member->partitions(), view.rebalance().done(), view.rebalance().planned());
    if (std::chrono::steady_clock::now() >= give_up) {
      fmt::print(stderr, "\nkeelctl: {} still holds {} partitions after {} s\n", node_id,
                 member->partitions(), limit.count());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

int undrain(const options& opts, const std::string& node_id) {
  auto body = fetch(opts, "/v1/cluster/nodes/" + path_segment(node_id) + "/drain", method::del);
  if (opts.json) return std::cout << body << "\n", 0;
  fmt::print("the drain of {} is withdrawn: it takes partitions again\n", node_id);
  return 0;
}

int members(const options& opts) {
  auto body = fetch(opts, "/v1/cluster");
  if (opts.json) return std::cout << body << "\n", 0;
  auto view = parse<ClusterView>(body, opts);
  fmt::print("{:<16} {:<8} {:<22} {:<22} {:>10} {:>11}\n", "NODE", "STATUS", "HTTP", "CLUSTER",
             "PARTITIONS", "ACTIVATIONS");
  for (const auto& m : view.members())
    fmt::print("{:<16} {:<8} {:<22} {:<22} {:>10} {:>11}\n", m.node_id(), m.status(),
               m.http_address(), m.cluster_address().empty() ? "-" : m.cluster_address(),
               m.partitions(),
               m.node_id() == view.node_id() ? std::to_string(m.activations()) : std::string{"?"});
  return 0;
}

int partitions(const options& opts) {
  auto body = fetch(opts, "/v1/cluster/partitions");
  if (opts.json) return std::cout << body << "\n", 0;
  auto table = parse<keel::cluster::PartitionTableView>(body, opts);
  struct share {
    int owned = 0, copied = 0, in_sync = 0;
  };
  std::map<std::string, share> per_node;
  for (const auto& row : table.partitions()) {
    ++per_node[row.owner()].owned;
    for (const auto& id : row.replicas()) ++per_node[id].copied;
    for (const auto& id : row.isr()) ++per_node[id].in_sync;
  }
  fmt::print("{} of {} partitions placed (a partition is placed when first used)\n", table.placed(),
             table.total());
  fmt::print("{:<16} {:>10} {:>8} {:>8}\n", "NODE", "PARTITIONS", "COPIES", "IN-SYNC");
  for (const auto& [node, n] : per_node)
    fmt::print("{:<16} {:>10} {:>8} {:>8}\n", node, n.owned, n.copied, n.in_sync);
  if (opts.verbose) {
    fmt::print("\n{:>9} {:<16} {:>6} {:<20} {:<20} {}\n", "PARTITION", "OWNER", "EPOCH", "REPLICAS",
               "IN-SYNC", "STATE");
    for (const auto& row : table.partitions())
      fmt::print("{:>9} {:<16} {:>6} {:<20} {:<20} {}{}\n", row.partition(), row.owner(),
                 row.epoch(),
                 row.replicas().empty() ? "-" : fmt::format("{}", fmt::join(row.replicas(), ",")),
                 row.isr().empty() ? "-" : fmt::format("{}", fmt::join(row.isr(), ",")),
                 row.state(), row.to().empty() ? "" : " -> " + row.to());
  }
  return 0;
}

int locate(const options& opts) {
  auto body = fetch(opts, "/v1/actors/" + path_segment(opts.type) + "/" + path_segment(opts.key));
  if (opts.json) return std::cout << body << "\n", 0;
  auto where = parse<ActorLocation>(body, opts);
  auto node = where.node().empty()           ? std::string{"none (not placed yet)"}
              : where.node_address().empty() ? where.node()
                                             : where.node() + " at " + where.node_address();
  fmt::print("{}/{}: partition {} (placed by {}), node {}, epoch {}, {}\n", where.type(),
             where.key(), where.partition(), where.partition_key(), node, where.epoch(),
             where.active() ? "active" : "not active here");
  return 0;
}

// One request's turns, across the nodes that ran them, as a tree.
int trace(const options& opts) {
  auto body = fetch(opts, "/v1/traces/" + path_segment(opts.trace_id));
  if (opts.json) return std::cout << body << "\n", 0;
  auto view = parse<keel::keelctl::TraceView>(body, opts);
  if (view.turns_size() == 0) {
    fmt::print(stderr,
               "keelctl: no turn of trace {} in the turn logs (each node keeps its most recent "
               "16,384 turns)\n",
               opts.trace_id);
    return 1;
  }
  std::map<std::string, int> nodes;
  for (const auto& t : view.turns()) ++nodes[t.node()];
  fmt::print("trace {}: {} turns on {} node(s)\n", view.trace_id(), view.turns_size(),
             nodes.size());
  fmt::print("{}", keel::keelctl::render_trace_tree(view));
  return 0;
}

// Every member's /v1/stats (parsed, and as it came for --json), the asked node's at the
// address it was asked at. A member that does not answer is named in the frame, not fatal:
// the others are still worth seeing.
struct gathered {
  std::vector<keel::keelctl::member_stats> members;
  std::vector<std::string> bodies;
};

gathered gather_stats(const options& opts) {
  auto view = parse<ClusterView>(fetch(opts, "/v1/cluster"), opts);
  gathered out;
  for (const auto& m : view.members()) {
    if (m.status() == "down") continue;
    keel::keelctl::member_stats member;
    member.node_id = m.node_id();
    member.address = m.node_id() == view.node_id() ? opts.node : m.http_address();
    auto got = try_fetch(opts, member.address, "/v1/stats");
    if (got.body) {
      out.bodies.push_back(*got.body);
      keel::runtime::NodeStats stats;
      google::protobuf::util::JsonParseOptions parse_opts;
      parse_opts.ignore_unknown_fields = true;
      if (google::protobuf::util::JsonStringToMessage(*got.body, &stats, parse_opts).ok())
        member.stats = std::move(stats);
      else
        member.error = "answered JSON keelctl cannot read";
    } else {
      member.error = got.error;
    }
    out.members.push_back(std::move(member));
  }
  return out;
}

// The hottest actor types and actors of every member, a frame every `delay_s` until
// interrupted, or one.
int top(const options& opts) {
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  while (true) {
    auto got = gather_stats(opts);
    if (opts.json) {
      std::cout << fmt::format("[{}]\n", fmt::join(got.bodies, ","));
    } else {
      // Each frame replaces the last on a terminal; piped, frames follow each other.
      if (terminal && !opts.once) std::cout << "\x1b[H\x1b[2J";
      std::cout << keel::keelctl::render_top(got.members);
    }
    std::cout.flush();
    if (opts.once) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>{opts.delay_s});
  }
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  CLI::App app{"keelctl: a Keel cluster's state, from any node's HTTP API"};
  app.add_option("--node", opts.node,
                 "a node's HTTP address, host:port, or https://host:port for a node with "
                 "--tls-cert")
      ->capture_default_str()
      ->envname("KEEL_NODE");
  app.add_option("--ca", opts.ca,
                 "CA certificate (PEM) that signed an https node's certificate; without it, "
                 "this machine's trusted CAs")
      ->check(CLI::ExistingFile)
      ->envname("KEEL_CA");
  app.add_option("--api-key", opts.api_key, "API key, for a node run with --api-keys-file")
      ->envname("KEEL_API_KEY");
  app.add_flag("--json", opts.json, "print the node's JSON answer instead of a table");
  app.require_subcommand(1);
  app.fallthrough();  // `keelctl members --json` as well as `keelctl --json members`
  auto* status_cmd = app.add_subcommand("status", "cluster name, coordinator, members, fence");
  auto* members_cmd = app.add_subcommand("members", "one line per member");
  auto* partitions_cmd =
      app.add_subcommand("partitions", "placed partitions and their copies per node");
  partitions_cmd->add_flag("-v,--verbose", opts.verbose, "also list every placed partition");
  auto* locate_cmd = app.add_subcommand("locate", "where an actor lives: partition and node");
  locate_cmd->add_option("TYPE", opts.type, "actor type")->required();
  locate_cmd->add_option("KEY", opts.key, "actor key")->required();
  auto* trace_cmd =
      app.add_subcommand("trace", "one request's turns as a tree: node, duration, outcome");
  trace_cmd->add_option("TRACE_ID", opts.trace_id, "32 hex digits (the traceparent's trace id)")
      ->required();
  auto* top_cmd = app.add_subcommand(
      "top", "the hottest actor types and actors of every member, refreshed until interrupted");
  top_cmd->add_flag("--once", opts.once, "print one frame and exit");
  top_cmd->add_option("-d,--delay", opts.delay_s, "seconds between frames")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* drain_cmd = app.add_subcommand(
      "drain", "move a node's partitions to the others, then it leaves (and its process exits)");
  std::string drain_node;
  bool no_wait = false;
  int drain_timeout_s = 120;
  drain_cmd->add_option("NODE_ID", drain_node, "the node to drain")->required();
  drain_cmd->add_flag("--no-wait", no_wait, "return once the drain is requested");
  drain_cmd->add_option("--timeout", drain_timeout_s, "seconds to wait for the node to leave")
      ->capture_default_str();
  auto* undrain_cmd = app.add_subcommand(
      "undrain", "withdraw a node's drain that has not finished: it takes partitions again");
  std::string undrain_node;
  undrain_cmd->add_option("NODE_ID", undrain_node, "the node whose drain to withdraw")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help: 0; a bad command line: 2, as keel-node does.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (status_cmd->parsed()) return status(opts);
  if (members_cmd->parsed()) return members(opts);
  if (partitions_cmd->parsed()) return partitions(opts);
  if (locate_cmd->parsed()) return locate(opts);
  if (trace_cmd->parsed()) return trace(opts);
  if (top_cmd->parsed()) return top(opts);
  if (drain_cmd->parsed())
    return drain(opts, drain_node, !no_wait, std::chrono::seconds{drain_timeout_s});
  if (undrain_cmd->parsed()) return undrain(opts, undrain_node);
  return 2;
}
