#include "call_stats.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace keel::sim {

std::string_view route_name(route r) {
  switch (r) {
    case route::request_ride:
      return "POST /v1/rides";
    case route::accept:
      return "POST /v1/rides/{id}/accept";
    case route::start:
      return "POST /v1/rides/{id}/start";
    case route::complete:
      return "POST /v1/rides/{id}/complete";
    case route::cancel:
      return "POST /v1/rides/{id}/cancel";
    case route::get_ride:
      return "GET /v1/rides/{id}";
    case route::put_location:
      return "PUT /v1/drivers/{id}/location";
    case route::route_count:
      break;
  }
  return "?";
}

void call_stats::record(route r, std::chrono::nanoseconds took, const http_reply& reply) {
  // Failures stay out of the latency samples: a refused or timed-out call measures the
  // failure path, and it is counted below instead.
  if (reply.ok()) {
    samples_ns_[static_cast<size_t>(r)].push_back(took.count());
    return;
  }
  auto key = fmt::format("{}: {}", route_name(r), reply.error_key());
  if (++errors_[key] == 1) first_errors_[key] = reply.body.substr(0, 400);
}

void call_stats::record_bad_body(route r) {
  ++errors_[fmt::format("{}: unparseable 2xx body", route_name(r))];
}

void call_stats::merge(const call_stats& other) {
  for (size_t i = 0; i < samples_ns_.size(); ++i)
    samples_ns_[i].insert(samples_ns_[i].end(), other.samples_ns_[i].begin(),
                          other.samples_ns_[i].end());
  for (const auto& [key, n] : other.errors_) errors_[key] += n;
  for (const auto& [key, body] : other.first_errors_) first_errors_.try_emplace(key, body);
}

latency_summary call_stats::summarize(route r) const {
  auto xs = samples_ns_[static_cast<size_t>(r)];
  latency_summary out;
  out.count = xs.size();
  if (xs.empty()) return out;
  std::sort(xs.begin(), xs.end());
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  auto rank = [&](double q) {
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(xs.size())));
    return static_cast<double>(xs[std::clamp<size_t>(k, 1, xs.size()) - 1]) / 1e6;
  };
  out.p50_ms = rank(0.50);
  out.p99_ms = rank(0.99);
  out.p999_ms = rank(0.999);
  return out;
}

int64_t call_stats::error_count() const {
  int64_t n = 0;
  for (const auto& [key, count] : errors_) n += count;
  return n;
}

}  // namespace keel::sim
