#include "keel/runtime/http/recent_requests.hpp"

#include <algorithm>

#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"

namespace keel::http {

namespace {

// A path may be 8 KiB: the ring keeps its start, which names the route and its ids.
constexpr size_t max_path_bytes = 200;

constexpr bool failed(int status) {
  return status >= 500;
}

}  // namespace

recent_requests::recent_requests(options opts) : opts_(std::move(opts)) {}

void recent_requests::record(const answer& a) {
  const bool slow = a.took >= opts_.slow;
  if (!slow && !failed(a.status)) return;
  keel::runtime::RecentRequest entry;
  entry.set_trace_id(a.trace.to_hex());
  entry.set_method(std::string{a.method});
  entry.set_route(std::string{a.route});
  entry.set_path(std::string{a.path.substr(0, max_path_bytes)});
  entry.set_status(static_cast<uint32_t>(a.status));
  entry.set_duration_ms(static_cast<double>(a.took.count()) / 1000.0);
  entry.set_time_ms(opts_.wall->now_ms());
  std::lock_guard guard{mutex_};
  if (slow) push(slow_, entry);
  if (failed(a.status)) push(failed_, std::move(entry));
}

void recent_requests::push(std::deque<keel::runtime::RecentRequest>& ring,
                           keel::runtime::RecentRequest entry) {
  if (ring.size() >= opts_.capacity) ring.pop_front();
  ring.push_back(std::move(entry));
}

keel::runtime::RecentRequests recent_requests::view(const std::string& node_id) const {
  keel::runtime::RecentRequests out;
  out.set_node_id(node_id);
  out.set_slow_ms(static_cast<uint32_t>(opts_.slow.count()));
  out.set_capacity(static_cast<uint32_t>(opts_.capacity));
  std::lock_guard guard{mutex_};
  for (auto it = slow_.rbegin(); it != slow_.rend(); ++it) *out.add_slow() = *it;
  for (auto it = failed_.rbegin(); it != failed_.rend(); ++it) *out.add_failed() = *it;
  return out;
}

void add_recent_requests_route(gateway& gw, const recent_requests& recent, std::string node_id) {
  gw.add_route(
      "GET", "/v1/requests/recent",
      [&recent, node_id = std::move(node_id)](const exchange_ptr& ex) {
        ex->respond(200, to_json(recent.view(node_id)));
      },
      api_scope::admin, route_doc::json(nullptr, keel::runtime::RecentRequests::descriptor()));
}

}  // namespace keel::http
