#pragma once

#include <chrono>
#include <memory>

#include <httplib.h>

namespace keel::bench {

/// A keep-alive HTTP client to a node on loopback, as the cluster benchmarks' clients are:
/// no Nagle delay, 10 s to read an answer.
/// Thread safety: one client per thread.
inline std::unique_ptr<httplib::Client> client_for(int port) {
  auto cli = std::make_unique<httplib::Client>("127.0.0.1", port);
  cli->set_tcp_nodelay(true);
  cli->set_keep_alive(true);
  cli->set_read_timeout(std::chrono::seconds{10});
  return cli;
}

}  // namespace keel::bench
