#include "node_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>
#include <http_parser.h>

namespace keel::sim {

namespace {

// The "code" of Keel's error body {"error":{"code":"...","message":"..."}}. A substring
// search, not a JSON parse: the body may not be Keel's (a proxy's page), and then the status
// alone is the key.
std::string keel_error_code(const std::string& body) {
  static const std::string marker = "\"code\":\"";
  auto at = body.find(marker);
  if (at == std::string::npos) return {};
  at += marker.size();
  auto end = body.find('"', at);
  return end == std::string::npos ? std::string{} : body.substr(at, end - at);
}

http_reply transport_failure(std::string what) {
  http_reply out;
  out.transport_error = std::move(what);
  return out;
}

// What http_parser's callbacks fill in while one response is read.
struct response_parse {
  std::string body;
  bool complete = false;
  bool keep_alive = false;
};

const http_parser_settings& response_settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_body = [](http_parser* p, const char* at, size_t length) {
      static_cast<response_parse*>(p->data)->body.append(at, length);
      return 0;
    };
    s.on_message_complete = [](http_parser* p) {
      auto* out = static_cast<response_parse*>(p->data);
      out->complete = true;
      out->keep_alive = http_should_keep_alive(p) != 0;
      return 0;
    };
    return s;
  }();
  return settings;
}

timeval to_timeval(std::chrono::milliseconds d) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

// A connection unused this long may have been closed by the node's keep-alive timeout;
// it is checked before reuse (busy connections are not: that check is a syscall).
constexpr std::chrono::milliseconds idle_check_after{500};

}  // namespace

std::string http_reply::error_key() const {
  if (status == 0) return "transport " + transport_error;
  auto code = keel_error_code(body);
  return code.empty() ? std::to_string(status) : fmt::format("{} {}", status, code);
}

node_client::node_client(const endpoint& node, std::chrono::milliseconds timeout)
    : node_(node), timeout_(timeout), buffer_(16 * 1024) {}

node_client::~node_client() {
  disconnect();
}

void node_client::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
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
      return true;
    }
    ::close(fd);
  }
  error = "Connection";
  return false;
}

// True if the kept connection is still open: the node closes idle keep-alive connections,
// and a request written into a closed one would fail although the node is fine.
bool node_client::usable_after_idle() {
  pollfd p{fd_, POLLIN, 0};
  // Nothing to read: still open. Readable while no response is owed means closed, broken,
  // or bytes nobody asked for (a server's parting error page): none of them is usable.
  return ::poll(&p, 1, 0) == 0;
}

http_reply node_client::exchange(std::string_view method, const std::string& path,
                                 std::string_view body) {
  auto now = std::chrono::steady_clock::now();
  if (fd_ >= 0 && now - last_used_ > idle_check_after && !usable_after_idle()) disconnect();
  std::string error;
  if (fd_ < 0 && !connect_socket(error)) return transport_failure(std::move(error));
  last_used_ = now;

  request_.clear();
  fmt::format_to(std::back_inserter(request_), "{} {} HTTP/1.1\r\nHost: {}:{}\r\n", method, path,
                 node_.host, node_.port);
  if (!body.empty() || method != "GET")
    fmt::format_to(std::back_inserter(request_),
                   "Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  request_ += "\r\n";
  request_ += body;
  for (size_t sent = 0; sent < request_.size();) {
    auto n = ::send(fd_, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      disconnect();
      return transport_failure("Write");
    }
    sent += static_cast<size_t>(n);
  }

  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  response_parse parsed;
  parser.data = &parsed;
  while (!parsed.complete) {
    auto n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // closed, broken, or the read timeout (EAGAIN) passed
      disconnect();
      return transport_failure("Read");
    }
    http_parser_execute(&parser, &response_settings(), buffer_.data(), static_cast<size_t>(n));
    if (parser.http_errno != HPE_OK) {
      disconnect();
      return transport_failure(std::string{"Parse "} +
                               http_errno_name(static_cast<http_errno>(parser.http_errno)));
    }
  }
  if (!parsed.keep_alive) disconnect();
  http_reply out;
  out.status = static_cast<int>(parser.status_code);
  out.body = std::move(parsed.body);
  return out;
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
