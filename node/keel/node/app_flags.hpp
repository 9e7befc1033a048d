#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace keel {

/// An application's own command-line flags, declared next to the node's: each reads a
/// KEEL_<NAME> environment variable too (dashes as underscores), is listed by --help with
/// its default (the target's value when declared), and a bad value stops the node before
/// it starts, naming the flag or the variable. Each target must outlive node_main. The
/// declaring callback runs more than once (the command line is checked, then each KEEL_*
/// variable alone, then read), each time binding the same targets; a name that is not
/// `--name` or is the node's own stops the node with exit status 2.
/// Thread safety: used only inside the flags callback of node_main, on its thread.
class app_flags {
 public:
  /// A number within [min, max].
  void add(const std::string& name, double& target, const std::string& help, double min,
           double max);
  /// A whole number within [min, max].
  void add(const std::string& name, int64_t& target, const std::string& help, int64_t min,
           int64_t max);
  void add(const std::string& name, std::string& target, const std::string& help);
  /// "250ms", "5s", "5m", "1h" (a bare number is milliseconds), at least `at_least`.
  void add(const std::string& name, std::chrono::milliseconds& target, const std::string& help,
           std::chrono::milliseconds at_least = std::chrono::milliseconds{0});
  /// Present or not: `--name` sets it, KEEL_<NAME>=true too.
  void add_switch(const std::string& name, bool& target, const std::string& help);

 private:
  friend struct app_flags_access;
  app_flags(CLI::App& app, bool read_environment) : app_(app), read_env_(read_environment) {}

  CLI::App& app_;
  bool read_env_;
};

}  // namespace keel
