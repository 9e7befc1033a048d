#include "async_node_client.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace keel::sim {

namespace {

// Completion tokens that hand back the error code instead of throwing it.
constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

async_node_client::async_node_client(asio::io_context& io, const endpoint& node,
                                     std::chrono::milliseconds timeout)
    : node_(node), timeout_(timeout), resolver_(io), socket_(io), buffer_(16 * 1024) {}

void async_node_client::enforce_timeout(clock::time_point now) {
  if (busy_since_ && now - *busy_since_ > timeout_ && !timed_out_) {
    timed_out_ = true;
    // The pending operation completes with an error; the exchange checks the flag after
    // each step, so one that completed just before this does not go on unbounded.
    resolver_.cancel();
    disconnect();
  }
}

void async_node_client::disconnect() {
  asio::error_code ignored;
  socket_.close(ignored);
}

http_reply async_node_client::fail(std::string what) {
  disconnect();
  return transport_failure(timed_out_ ? "Timeout" : std::move(what));
}

asio::awaitable<http_reply> async_node_client::exchange(std::string method, std::string path,
                                                        std::string body) {
  auto now = clock::now();
  if (socket_.is_open() && now - last_used_ > idle_check_after &&
      !idle_connection_usable(socket_.native_handle()))
    disconnect();
  busy_since_ = now;
  timed_out_ = false;
  auto reply = co_await exchange_on_connection(method, path, body);
  busy_since_.reset();
  last_used_ = clock::now();
  co_return reply;
}

asio::awaitable<http_reply> async_node_client::exchange_on_connection(const std::string& method,
                                                                      const std::string& path,
                                                                      const std::string& body) {
  if (!socket_.is_open()) {
    auto [resolve_error, addresses] =
        co_await resolver_.async_resolve(node_.host, std::to_string(node_.port), as_result);
    if (resolve_error || timed_out_) co_return fail("Connection");
    auto [connect_error, connected] = co_await asio::async_connect(socket_, addresses, as_result);
    if (connect_error || timed_out_) co_return fail("Connection");
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay{true}, ignored);
  }
  format_request(request_, method, path, node_, body);
  auto [write_error, written] =
      co_await asio::async_write(socket_, asio::buffer(request_), as_result);
  if (write_error) co_return fail("Write");
  response_reader reader;
  while (!reader.complete()) {
    auto [read_error, n] = co_await socket_.async_read_some(asio::buffer(buffer_), as_result);
    if (read_error) co_return fail("Read");  // closed, broken, or closed by the watchdog
    if (!reader.feed(buffer_.data(), n)) {
      disconnect();
      co_return reader.failure();
    }
  }
  if (!reader.keep_alive()) disconnect();
  co_return reader.take();
}

}  // namespace keel::sim
