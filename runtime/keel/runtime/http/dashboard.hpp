#pragma once

#include <string_view>

namespace keel::http {

class gateway;

/// The dashboard page served at `GET /`: one self-contained HTML file whose scripts poll
/// `/metrics`, `/v1/cluster`, `/v1/stats`, `/v1/cluster/events` and `/v1/requests/recent`
/// and read `/v1/traces/{traceId}`, and draw the node's activity, latency, cluster and
/// traces. No auth for the page itself: the routes it reads check keys as usual. The text
/// is dashboard.html with its scripts inlined, compiled in at build time; it lives as long
/// as the program. Thread-safe.
std::string_view dashboard_html();

/// Registers `GET /`.
void add_dashboard_route(gateway& gw);

}  // namespace keel::http
