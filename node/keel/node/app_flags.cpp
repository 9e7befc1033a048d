#include "keel/node/app_flags.hpp"

#include <CLI/CLI.hpp>

#include "keel/node/detail/flag_parsing.hpp"

namespace keel {

void app_flags::add(const std::string& name, double& target, const std::string& help, double min,
                    double max) {
  detail::with_env(
      app_.add_option(name, target, help)->capture_default_str()->check(CLI::Range(min, max)),
      read_env_);
}

void app_flags::add(const std::string& name, int64_t& target, const std::string& help, int64_t min,
                    int64_t max) {
  detail::with_env(
      app_.add_option(name, target, help)->capture_default_str()->check(CLI::Range(min, max)),
      read_env_);
}

void app_flags::add(const std::string& name, std::string& target, const std::string& help) {
  detail::with_env(app_.add_option(name, target, help)->capture_default_str(), read_env_);
}

void app_flags::add(const std::string& name, std::chrono::milliseconds& target,
                    const std::string& help, std::chrono::milliseconds at_least) {
  detail::with_env(
      detail::duration_flag(app_, name, target, detail::format_duration(target), help, at_least),
      read_env_);
}

void app_flags::add_switch(const std::string& name, bool& target, const std::string& help) {
  detail::with_env(app_.add_flag(name, target, help), read_env_);
}

}  // namespace keel
