#include "http_wire.hpp"

#include <poll.h>
#include <strings.h>

#include <iterator>

#include <fmt/format.h>

namespace keel::sim {

namespace {

// The "code" of Keel's error body {"error":{"code":"...","message":"..."}}. A substring
// search, not a JSON parse: the body may not be Keel's (a proxy's page), and then the status
// alone is the key.
std::string keel_error_code(const std::string& body) {
  static const std::string marker = "\"code\":\"";
  auto at = body.find(marker);
  if (at == std::string::npos) return {};
  at += marker.size();
  auto end = body.find('"', at);
  return end == std::string::npos ? std::string{} : body.substr(at, end - at);
}

}  // namespace

std::string http_reply::error_key() const {
  if (status == 0) return "transport " + transport_error;
  auto code = keel_error_code(body);
  return code.empty() ? std::to_string(status) : fmt::format("{} {}", status, code);
}

http_reply transport_failure(std::string what) {
  http_reply out;
  out.transport_error = std::move(what);
  return out;
}

void format_request(std::string& out, std::string_view method, std::string_view path,
                    const endpoint& node, std::string_view body) {
  out.clear();
  fmt::format_to(std::back_inserter(out), "{} {} HTTP/1.1\r\nHost: {}\r\n", method, path,
                 node.authority());
  if (!node.api_key.empty())
    fmt::format_to(std::back_inserter(out), "Authorization: Bearer {}\r\n", node.api_key);
  if (!body.empty() || method != "GET")
    fmt::format_to(std::back_inserter(out),
                   "Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  out += "\r\n";
  out += body;
}

response_reader::response_reader() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
}

bool response_reader::feed(const char* data, size_t size) {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    // A header's name and value may each come in pieces.
    s.on_header_field = [](http_parser* p, const char* at, size_t length) {
      auto* self = static_cast<response_reader*>(p->data);
      if (self->field_complete_) self->field_.clear();
      self->field_complete_ = false;
      self->field_.append(at, length);
      return 0;
    };
    s.on_header_value = [](http_parser* p, const char* at, size_t length) {
      auto* self = static_cast<response_reader*>(p->data);
      self->field_complete_ = true;
      if (strcasecmp(self->field_.c_str(), "keel-owner-address") == 0)
        self->owner_address_.append(at, length);
      return 0;
    };
    s.on_body = [](http_parser* p, const char* at, size_t length) {
      static_cast<response_reader*>(p->data)->body_.append(at, length);
      return 0;
    };
    s.on_message_complete = [](http_parser* p) {
      auto* self = static_cast<response_reader*>(p->data);
      self->complete_ = true;
      self->keep_alive_ = http_should_keep_alive(p) != 0;
      return 0;
    };
    return s;
  }();
  http_parser_execute(&parser_, &settings, data, size);
  return parser_.http_errno == HPE_OK;
}

http_reply response_reader::failure() const {
  return transport_failure(std::string{"Parse "} +
                           http_errno_name(static_cast<http_errno>(parser_.http_errno)));
}

http_reply response_reader::take() {
  http_reply out;
  out.status = static_cast<int>(parser_.status_code);
  out.body = std::move(body_);
  out.owner_address = std::move(owner_address_);
  return out;
}

bool idle_connection_usable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace keel::sim
