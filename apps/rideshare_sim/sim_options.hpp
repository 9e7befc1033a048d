#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace keel::sim {

class client_tls;

/// Where keel-node's HTTP API listens.
/// Immutable once parsed; safe to share between threads.
struct endpoint {
  // What to resolve and connect to, and to check the certificate against: a name, an IPv4
  // address, or an IPv6 address without its URL brackets ("::1").
  std::string host;
  int port = 0;
  std::string api_key;                    // sent as `Authorization: Bearer KEY` when set
  bool https = false;                     // given as https://host:port
  std::shared_ptr<const client_tls> tls;  // set for https before any connection

  /// "host:port" as in a URL and the Host header: an IPv6 address in brackets, "[::1]:8443".
  std::string authority() const;
};

/// Parses "host:port", "http://host:port" or "https://host:port", where an IPv6 host is in
/// brackets ("https://[::1]:8443", RFC 3986). errc::bad_payload, saying what is wrong, for an
/// empty host, a '[' without its ']', an unbracketed or invalid IPv6 address, or a port
/// outside 1-65535.
caf::expected<endpoint> parse_endpoint(std::string_view text);

/// Parses "250ms", "10s" or "2m"; nullopt when the text is not a duration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// rideshare-sim's command line. Filled once in main before any thread starts, then only read:
/// safe to share between threads as const.
struct sim_options {
  endpoint node{
      "127.0.0.1", 8080, {}, false, {}};  // the first of `nodes`: probes, setup and checks
  // Every node given; connection i goes to nodes[i % size], as a load balancer in front of
  // a cluster would spread them.
  std::vector<endpoint> nodes{node};
  // Sends a ride's and a driver's later requests to the node that owns them, as the
  // Keel-Owner-Address header of an earlier answer named it (a connection per node and
  // dispatcher), instead of through the dispatcher's own node, which forwards them.
  bool follow_owner = false;
  // Rides started per second on a fixed schedule (open loop); 0: each dispatcher starts its
  // next ride when the last one ends (closed loop).
  double rate = 0;
  int drivers = 200;
  int riders = 1000;
  int concurrency = 16;
  int threads = 1;  // event-loop threads of the load phase
  std::chrono::milliseconds duration{std::chrono::seconds{10}};
  int64_t rides = 0;  // 0: no count limit, run for `duration`
  double cancel_rate = 0.1;
  uint64_t seed = 1;
  bool json = false;
  // How long the invariant check waits for payments, which settle on reminders after the
  // ride's last response.
  std::chrono::milliseconds settle_timeout{std::chrono::seconds{30}};
  // Above keel-node's default request deadline (5 s), so the node answers 504 before the
  // client gives up and the sim sees the node's error code, not a bare timeout.
  std::chrono::milliseconds request_timeout{std::chrono::seconds{10}};
};

/// The node connection `index` goes to.
inline const endpoint& node_for(const sim_options& opts, int index) {
  return opts.nodes[static_cast<size_t>(index) % opts.nodes.size()];
}

/// The fee keel-node charges for a ride cancelled after accept (rideshare_options'
/// default; keel-node has no flag for it).
inline constexpr int32_t cancellation_fee_cents = 500;

}  // namespace keel::sim
