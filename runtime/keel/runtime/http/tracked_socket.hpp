#pragma once
// Only restinio_server.cpp includes this: asio stays in that one file.

#include <memory>
#include <string>
#include <utility>

#include <asio.hpp>

#include "keel/runtime/http/connection_table.hpp"

namespace keel::http::detail {

// Hands the server's connection_table to the sockets RESTinio creates, which get only the
// io_context.
class socket_service : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit socket_service(asio::execution_context& ctx) : service(ctx) {}
  socket_service(asio::execution_context& ctx, std::shared_ptr<connection_table> table)
      : service(ctx), table_(std::move(table)) {}
  const std::shared_ptr<connection_table>& table() const noexcept { return table_; }

 private:
  void shutdown() override {}
  std::shared_ptr<connection_table> table_;
};

// A TCP socket that reports to the connection_table when the server waits to read from it
// (idle), writes to it and closes it, so that idle connections can be told from busy ones
// and closed under pressure. RESTinio calls these members through its Socket traits type,
// so they hide the base's; the rest is the plain asio socket.
class tracked_socket : public asio::ip::tcp::socket {
  using base = asio::ip::tcp::socket;

 public:
  explicit tracked_socket(asio::io_context& ctx)
      : base(ctx), table_(asio::use_service<socket_service>(ctx).table()) {}
  tracked_socket(tracked_socket&& other) noexcept
      : base(std::move(other)), table_(other.table_), serial_(std::exchange(other.serial_, 0)) {}
  tracked_socket& operator=(tracked_socket&&) = delete;
  ~tracked_socket() { forget(); }

  template <class Buffers, class Handler>
  auto async_read_some(const Buffers& buffers, Handler&& handler) {
    if (table_ && is_open()) {
      if (serial_ == 0) open_entry();
      table_->reading(native_handle(), serial_);
    }
    // The completion keeps the handler's executor (RESTinio's strand for this connection).
    auto executor = asio::get_associated_executor(handler, get_executor());
    return base::async_read_some(
        buffers, asio::bind_executor(executor, [table = table_, fd = native_handle(),
                                                serial = serial_, h = std::move(handler)](
                                                   const asio::error_code& ec, size_t n) mutable {
          if (table) table->read_done(fd, serial);
          h(ec, n);
        }));
  }

  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    if (table_ && serial_ != 0) table_->writing(native_handle(), serial_);
    return base::async_write_some(buffers, std::forward<Handler>(handler));
  }

  void close() {
    forget();
    base::close();
  }
  void close(asio::error_code& ec) {
    forget();
    base::close(ec);
  }

 private:
  // Before the descriptor is closed, so that the table never shuts down a reused one.
  void forget() {
    if (table_ && serial_ != 0 && is_open()) table_->closed(native_handle(), serial_);
    serial_ = 0;
  }

  void open_entry() {
    asio::error_code ec;
    auto peer = remote_endpoint(ec);
    serial_ = table_->opened(native_handle(), ec ? std::string{} : peer.address().to_string());
  }

  std::shared_ptr<connection_table> table_;
  uint64_t serial_ = 0;  // 0: not registered (not accepted yet, or moved from)
};

}  // namespace keel::http::detail
