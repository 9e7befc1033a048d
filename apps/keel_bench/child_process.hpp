#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace keel::bench {

/// A child server process whose stdout prints "... listening http=HOST:PORT" (keel-node,
/// bare-http-server and keel-bench's own --child modes). SIGTERMed and reaped on destruction.
/// Thread safety: externally synchronized.
class server_process {
 public:
  server_process(const std::string& binary, const std::vector<std::string>& args) {
    char pattern[] = "/tmp/keel-bench-srv-XXXXXX";
    dir_ = mkdtemp(pattern);
    auto out = dir_ + "/out";
    pid_ = fork();
    if (pid_ == 0) {
      freopen(out.c_str(), "w", stdout);
      freopen((dir_ + "/err").c_str(), "w", stderr);
      std::vector<std::string> copy = args;
      std::vector<char*> argv{const_cast<char*>(binary.c_str())};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    static const std::regex listening{R"(listening http=[^:]+:(\d+))"};
    for (int i = 0; i < 1000; ++i) {
      std::ifstream in{out};
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      auto text = ss.str();
      if (std::regex_search(text, m, listening)) {
        port_ = std::stoi(m[1]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    throw std::runtime_error("no listening line from " + binary);
  }
  ~server_process() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    std::system(("rm -rf " + dir_).c_str());
  }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace keel::bench
