#include "progress_log.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace keel::chaos {

progress_log::progress_log() : began_(std::chrono::steady_clock::now()) {}

double progress_log::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
}

void progress_log::line(const std::string& text) {
  std::lock_guard lock{mutex_};
  fmt::print("[{:7.2f}s] {}\n", elapsed_s(), text);
  std::fflush(stdout);
}

void progress_log::raw(const std::string& text) {
  std::lock_guard lock{mutex_};
  fmt::print("{}", text);
  std::fflush(stdout);
}

}  // namespace keel::chaos
