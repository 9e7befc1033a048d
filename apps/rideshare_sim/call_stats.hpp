#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "node_client.hpp"

namespace keel::sim {

/// The route templates the sim calls while under load.
enum class route : uint8_t {
  request_ride,
  accept,
  start,
  complete,
  cancel,
  get_ride,
  put_location,
  route_count,
};

/// "POST /v1/rides/{id}/accept" and so on.
std::string_view route_name(route r);

/// Latency percentiles of one route's successful calls.
/// A plain value.
struct latency_summary {
  size_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
};

/// What one sim thread saw of its calls: every successful call's latency per route, and
/// every failure keyed by route, HTTP status and Keel error code. Whole samples, not
/// histograms, so p999 is exact for runs of a few hundred thousand calls.
/// Thread safety: externally synchronized. Each worker owns one; they are merged after join.
class call_stats {
 public:
  void record(route r, std::chrono::nanoseconds took, const http_reply& reply);
  /// A 2xx reply whose body the sim could not use.
  void record_bad_body(route r);
  void merge(const call_stats& other);

  latency_summary summarize(route r) const;
  /// "POST /v1/rides/{id}/accept: 409 conflict" -> count.
  const std::map<std::string, int64_t>& errors() const { return errors_; }
  /// The body of the first failure of each key, to tell what went wrong.
  const std::map<std::string, std::string>& first_errors() const { return first_errors_; }
  int64_t error_count() const;

 private:
  std::array<std::vector<int64_t>, static_cast<size_t>(route::route_count)> samples_ns_;
  std::map<std::string, int64_t> errors_;
  std::map<std::string, std::string> first_errors_;
};

}  // namespace keel::sim
