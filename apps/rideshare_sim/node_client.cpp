#include "node_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace keel::sim {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

}  // namespace

node_client::node_client(const endpoint& node, std::chrono::milliseconds timeout)
    : node_(node), timeout_(timeout), buffer_(16 * 1024) {}

node_client::~node_client() {
  disconnect();
}

void node_client::disconnect() {
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// The handshake, bounded by the socket's timeouts; the certificate is checked against the
// CA and the node's host (client_tls).
bool node_client::start_tls(std::string& error) {
  if (!node_.tls) {
    error = "TLS: no TLS context for " + node_.host;
    disconnect();
    return false;
  }
  ERR_clear_error();
  ssl_ = SSL_new(node_.tls->native());
  if (!ssl_ || !expect_peer(ssl_, node_.host) || SSL_set_fd(ssl_, fd_) != 1) {
    error = tls_failure("TLS setup for " + node_.host);
    disconnect();
    return false;
  }
  if (auto result = SSL_connect(ssl_); result != 1) {
    error = tls_failure("TLS handshake with " + node_.host, ssl_, result);
    disconnect();
    return false;
  }
  return true;
}

bool node_client::send_all(std::string_view bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    auto left = bytes.size() - sent;
    long n = ssl_ ? SSL_write(ssl_, bytes.data() + sent, static_cast<int>(left))
                  : ::send(fd_, bytes.data() + sent, left, MSG_NOSIGNAL);
    if (n < 0 && !ssl_ && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

long node_client::receive_some() {
  for (;;) {
    long n = ssl_ ? SSL_read(ssl_, buffer_.data(), static_cast<int>(buffer_.size()))
                  : ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && !ssl_ && errno == EINTR) continue;
    return n;
  }
}

bool node_client::connect_socket(std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(node_.host.c_str(), std::to_string(node_.port).c_str(), &hints, &found) != 0) {
    error = "Connection";
    return false;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{found, &::freeaddrinfo};
  auto tv = to_timeval(timeout_);
  // Connecting is bounded too (Linux applies the send timeout to connect), at most 2 s.
  auto connect_tv = to_timeval(std::min(timeout_, std::chrono::milliseconds{2000}));
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &connect_tv, sizeof connect_tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      return !node_.https || start_tls(error);
    }
    ::close(fd);
  }
  error = "Connection";
  return false;
}

http_reply node_client::exchange(std::string_view method, const std::string& path,
                                 std::string_view body) {
  auto now = std::chrono::steady_clock::now();
  if (fd_ >= 0 && now - last_used_ > idle_check_after && !idle_connection_usable(fd_)) disconnect();
  std::string error;
  if (fd_ < 0 && !connect_socket(error)) return transport_failure(std::move(error));
  last_used_ = now;

  format_request(request_, method, path, node_, body);
  if (!send_all(request_)) {
    disconnect();
    return transport_failure("Write");
  }

  response_reader reader;
  while (!reader.complete()) {
    auto n = receive_some();
    if (n <= 0) {  // closed, broken, or the read timeout (EAGAIN) passed
      disconnect();
      return transport_failure("Read");
    }
    if (!reader.feed(buffer_.data(), static_cast<size_t>(n))) {
      disconnect();
      return reader.failure();
    }
  }
  if (!reader.keep_alive()) disconnect();
  return reader.take();
}

http_reply node_client::get(const std::string& path) {
  return exchange("GET", path, {});
}

http_reply node_client::post(const std::string& path, const std::string& json_body) {
  return exchange("POST", path, json_body);
}

http_reply node_client::put(const std::string& path, const std::string& json_body) {
  return exchange("PUT", path, json_body);
}

std::optional<double> metric_value(const std::string& text, const std::string& name) {
  size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line{text.data() + at, end - at};
    // "name value": the name must be followed by a space, or keel_turns_total would also
    // match keel_turns_total_something.
    if (line.size() > name.size() + 1 && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      try {
        return std::stod(std::string{line.substr(name.size() + 1)});
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace keel::sim
