#pragma once

#include <string>

#include <sys/types.h>

namespace keel::test {

/// How a test's etcd serves its clients over TLS: its own certificate and key, and the CA
/// whose client certificates it demands (client-cert auth). `probe_cert`/`probe_key` are
/// a client certificate the start-up health check shows. All empty: plaintext.
struct etcd_tls_files {
  std::string cert, key, client_ca, probe_cert, probe_key;
};

/// A real etcd (Debian's etcd-server) as a child process on free loopback ports, with its
/// data under `dir`. Killed (SIGKILL) on destruction.
/// Thread safety: externally synchronized.
class etcd_process {
 public:
  /// Starts etcd and waits (≤ 15 s) until its /health says true; throws
  /// std::runtime_error naming the phase if it does not.
  explicit etcd_process(const std::string& dir, etcd_tls_files tls = {});
  ~etcd_process();
  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  /// "127.0.0.1:PORT" of its client port: what `keel-node --etcd` takes.
  std::string endpoint() const;
  pid_t pid() const noexcept { return pid_; }

  /// Sends `sig` (SIGSTOP / SIGCONT to freeze and thaw it).
  void signal(int sig) const;

 private:
  /// One start on fresh ports; false (with `why`) if etcd exited during start-up.
  bool start(const std::string& data_dir, std::string& why);

  etcd_tls_files tls_;
  pid_t pid_ = -1;
  int client_port_ = 0;
  std::string log_path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace keel::test
