#include "keel/test/tcp_proxy.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace keel::test {

tcp_proxy::tcp_proxy(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0)
    throw std::runtime_error("tcp_proxy: cannot listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] { accept_loop(); }};
}

tcp_proxy::~tcp_proxy() {
  cut();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard guard{fds_mutex_};
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::string tcp_proxy::endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

void tcp_proxy::cut() {
  if (cut_.exchange(true)) return;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  std::lock_guard guard{fds_mutex_};
  for (int fd : fds_) shutdown(fd, SHUT_RDWR);
}

void tcp_proxy::accept_loop() {
  while (!cut_.load()) {
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(client);
      close(upstream);
      continue;
    }
    std::lock_guard guard{fds_mutex_};
    if (cut_.load()) {
      close(client);
      close(upstream);
      return;
    }
    fds_.push_back(client);
    fds_.push_back(upstream);
    threads_.emplace_back([this, client, upstream] { pipe(client, upstream); });
    threads_.emplace_back([this, client, upstream] { pipe(upstream, client); });
  }
}

void tcp_proxy::pipe(int from, int to) {
  char buf[16384];
  while (true) {
    auto n = read(from, buf, sizeof buf);
    if (n <= 0) break;
    if (write(to, buf, static_cast<size_t>(n)) != n) break;
  }
  shutdown(from, SHUT_RDWR);
  shutdown(to, SHUT_RDWR);
}

}  // namespace keel::test
