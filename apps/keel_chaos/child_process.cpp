#include "child_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace keel::chaos {

void child_registry::add(pid_t pid) {
  std::lock_guard lock{mutex_};
  pids_.insert(pid);
}

void child_registry::remove(pid_t pid) {
  std::lock_guard lock{mutex_};
  pids_.erase(pid);
}

void child_registry::kill_all() noexcept {
  std::lock_guard lock{mutex_};
  for (pid_t pid : pids_) ::kill(pid, SIGKILL);
}

namespace {

int status_of(int raw) {
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

// Runs in the forked child, so only async-signal-safe calls: everything it needs was built
// before fork().
[[noreturn]] void exec_child(const char* path, char* const* argv, const char* out, const char* err,
                             pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // keel-chaos blocks SIGINT/SIGTERM for its watchdog
  int out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err_fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out_fd < 0 || err_fd < 0) _exit(125);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  close(out_fd);
  close(err_fd);
  execv(path, argv);
  _exit(127);
}

}  // namespace

child_process::child_process(const child_spec& spec, child_registry& registry)
    : spec_(spec), registry_(registry) {
  std::string path = resolve_binary(spec.binary);
  std::vector<std::string> copy = spec.args;
  std::vector<char*> argv{path.data()};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0)
    exec_child(path.c_str(), argv.data(), spec.out_path.c_str(), spec.err_path.c_str(), parent);
  if (pid_ < 0) {
    exit_status_ = 127;  // fork failed: reported as a failed exec would be
    return;
  }
  registry_.add(pid_);
}

child_process::~child_process() {
  if (!exit_status_) kill_now();
}

void child_process::signal(int sig) const {
  if (!exit_status_) ::kill(pid_, sig);
}

std::optional<int> child_process::poll_exit() {
  if (exit_status_) return exit_status_;
  int raw = 0;
  if (waitpid(pid_, &raw, WNOHANG) != pid_) return std::nullopt;
  exit_status_ = status_of(raw);
  registry_.remove(pid_);
  return exit_status_;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds limit) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (auto st = poll_exit()) return st;
    if (std::chrono::steady_clock::now() >= give_up) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

int child_process::kill_now() {
  if (exit_status_) return *exit_status_;
  ::kill(pid_, SIGKILL);
  int raw = 0;
  waitpid(pid_, &raw, 0);
  exit_status_ = status_of(raw);
  registry_.remove(pid_);
  return *exit_status_;
}

std::optional<int> listening_port(const std::string& out_path) {
  static const std::regex listening{R"(listening http=[^:\s]+:(\d+))"};
  std::ifstream in{out_path};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::smatch m;
  if (!std::regex_search(text, m, listening)) return std::nullopt;
  return std::stoi(m[1]);
}

std::string tail_of_file(const std::string& path, size_t lines) {
  std::ifstream in{path};
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    | " + l + "\n";
  return out;
}

std::string resolve_binary(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path ? path : "/usr/bin:/bin"};
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace keel::chaos
