#pragma once
// Only restinio_server.cpp includes this: asio's TLS stays in that one file.

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <restinio/tls.hpp>

#include "keel/runtime/http/tracked_socket.hpp"

namespace keel::http::detail {

/// A TLS connection, tracked as a plain one is (basic_tracked_socket): the connection
/// table sees it idle while its handshake runs and whenever the server waits to read, and
/// the version sniffer reads the decrypted bytes. The TLS context comes from the
/// io_context's socket_service.
/// Thread safety: as asio's sockets, one operation of each kind at a time, on the
/// connection's strand.
class tracked_tls_socket : public basic_tracked_socket<restinio::tls_socket_t> {
 public:
  explicit tracked_tls_socket(asio::io_context& ctx)
      : basic_tracked_socket(ctx),
        handshake_limit_(asio::use_service<socket_service>(ctx).handshake_limit()) {}
  tracked_tls_socket(tracked_tls_socket&&) noexcept = default;

  /// Runs the server side of the handshake, bounded by the service's handshake limit;
  /// calls `done` with its outcome. The connection counts as idle meanwhile, so that a
  /// client that connects and says nothing is closed under pressure like an idle one.
  /// Requires: whoever owns this socket keeps it alive until `done` runs.
  template <class Done>
  void handshake(Done done) {
    if (table() && this->is_open()) {
      open_entry();
      table()->reading(fd(), serial());
    }
    // The deadline and the handshake complete on one strand, and the deadline acts only
    // while the handshake is still running: never on a connection that has moved on.
    auto strand = asio::make_strand(this->get_executor());
    auto timer = std::make_shared<asio::steady_timer>(strand, handshake_limit_);
    auto finished = std::make_shared<bool>(false);
    timer->async_wait([this, finished](const asio::error_code& ec) {
      asio::error_code ignored;
      if (!ec && !*finished) this->lowest_layer().cancel(ignored);
    });
    this->async_handshake(
        asio::ssl::stream_base::server,
        asio::bind_executor(strand, [this, timer, finished,
                                     done = std::move(done)](const asio::error_code& ec) mutable {
          *finished = true;
          timer->cancel();
          if (table() && serial() != 0) table()->read_done(fd(), serial());
          done(ec);
        }));
  }

 private:
  std::chrono::milliseconds handshake_limit_;
};

/// RESTinio starts each connection with this (found by argument-dependent lookup; a better
/// match than its own overload for restinio::tls_socket_t): the handshake, then reading.
template <class Connection, class Start_Read_CB, class Failed_CB>
void prepare_connection_and_start_read(tracked_tls_socket& socket, Connection& con,
                                       Start_Read_CB start_read_cb, Failed_CB failed_cb) {
  socket.handshake([start_read_cb = std::move(start_read_cb), failed_cb = std::move(failed_cb),
                    con = con.shared_from_this()](const asio::error_code& ec) mutable {
    if (!ec)
      start_read_cb();
    else
      failed_cb(ec);
  });
}

}  // namespace keel::http::detail

namespace restinio::impl {

// RESTinio's pool of accepting sockets moves a socket out for each accepted connection and
// accepts the next one into the same slot. A moved-from TLS socket has no stream left, so
// the slot gets a fresh socket, as RESTinio does for its own tls_socket_t.
template <>
class socket_supplier_t<keel::http::detail::tracked_tls_socket> {
  using socket_t = keel::http::detail::tracked_tls_socket;

 protected:
  template <class Settings>
  socket_supplier_t(Settings& settings, asio_ns::io_context& io) : io_(io) {
    sockets_.resize(settings.concurrent_accepts_count());
    for (auto& s : sockets_) s.emplace(io_);
  }
  virtual ~socket_supplier_t() = default;

  socket_t& socket(std::size_t idx) { return *sockets_.at(idx); }

  socket_t move_socket(std::size_t idx) {
    socket_t out{std::move(*sockets_.at(idx))};
    sockets_[idx].emplace(io_);
    return out;
  }

  auto concurrent_accept_sockets_count() const noexcept { return sockets_.size(); }

 private:
  asio_ns::io_context& io_;
  std::vector<std::optional<socket_t>> sockets_;
};

}  // namespace restinio::impl
