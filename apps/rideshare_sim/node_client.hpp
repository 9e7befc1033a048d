#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client_tls.hpp"
#include "http_wire.hpp"
#include "sim_options.hpp"

namespace keel::sim {

/// A blocking keep-alive HTTP/1.1 connection to one keel-node, for the sim's setup and its
/// checks (the load itself runs on async_node_client). A request leaves in one send, and
/// blocking reads are bounded by socket timeouts instead of a poll before each read:
/// cpp-httplib sent every POST as two segments and polled ~6 times per exchange
/// (docs/benchmarks.md). An https node's connection is TLS over the same blocking socket.
/// Thread safety: externally synchronized (one thread at a time; in practice one owner).
class node_client {
 public:
  /// `timeout` bounds connecting, each read and each write, so no call blocks forever.
  node_client(const endpoint& node, std::chrono::milliseconds timeout);
  ~node_client();
  node_client(const node_client&) = delete;
  node_client& operator=(const node_client&) = delete;

  http_reply get(const std::string& path);
  http_reply post(const std::string& path, const std::string& json_body);
  http_reply put(const std::string& path, const std::string& json_body);

 private:
  http_reply exchange(std::string_view method, const std::string& path, std::string_view body);
  bool connect_socket(std::string& error);
  bool start_tls(std::string& error);
  bool send_all(std::string_view bytes);
  // Bytes read into buffer_; <= 0: closed, broken, or the read timeout passed.
  long receive_some();
  void disconnect();

  endpoint node_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;  // over fd_ for an https node
  std::chrono::steady_clock::time_point last_used_;
  std::string request_;  // reused buffer of the request being sent
  std::vector<char> buffer_;
};

/// The value of an unlabelled counter or gauge in Prometheus text; nullopt when `text` has
/// no sample line for `name`.
std::optional<double> metric_value(const std::string& text, const std::string& name);

}  // namespace keel::sim
