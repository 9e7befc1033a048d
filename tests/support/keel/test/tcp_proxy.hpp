#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace keel::test {

/// A TCP forwarder on a free loopback port to `127.0.0.1:target_port`, so that a test can
/// cut one process off from a server (cut()) while others still reach it.
/// Thread safety: cut() and the destructor from the test's thread; the rest runs on the
/// proxy's own threads.
class tcp_proxy {
 public:
  explicit tcp_proxy(int target_port);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// "127.0.0.1:PORT" to connect to instead of the target.
  std::string endpoint() const;

  /// Closes every connection and refuses new ones from now on.
  void cut();

 private:
  void accept_loop();
  void pipe(int from, int to);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> cut_{false};
  std::mutex fds_mutex_;
  std::vector<int> fds_;  // guarded by fds_mutex_
  std::vector<std::thread> threads_;  // guarded by fds_mutex_
  std::thread acceptor_;
};

}  // namespace keel::test
