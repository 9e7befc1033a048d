#include "keel/test/otlp_receiver.hpp"

#include <httplib.h>

#include <fmt/format.h>

namespace keel::test {

namespace {

std::string attribute(const otlp::Resource& resource, const std::string& key) {
  for (const auto& kv : resource.attributes())
    if (kv.key() == key) return kv.value().string_value();
  return {};
}

}  // namespace

std::string hex_of(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

otlp_receiver::otlp_receiver() : server_(std::make_unique<httplib::Server>()) {
  server_->Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
    otlp::ExportTraceServiceRequest request;
    std::lock_guard guard{mutex_};
    if (req.get_header_value("Content-Type") != "application/x-protobuf" ||
        !request.ParseFromString(req.body)) {
      ++bad_requests_;
      res.status = 400;
      return;
    }
    for (const auto& rs : request.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& span : ss.spans())
          spans_.push_back({attribute(rs.resource(), "service.name"),
                            attribute(rs.resource(), "keel.node.id"),
                            attribute(rs.resource(), "keel.cluster.name"), span});
    res.set_content(otlp::ExportTraceServiceResponse{}.SerializeAsString(),
                    "application/x-protobuf");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  // Bound already: a connection made before the loop runs waits in the backlog.
  thread_ = std::thread{[this] { server_->listen_after_bind(); }};
}

otlp_receiver::~otlp_receiver() {
  server_->stop();
  thread_.join();
}

std::string otlp_receiver::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::vector<received_span> otlp_receiver::spans_of(const std::string& trace_hex) const {
  std::lock_guard guard{mutex_};
  std::vector<received_span> out;
  for (const auto& s : spans_)
    if (hex_of(s.span.trace_id()) == trace_hex) out.push_back(s);
  return out;
}

size_t otlp_receiver::bad_requests() const {
  std::lock_guard guard{mutex_};
  return bad_requests_;
}

}  // namespace keel::test
