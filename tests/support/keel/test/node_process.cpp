#include "keel/test/node_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "keel/test/temp_dir.hpp"

namespace keel::test {

pid_t spawn_process(const std::string& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& out_path,
                    const std::string& err_path) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string program = binary;
    argv.push_back(program.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_process_exit(pid_t pid, std::chrono::milliseconds limit) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < give_up) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return -1;
}

namespace {

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  return spawn_process(KEEL_NODE_BINARY, args, env, out_path, err_path);
}

http_reply convert(const httplib::Result& res) {
  http_reply out;
  if (!res) return out;
  out.status = res->status;
  out.body = res->body;
  for (const auto& [k, v] : res->headers) {
    std::string name = k;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace(name, v);
  }
  return out;
}

httplib::Headers to_headers(const std::map<std::string, std::string>& headers) {
  return httplib::Headers{headers.begin(), headers.end()};
}

}  // namespace

node_process::node_process(std::string data_dir, std::vector<std::string> args,
                           std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)) {
  static int counter = 0;
  auto stem = data_dir_ + ".run" + std::to_string(counter++);
  out_path_ = stem + ".out";
  err_path_ = stem + ".err";
  std::vector<std::string> full{"--http-port=0", "--data-dir=" + data_dir_};
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(full, env, out_path_, err_path_);
  // `https=` is the TLS port, `http=` a plaintext one; a node may print either or both.
  static const std::regex listening{
      R"(keel-node listening (https=[^:]+:(\d+) ?)?(http=[^:]+:(\d+))?)"};
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (std::chrono::steady_clock::now() < give_up) {
    std::smatch m;
    auto out = read_file(out_path_);
    if (std::regex_search(out, m, listening)) {
      if (m[2].matched) tls_port_ = std::stoi(m[2]);
      if (m[4].matched) port_ = std::stoi(m[4]);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("keel-node exited during start-up: " + read_file(err_path_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  throw std::runtime_error("keel-node printed no listening line within 10 s: " +
                           read_file(err_path_));
}

node_process::~node_process() {
  if (pid_ > 0) stop(SIGKILL);
}

int node_process::wait_exit(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  int rc = wait_process_exit(pid_, limit);
  if (rc >= 0) pid_ = -1;  // reaped: its pid may be reused
  return rc;
}

int node_process::stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int rc = wait_process_exit(pid_, std::chrono::seconds{15});
  if (rc < 0) {
    kill(pid_, SIGKILL);
    rc = wait_process_exit(pid_, std::chrono::seconds{5});
  }
  pid_ = -1;
  return rc;
}

http_reply node_process::get(const std::string& path,
                             const std::map<std::string, std::string>& headers) {
  httplib::Client cli{"127.0.0.1", port_};
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  return convert(cli.Get(path.c_str(), to_headers(headers)));
}

http_reply node_process::post(const std::string& path, const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  httplib::Client cli{"127.0.0.1", port_};
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  return convert(cli.Post(path.c_str(), to_headers(headers), body, "application/json"));
}

http_reply node_process::put_json(const std::string& path, const std::string& body,
                                  const std::map<std::string, std::string>& headers) {
  httplib::Client cli{"127.0.0.1", port_};
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  return convert(cli.Put(path.c_str(), to_headers(headers), body, "application/json"));
}

std::string node_process::log() const {
  return read_file(err_path_);
}

int run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                std::string& output, const std::map<std::string, std::string>& env) {
  char pattern[] = "/tmp/keel-cli-XXXXXX";
  int fd = mkstemp(pattern);
  close(fd);
  std::string out_path = pattern;
  pid_t pid = spawn_process(binary, args, env, out_path, out_path + ".err");
  int rc = wait_process_exit(pid, std::chrono::seconds{10});
  output = read_file(out_path) + read_file(out_path + ".err");
  unlink(out_path.c_str());
  unlink((out_path + ".err").c_str());
  return rc;
}

int run_node_to_exit(const std::vector<std::string>& args, std::string& output,
                     const std::map<std::string, std::string>& env) {
  return run_to_exit(KEEL_NODE_BINARY, args, output, env);
}

uint64_t metric_value(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

}  // namespace keel::test
