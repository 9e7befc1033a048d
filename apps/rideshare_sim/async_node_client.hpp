#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>

#include "http_wire.hpp"
#include "sim_options.hpp"

namespace keel::sim {

/// A keep-alive HTTP/1.1 connection to one keel-node for the load phase. A coroutine awaits
/// each exchange, so one thread drives every connection from one epoll loop, as wrk does: a
/// thread per connection blocked in recv cost two context switches per request, on the two
/// cores the node under test runs on too (docs/benchmarks.md). Requests leave in one send;
/// responses are read with response_reader. An https node's connection is TLS (client_tls).
/// Thread safety: externally synchronized; used only on the thread running its io_context.
class async_node_client {
 public:
  using clock = std::chrono::steady_clock;

  /// `timeout` bounds each exchange, connecting included; load_loop's watchdog enforces it.
  async_node_client(asio::io_context& io, const endpoint& node, std::chrono::milliseconds timeout);
  async_node_client(const async_node_client&) = delete;
  async_node_client& operator=(const async_node_client&) = delete;

  /// One request ("GET", "POST" or "PUT"; a JSON body unless empty) and its response.
  /// By value: a coroutine's reference parameters would outlive what they refer to as soon
  /// as a caller does not await at once.
  asio::awaitable<http_reply> exchange(std::string method, std::string path, std::string body);

  /// Closes the connection if its exchange has run longer than the timeout, so that the
  /// exchange fails with transport error "Timeout".
  void enforce_timeout(clock::time_point now);

 private:
  asio::awaitable<http_reply> exchange_on_connection(const std::string& method,
                                                     const std::string& path,
                                                     const std::string& body);
  /// The failure `what`, or "Timeout" if the watchdog closed the connection.
  http_reply fail(std::string what);
  void disconnect();

  asio::awaitable<bool> connect();
  template <class Operation>
  asio::awaitable<std::pair<asio::error_code, size_t>> on_stream(Operation op);

  endpoint node_;
  std::chrono::milliseconds timeout_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  // TLS over socket_ for an https node; made anew for each connection, never destroyed
  // while an operation on it is pending (the watchdog only closes socket_).
  std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  std::string connect_error_;
  std::optional<clock::time_point> busy_since_;  // set while an exchange runs
  bool timed_out_ = false;
  clock::time_point last_used_;
  std::string request_;  // reused buffer of the request being sent
  std::vector<char> buffer_;
};

}  // namespace keel::sim
