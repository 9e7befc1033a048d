#pragma once

#include <chrono>
#include <string>

namespace keel::chaos {

/// An answer to one probe of a node's or etcd's HTTP API; status 0 when none came.
struct probe_reply {
  int status = 0;
  std::string body;
};

/// GET (or POST with an empty body) 127.0.0.1:`port``path`, on a fresh connection, within
/// `timeout`. Thread-safe: shares nothing.
probe_reply http_get(int port, const std::string& path, std::chrono::milliseconds timeout);
probe_reply http_post(int port, const std::string& path, std::chrono::milliseconds timeout);

}  // namespace keel::chaos
