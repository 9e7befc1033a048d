#include "async_node_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "client_tls.hpp"

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

// Connects, and for an https node shakes hands; false with connect_error_ set if either
// failed.
asio::awaitable<bool> async_node_client::connect() {
  connect_error_ = "Connection";
  auto [resolve_error, addresses] =
      co_await resolver_.async_resolve(node_.host, std::to_string(node_.port), as_result);
  if (resolve_error || timed_out_) co_return false;
  auto [connect_error, connected] = co_await asio::async_connect(socket_, addresses, as_result);
  if (connect_error || timed_out_) co_return false;
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay{true}, ignored);
  tls_.reset();
  if (!node_.https) co_return true;
  if (!node_.tls) {
    connect_error_ = "TLS: no TLS context for " + node_.host;
    co_return false;
  }
  tls_.emplace(socket_, node_.tls->context());
  ERR_clear_error();
  if (!expect_peer(tls_->native_handle(), node_.host)) {
    connect_error_ = tls_failure("TLS setup for " + node_.host);
    co_return false;
  }
  auto [handshake_error] =
      co_await tls_->async_handshake(asio::ssl::stream_base::client, as_result);
  if (handshake_error || timed_out_) {
    if (!timed_out_) {
      connect_error_ = "TLS handshake with " + node_.host + ": " + handshake_error.message();
      if (auto verify = SSL_get_verify_result(tls_->native_handle()); verify != X509_V_OK)
        connect_error_ += std::string{" ("} + X509_verify_cert_error_string(verify) + ")";
    }
    co_return false;
  }
  co_return true;
}

// Runs `op` on the TLS stream if the connection has one, else on the socket.
template <class Operation>
asio::awaitable<std::pair<asio::error_code, size_t>> async_node_client::on_stream(Operation op) {
  auto [error, n] = tls_ ? co_await op(*tls_) : co_await op(socket_);
  co_return std::pair{error, n};
}

asio::awaitable<http_reply> async_node_client::exchange_on_connection(const std::string& method,
                                                                      const std::string& path,
                                                                      const std::string& body) {
  if (!socket_.is_open() && !co_await connect()) co_return fail(connect_error_);
  format_request(request_, method, path, node_, body);
  auto [write_error, written] = co_await on_stream([this](auto& stream) {
    return asio::async_write(stream, asio::buffer(request_), as_result);
  });
  if (write_error) co_return fail("Write");
  response_reader reader;
  while (!reader.complete()) {
    auto [read_error, n] = co_await on_stream(
        [this](auto& stream) { return stream.async_read_some(asio::buffer(buffer_), as_result); });
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
