#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/otlp/trace_service.pb.h"

namespace httplib {
class Server;
}

namespace keel::test {

/// One span as a collector received it, with the resource attributes of its request.
struct received_span {
  std::string service;  // service.name
  std::string node;     // keel.node.id
  std::string cluster;  // keel.cluster.name
  otlp::Span span;
};

/// Lowercase hex of `bytes` (an id as OTLP carries it).
std::string hex_of(const std::string& bytes);

/// A small OTLP/HTTP collector inside the test process: it listens on a free loopback
/// port, takes `POST /v1/traces` with protobuf bodies (answering 200) and keeps every
/// span. Not a fake: keel-node sends it real requests over real sockets.
/// Thread safety: thread-safe.
class otlp_receiver {
 public:
  otlp_receiver();
  ~otlp_receiver();
  otlp_receiver(const otlp_receiver&) = delete;
  otlp_receiver& operator=(const otlp_receiver&) = delete;

  /// The URL to pass as --otlp-endpoint.
  std::string endpoint() const;
  /// The spans received so far whose trace id is `trace_hex`, in arrival order.
  std::vector<received_span> spans_of(const std::string& trace_hex) const;
  /// Requests that were not a protobuf ExportTraceServiceRequest on /v1/traces.
  size_t bad_requests() const;

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<received_span> spans_;  // guarded by mutex_, as is bad_requests_
  size_t bad_requests_ = 0;
  std::thread thread_;
};

}  // namespace keel::test
