#include "watchdog.hpp"

#include <signal.h>
#include <unistd.h>

#include <ctime>

namespace keel::chaos {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void watchdog::block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

watchdog::watchdog(child_registry& registry, progress_log& log, std::chrono::seconds hard_limit,
                   std::string work_dir)
    : registry_(registry),
      log_(log),
      deadline_(std::chrono::steady_clock::now() + hard_limit),
      work_dir_(std::move(work_dir)),
      thread_([this] { watch(); }) {}

watchdog::~watchdog() {
  done_ = true;
  thread_.join();
}

void watchdog::watch() {
  sigset_t set = stop_signals();
  timespec poll{0, 200'000'000};
  while (!done_) {
    int sig = sigtimedwait(&set, nullptr, &poll);
    bool late = std::chrono::steady_clock::now() >= deadline_;
    if (sig <= 0 && !late) continue;
    registry_.kill_all();
    auto why = sig > 0 ? std::string{"interrupted by signal "} + std::to_string(sig)
                       : std::string{"hard time limit reached"};
    log_.line(why + "; every child killed; work dir kept: " + work_dir_);
    log_.raw("verdict: FAIL " + why + "\n");
    _exit(sig > 0 ? 130 : 1);
  }
}

}  // namespace keel::chaos
