#include "keel/test/raw_http.hpp"

#include <cerrno>
#include <regex>
#include <stdexcept>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace keel::test {

raw_connection::raw_connection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
}

raw_connection::~raw_connection() {
  if (fd_ >= 0) ::close(fd_);
}

raw_connection::raw_connection(raw_connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)) {}

bool raw_connection::send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

std::optional<raw_response> raw_connection::read_response(bool head,
                                                          std::chrono::milliseconds limit) {
  return read_response_from(buffer_, head, [this, limit] { return fill(limit); });
}

std::optional<raw_response> read_response_from(std::string& buffer_, bool head,
                                               const std::function<bool()>& fill) {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  raw_response r;
  std::string head_text = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  std::smatch m;
  if (!std::regex_search(head_text, m, std::regex{R"(^HTTP/1\.1 (\d{3}) )"})) return std::nullopt;
  r.status = std::stoi(m[1]);
  for (size_t pos = head_text.find("\r\n"); pos != std::string::npos;) {
    auto next = head_text.find("\r\n", pos + 2);
    auto line = head_text.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = next;
  }
  size_t length = head ? 0 : std::stoul(r.headers["content-length"]);
  while (buffer_.size() < length)
    if (!fill()) return std::nullopt;
  r.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return r;
}

bool raw_connection::closed_by_peer(std::chrono::milliseconds limit) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
  char c;
  return ::recv(fd_, &c, 1, 0) <= 0;
}

bool raw_connection::open_and_quiet() {
  char c;
  return ::recv(fd_, &c, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool raw_connection::fill(std::chrono::milliseconds limit) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
  char chunk[4096];
  auto n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

}  // namespace keel::test
