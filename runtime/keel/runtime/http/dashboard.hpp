#pragma once

#include <string_view>

namespace keel::http {

class gateway;

/// The dashboard page served at `GET /`: one self-contained HTML file whose script polls
/// `/metrics` (and `/v1/cluster`) and draws the node's activity and latency. No auth: it
/// shows only what `/metrics` already shows. The text is dashboard.html, compiled in at
/// build time; it lives as long as the program. Thread-safe.
std::string_view dashboard_html();

/// Registers `GET /`.
void add_dashboard_route(gateway& gw);

}  // namespace keel::http
