#include "keel/test/headless_chromium.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "keel/test/temp_dir.hpp"

namespace keel::test {

namespace {

// Chromium logs a lot (D-Bus, fonts); a failure message needs only the end of it.
std::string tail_of(const std::string& text) {
  constexpr size_t keep = 3000;
  return text.size() <= keep ? text : "..." + text.substr(text.size() - keep);
}

}  // namespace

std::string headless_chromium::missing() {
  if (access(binary, X_OK) == 0) return {};
  return std::string{binary} +
         " is missing: install Debian's chromium package (apt-get install -y "
         "--no-install-recommends chromium; it is in the Makefile's PACKAGES, which "
         "`make test` installs)";
}

headless_chromium::headless_chromium(std::string scratch_dir)
    : scratch_dir_(std::move(scratch_dir)) {}

std::string headless_chromium::dump_dom(const std::string& url,
                                        std::chrono::milliseconds virtual_time,
                                        std::chrono::seconds limit) {
  return run("--dump-dom of " + url,
             {"--virtual-time-budget=" + std::to_string(virtual_time.count()), "--dump-dom", url},
             limit);
}

void headless_chromium::screenshot(const std::string& url, const std::string& png_path, int width,
                                   int height, std::chrono::milliseconds virtual_time,
                                   std::chrono::seconds limit) {
  run("--screenshot of " + url,
      {"--virtual-time-budget=" + std::to_string(virtual_time.count()), "--screenshot=" + png_path,
       "--window-size=" + std::to_string(width) + "," + std::to_string(height), "--hide-scrollbars",
       url},
      limit);
}

std::string headless_chromium::run(const std::string& what, std::vector<std::string> args,
                                   std::chrono::seconds limit) {
  auto stem = scratch_dir_ + "/chromium-" + std::to_string(runs_++);
  // A fresh profile per run: no state (cache, crash prompts) carries over between runs,
  // and nothing is written to the user's own profile.
  std::vector<std::string> full{"--headless",
                                "--no-sandbox",  // the tests may run as root, in a container
                                "--disable-gpu",
                                "--user-data-dir=" + stem + ".profile",
                                "--no-first-run",
                                "--no-default-browser-check",
                                "--disable-extensions",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync"};
  full.insert(full.end(), args.begin(), args.end());
  auto out_path = stem + ".out", err_path = stem + ".err";
  // Everything the child needs is made before fork(): another thread of the test may hold
  // the allocator's lock at the fork, and the child must not allocate.
  std::string program = binary;
  std::vector<char*> argv;
  argv.push_back(program.data());
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) throw std::runtime_error(what + ": cannot open " + stem + ".out/.err");
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(what + ": fork failed");
  if (pid == 0) {
    // Its own group, so the renderer and zygote it forks can be killed with it; and killed
    // if the test dies (a ctest timeout) rather than left running.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  close(out);
  close(err);
  setpgid(pid, pid);  // also here: the child may not have run yet when we kill the group

  // Waits on a pidfd, which turns readable when the browser exits; the raw syscall because
  // Debian 12's <sys/pidfd.h> lacks extern "C", so C++ cannot link to its wrapper.
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  const int open_errno = errno;
  bool exited = false;
  if (fd >= 0) {
    auto give_up = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      int n = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (n < 0 && errno == EINTR) continue;
      exited = n == 1;
      break;
    }
    close(fd);
  }
  // The exited browser keeps its pid until reaped, so the group id cannot have been reused
  // by an unrelated process: this kills only what is left of chromium's own processes.
  kill(-pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (fd < 0) {
    throw std::runtime_error(what + ": pidfd_open failed: " + std::strerror(open_errno));
  }
  if (!exited) {
    throw std::runtime_error(what + ": chromium took longer than " + std::to_string(limit.count()) +
                             " s and was killed; its stderr:\n" + tail_of(read_file(err_path)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(what + ": chromium failed (wait status " + std::to_string(status) +
                             "); its stderr:\n" + tail_of(read_file(err_path)));
  }
  return read_file(out_path);
}

}  // namespace keel::test
