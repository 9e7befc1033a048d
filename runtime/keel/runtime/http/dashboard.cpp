#include "keel/runtime/http/dashboard.hpp"

#include "keel/runtime/http/gateway.hpp"

// dashboard_html() is generated from dashboard.html by cmake/embed_text.cmake.

namespace keel::http {

void add_dashboard_route(gateway& gw) {
  gw.add_open_route(
      "GET", "/",
      [](const exchange_ptr& ex) {
        response resp;
        resp.content_type = "text/html; charset=utf-8";
        resp.body = std::string{dashboard_html()};
        ex->respond(std::move(resp));
      },
      route_doc::text("text/html"));
}

}  // namespace keel::http
