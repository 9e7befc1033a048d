#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sim_options.hpp"

namespace httplib {
class Client;
}

namespace keel::sim {

/// One HTTP exchange as the sim saw it.
/// A plain value; immutable once returned.
struct http_reply {
  int status = 0;  // 0: no HTTP answer at all, see `transport_error`
  std::string body;
  std::string transport_error;  // httplib's name for what went wrong when status is 0

  bool ok() const { return status >= 200 && status < 300; }
  /// "409 conflict", "503 unavailable" or "transport Read": the key errors are tallied by.
  std::string error_key() const;
};

/// A keep-alive HTTP connection to one keel-node: each sim thread owns one, so requests of
/// different threads never queue behind each other on a shared socket.
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
  std::unique_ptr<httplib::Client> cli_;
};

/// The value of an unlabelled counter or gauge in Prometheus text; nullopt when `text` has
/// no sample line for `name`.
std::optional<double> metric_value(const std::string& text, const std::string& name);

}  // namespace keel::sim
