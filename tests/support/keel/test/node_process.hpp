#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace httplib {
class Client;
}

namespace keel::test {

/// The answer to one HTTP request made by a test.
struct http_reply {
  int status = 0;  // 0: no answer (connection failed)
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

/// A real keel-node child process on a free port, with its stdout (the `listening` line)
/// and stderr kept in files under its data dir's parent. Killed (SIGKILL) on destruction
/// if still running.
/// Thread safety: `get`/`post` are thread-safe (a client per call); the rest is
/// externally synchronized.
class node_process {
 public:
  /// Starts `keel-node --http-port=0 --data-dir=<data_dir> <args...>` and waits (≤ 10 s)
  /// for its `listening` line; throws std::runtime_error naming the phase if it fails.
  node_process(std::string data_dir, std::vector<std::string> args = {},
               std::map<std::string, std::string> env = {});
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// The plaintext HTTP port; 0 when the node serves TLS only. get/post use it.
  int port() const noexcept { return port_; }
  /// The HTTPS port (--tls-cert); 0 without TLS.
  int tls_port() const noexcept { return tls_port_; }
  pid_t pid() const noexcept { return pid_; }

  http_reply get(const std::string& path, const std::map<std::string, std::string>& headers = {});
  http_reply post(const std::string& path, const std::string& body,
                  const std::map<std::string, std::string>& headers = {});
  http_reply put_json(const std::string& path, const std::string& body,
                      const std::map<std::string, std::string>& headers = {});

  /// Sends `sig` and waits (≤ 15 s) for exit; returns the exit status as a shell would
  /// (128 + signal when killed by one).
  int stop(int sig);

  /// Waits up to `limit` for the node to exit by itself (a drained node does); its exit
  /// status as stop() gives it, or -1 if it is still running.
  int wait_exit(std::chrono::milliseconds limit);

  /// The child's stderr so far (its logs), for failure messages.
  std::string log() const;

 private:
  std::string data_dir_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int tls_port_ = 0;
};

/// The value of an unlabelled series in Prometheus text (`/metrics`); 0 if absent.
uint64_t metric_value(const std::string& text, const std::string& name);

/// Starts `binary args...` as a child with `env` added, stdout and stderr to the files.
pid_t spawn_process(const std::string& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& out_path,
                    const std::string& err_path);

/// Waits up to `limit` for `pid` to exit; its exit status as a shell would give it (128 +
/// signal when killed by one), or -1 if it is still running.
int wait_process_exit(pid_t pid, std::chrono::milliseconds limit);

/// Runs `binary args...` to completion (at most 10 s); returns the exit status and sets
/// `output` to stdout + stderr.
int run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                std::string& output, const std::map<std::string, std::string>& env = {});

/// Runs keel-node with `args` to completion (for --help and bad flags); returns the exit
/// code and sets `output` to stdout + stderr.
int run_node_to_exit(const std::vector<std::string>& args, std::string& output,
                     const std::map<std::string, std::string>& env = {});

}  // namespace keel::test
