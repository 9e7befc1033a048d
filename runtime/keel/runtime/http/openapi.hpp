#pragma once

#include <string>

namespace keel::http {

class gateway;

/// The node's API contract as an OpenAPI 3.1 document, generated from the gateway's route
/// table: each route's path parameters, body and reply (from the protobuf descriptors in
/// its route_doc, with names and types as the JSON mapping prints them: lowerCamelCase
/// json_name, 64-bit integers as strings, enums as their value names), the error body,
/// the statuses it can answer, and the API key scope it needs. Generated, so it cannot
/// drift from the code.
/// Requires: every route is added; the gateway is not serving yet or adds no more routes.
std::string openapi_document(const gateway& gw);

/// Registers `GET /openapi.json` (open, like /healthz) serving openapi_document(), made
/// once, now. Requires: called after every other route is added, before serving.
void add_openapi_route(gateway& gw);

}  // namespace keel::http
