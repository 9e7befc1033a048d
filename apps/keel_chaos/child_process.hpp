#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace keel::chaos {

/// The pids of every child this program started and has not reaped, so that the watchdog
/// (hard time limit, SIGINT) can kill them all without knowing the cluster's shape.
/// Thread safety: thread-safe.
class child_registry {
 public:
  void add(pid_t pid);
  void remove(pid_t pid);
  /// SIGKILLs every registered child. Does not reap: the caller is about to exit.
  void kill_all() noexcept;

 private:
  std::mutex mutex_;
  std::set<pid_t> pids_;  // guarded by mutex_
};

/// What to run: `binary` (a path, or a name looked up in PATH) with `args`; stdout goes to
/// `out_path` (truncated), stderr is appended to `err_path`.
struct child_spec {
  std::string binary;
  std::vector<std::string> args;
  std::string out_path;
  std::string err_path;
};

/// One child process (keel-node, etcd or keelctl), started by fork/exec in its own process
/// group (so a Ctrl-C reaches only keel-chaos, which then kills it) and killed by the kernel
/// if keel-chaos's main thread dies. A failed exec shows as an exit with status 127.
/// Killed and reaped on destruction if still running.
/// Thread safety: externally synchronized; every child is started, signalled and reaped by
/// the thread that runs the faults (PR_SET_PDEATHSIG is tied to the forking thread).
class child_process {
 public:
  child_process(const child_spec& spec, child_registry& registry);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  const child_spec& spec() const noexcept { return spec_; }
  void signal(int sig) const;
  /// The exit status if the child has exited (reaping it), as a shell gives it: 128 + signal
  /// when killed by one. nullopt while it runs.
  std::optional<int> poll_exit();
  /// poll_exit() every 10 ms for at most `limit`.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  /// SIGKILL (which also ends a stopped process) and reap; the exit status.
  int kill_now();

 private:
  child_spec spec_;
  child_registry& registry_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

/// The port of the first "listening http=HOST:PORT" line in the file; nullopt if none yet.
std::optional<int> listening_port(const std::string& out_path);

/// The last `lines` lines of a text file (a node's log), each prefixed with "    | ".
std::string tail_of_file(const std::string& path, size_t lines);

/// `name` if it holds a '/', else the first executable `dir/name` along PATH; empty if none.
std::string resolve_binary(const std::string& name);

/// A free TCP port on 127.0.0.1 (bound once, then released).
int free_loopback_port();

}  // namespace keel::chaos
