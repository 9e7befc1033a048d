#include "node_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

namespace keel::sim {

namespace {

http_reply convert(const httplib::Result& res) {
  http_reply out;
  if (!res) {
    out.transport_error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.body = res->body;
  return out;
}

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

node_client::node_client(const endpoint& node, std::chrono::milliseconds timeout)
    : cli_(std::make_unique<httplib::Client>(node.host, node.port)) {
  cli_->set_tcp_nodelay(true);
  cli_->set_keep_alive(true);
  cli_->set_connection_timeout(std::min(timeout, std::chrono::milliseconds{2000}));
  cli_->set_read_timeout(timeout);
  cli_->set_write_timeout(timeout);
}

node_client::~node_client() = default;

http_reply node_client::get(const std::string& path) {
  return convert(cli_->Get(path));
}

http_reply node_client::post(const std::string& path, const std::string& json_body) {
  return convert(cli_->Post(path, json_body, "application/json"));
}

http_reply node_client::put(const std::string& path, const std::string& json_body) {
  return convert(cli_->Put(path, json_body, "application/json"));
}

std::optional<double> metric_value(const std::string& text, const std::string& name) {
  size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line{text.data() + at, end - at};
    // "name value": the name must be followed by a space, or keel_turns_total would also
    // match keel_turns_total_something.
    if (line.size() > name.size() + 1 && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      try {
        return std::stod(std::string{line.substr(name.size() + 1)});
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace keel::sim
