#pragma once
// Only restinio_server.cpp includes this: asio and http_parser stay in that one file.

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <http_parser.h>
#include <asio.hpp>
#include <asio/ssl/context.hpp>

#include "keel/runtime/http/connection_table.hpp"

namespace keel::http::detail {

/// The HTTP version of each request read on each connection, oldest first. RESTinio
/// 0.6.16 drops the version its parser read (every request header it hands over says 1.1),
/// so each socket parses what it reads a second time, for the version only, and the
/// request handler takes the versions in order: requests on one connection are handled
/// in the order they arrive.
/// Thread safety: thread-safe.
class request_versions {
 public:
  using version = std::pair<int, int>;
  void push(const std::string& peer, version v) {
    std::lock_guard guard{mutex_};
    queues_[peer].push_back(v);
  }
  std::optional<version> take(const std::string& peer) {
    std::lock_guard guard{mutex_};
    auto it = queues_.find(peer);
    if (it == queues_.end() || it->second.empty()) return std::nullopt;
    auto v = it->second.front();
    it->second.pop_front();
    return v;
  }
  void forget(const std::string& peer) {
    std::lock_guard guard{mutex_};
    queues_.erase(peer);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<version>> queues_;  // guarded by mutex_
};

// Hands the server's connection_table, request_versions and (with TLS) its TLS context to
// the sockets RESTinio creates, which get only the io_context.
class socket_service : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit socket_service(asio::execution_context& ctx) : service(ctx) {}
  socket_service(asio::execution_context& ctx, std::shared_ptr<connection_table> table,
                 std::shared_ptr<request_versions> versions,
                 std::shared_ptr<asio::ssl::context> tls = nullptr,
                 std::chrono::milliseconds handshake_limit = std::chrono::seconds{30})
      : service(ctx),
        table_(std::move(table)),
        versions_(std::move(versions)),
        tls_(std::move(tls)),
        handshake_limit_(handshake_limit) {}
  const std::shared_ptr<connection_table>& table() const noexcept { return table_; }
  const std::shared_ptr<request_versions>& versions() const noexcept { return versions_; }
  const std::shared_ptr<asio::ssl::context>& tls() const noexcept { return tls_; }
  std::chrono::milliseconds handshake_limit() const noexcept { return handshake_limit_; }

 private:
  void shutdown() override {}
  std::shared_ptr<connection_table> table_;
  std::shared_ptr<request_versions> versions_;
  std::shared_ptr<asio::ssl::context> tls_;  // null: plaintext
  std::chrono::milliseconds handshake_limit_;
};

/// "address:port", the key of a connection in request_versions.
inline std::string peer_name(const asio::ip::tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

/// Parses the bytes one connection reads a second time, headers only (bodies skipped by
/// their framing, as the server's own parser does), to note each request's HTTP version.
class version_sniffer {
 public:
  version_sniffer(std::shared_ptr<request_versions> versions, std::string peer)
      : versions_(std::move(versions)), peer_(std::move(peer)) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    http_parser_settings_init(&settings_);
    settings_.on_headers_complete = [](http_parser* p) {
      auto* self = static_cast<version_sniffer*>(p->data);
      self->versions_->push(self->peer_, {p->http_major, p->http_minor});
      return 0;
    };
  }
  void feed(const char* data, size_t n) {
    // After an error the server's parser fails too, and closes the connection.
    if (HTTP_PARSER_ERRNO(&parser_) == HPE_OK) http_parser_execute(&parser_, &settings_, data, n);
  }

 private:
  std::shared_ptr<request_versions> versions_;
  std::string peer_;
  http_parser parser_;
  http_parser_settings settings_;
};

// A socket that reports to the connection_table when the server waits to read from it
// (idle), writes to it and closes it, so that idle connections can be told from busy ones
// and closed under pressure. RESTinio calls these members through its Socket traits type,
// so they hide the base's; the rest is the base: a plain asio TCP socket, or RESTinio's
// TLS socket (tracked_tls_socket.hpp), whose reads hand over decrypted bytes.
template <class Base>
class basic_tracked_socket : public Base {
  using base = Base;

 public:
  explicit basic_tracked_socket(asio::io_context& ctx)
      : base(make_base(ctx)),
        table_(asio::use_service<socket_service>(ctx).table()),
        versions_(asio::use_service<socket_service>(ctx).versions()) {}
  basic_tracked_socket(basic_tracked_socket&& other) noexcept
      : base(std::move(other)),
        table_(other.table_),
        versions_(other.versions_),
        serial_(std::exchange(other.serial_, 0)),
        peer_(std::move(other.peer_)),
        sniffer_(std::move(other.sniffer_)) {}
  basic_tracked_socket& operator=(basic_tracked_socket&&) = delete;
  ~basic_tracked_socket() { forget(); }

  template <class Buffers, class Handler>
  auto async_read_some(const Buffers& buffers, Handler&& handler) {
    if (table_ && this->is_open()) {
      if (serial_ == 0) open_entry();
      table_->reading(fd(), serial_);
    }
    // The completion keeps the handler's executor (RESTinio's strand for this connection),
    // and runs the sniffer before the server's parser sees the bytes.
    auto executor = asio::get_associated_executor(handler, this->get_executor());
    const char* data = static_cast<const char*>(asio::buffer_sequence_begin(buffers)->data());
    return base::async_read_some(
        buffers,
        asio::bind_executor(
            executor, [table = table_, fd = fd(), serial = serial_, sniffer = sniffer_.get(), data,
                       h = std::move(handler)](const asio::error_code& ec, size_t n) mutable {
              if (table) table->read_done(fd, serial);
              if (!ec && sniffer) sniffer->feed(data, n);
              h(ec, n);
            }));
  }

  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    if (table_ && serial_ != 0) table_->writing(fd(), serial_);
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

 protected:
  int fd() { return this->lowest_layer().native_handle(); }
  const std::shared_ptr<connection_table>& table() const noexcept { return table_; }
  uint64_t serial() const noexcept { return serial_; }

  void open_entry() {
    asio::error_code ec;
    auto peer = this->lowest_layer().remote_endpoint(ec);
    serial_ = table_->opened(fd(), ec ? std::string{} : peer.address().to_string());
    if (ec || !versions_) return;
    peer_ = peer_name(peer);
    sniffer_ = std::make_unique<version_sniffer>(versions_, peer_);
  }

 private:
  static Base make_base(asio::io_context& ctx) {
    if constexpr (std::is_constructible_v<Base, asio::io_context&>)
      return Base{ctx};
    else
      return Base{ctx, asio::use_service<socket_service>(ctx).tls()};
  }

  // Before the descriptor is closed, so that the table never shuts down a reused one.
  void forget() {
    if (table_ && serial_ != 0 && this->is_open()) table_->closed(fd(), serial_);
    if (versions_ && !peer_.empty()) versions_->forget(peer_);
    serial_ = 0;
  }

  std::shared_ptr<connection_table> table_;
  std::shared_ptr<request_versions> versions_;
  uint64_t serial_ = 0;                       // 0: not registered (not accepted yet, or moved from)
  std::string peer_;                          // address:port, once registered
  std::unique_ptr<version_sniffer> sniffer_;  // on the heap: the parser points at it
};

using tracked_socket = basic_tracked_socket<asio::ip::tcp::socket>;

}  // namespace keel::http::detail
