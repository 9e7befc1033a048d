#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace keel::test {

/// Debian's `chromium` run headless, one browser process per call: it loads a page, lets the
/// page's scripts run, and leaves the rendered DOM or a screenshot. Each run gets a fresh
/// profile under the scratch directory and its own process group, and is bounded: past its
/// limit the whole group is killed, so a hung browser fails the test instead of stalling it.
/// Thread safety: externally synchronized (one test owns it).
class headless_chromium {
 public:
  /// The launcher Debian's `chromium` package installs.
  static constexpr const char* binary = "/usr/bin/chromium";

  /// Empty when chromium is installed; otherwise why not, naming the package to install.
  static std::string missing();

  /// Requires: `scratch_dir` exists and outlives this object; chromium is installed.
  explicit headless_chromium(std::string scratch_dir);

  /// Loads `url`, lets it run for `virtual_time` (virtual: timers fire without waiting,
  /// but the clock stands still while a fetch is in flight, so each takes its real time),
  /// and returns the DOM as the page's scripts left it. Throws std::runtime_error naming
  /// the phase if chromium fails or takes longer than `limit`.
  std::string dump_dom(const std::string& url, std::chrono::milliseconds virtual_time,
                       std::chrono::seconds limit);

  /// As dump_dom(), but writes a PNG of a `width` x `height` window to `png_path`.
  void screenshot(const std::string& url, const std::string& png_path, int width, int height,
                  std::chrono::milliseconds virtual_time, std::chrono::seconds limit);

 private:
  /// Runs chromium with the common flags plus `args`; returns its stdout.
  std::string run(const std::string& what, std::vector<std::string> args,
                  std::chrono::seconds limit);

  std::string scratch_dir_;
  int runs_ = 0;
};

}  // namespace keel::test
