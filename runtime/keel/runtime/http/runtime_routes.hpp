#pragma once

namespace keel {
class node_runtime;
}

namespace keel::http {

class gateway;

/// Registers the runtime's own routes: `POST /v1/actors/{type}/{key}/{message}`,
/// `GET /v1/actors/{type}/{key}`, `GET /v1/traces/{traceId}`, `/healthz`, `/readyz` and
/// `/metrics`. Requires: `runtime` outlives `gw`.
void add_runtime_routes(gateway& gw, node_runtime& runtime);

}  // namespace keel::http
