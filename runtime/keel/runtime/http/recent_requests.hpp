#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "keel/runtime/clock.hpp"
#include "keel/runtime/stats.pb.h"
#include "keel/runtime/trace_id.hpp"

namespace keel::http {

class gateway;

/// The node's most recent slow requests (answered `slow` or later after they arrived, the
/// threshold of the slow-request log) and failed ones (a 5xx answer), each with its trace
/// id, so the dashboard can list them and open their traces. Each list is a ring of
/// `capacity` entries: memory is bounded whatever the traffic. A request both slow and
/// failed is in both.
/// Thread safety: thread-safe; record() runs on whichever thread answered a request, under
/// one short lock.
class recent_requests {
 public:
  struct options {
    std::chrono::milliseconds slow{1000};
    size_t capacity = 32;
    // What stamps each entry (the node's wall_clock seam). Requires: not null.
    std::shared_ptr<const wall_clock> wall;
  };

  /// What one answered request was.
  struct answer {
    const trace_id& trace;
    std::string_view method;
    std::string_view route;  // the template
    std::string_view path;
    int status;
    std::chrono::microseconds took;
  };

  explicit recent_requests(options opts);

  /// Keeps `a` if it was slow or failed; otherwise does nothing (no lock taken).
  void record(const answer& a);
  /// Both lists, newest first.
  keel::runtime::RecentRequests view(const std::string& node_id) const;

 private:
  void push(std::deque<keel::runtime::RecentRequest>& ring, keel::runtime::RecentRequest entry);

  const options opts_;
  mutable std::mutex mutex_;
  std::deque<keel::runtime::RecentRequest> slow_;    // guarded by mutex_; oldest first
  std::deque<keel::runtime::RecentRequest> failed_;  // guarded by mutex_; oldest first
};

/// Registers `GET /v1/requests/recent` (scope admin: it names actors' keys in its paths).
/// Requires: called before serving; `recent` outlives the gateway's serving.
void add_recent_requests_route(gateway& gw, const recent_requests& recent, std::string node_id);

}  // namespace keel::http
