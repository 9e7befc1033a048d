#include "keel/node/app_flags.hpp"

#include <CLI/CLI.hpp>

#include "keel/node/detail/flag_parsing.hpp"

namespace keel {

namespace {

// An app's flag is a --name: anything else would become a positional argument or clash
// with CLI11's own short options.
const std::string& checked(const std::string& name) {
  if (name.size() < 3 || name.rfind("--", 0) != 0 || name.find(',') != std::string::npos)
    throw CLI::BadNameString("'" + name + "' is not a flag name (--name)");
  return name;
}

}  // namespace

void app_flags::add(const std::string& name, double& target, const std::string& help, double min,
                    double max) {
  detail::with_env(app_.add_option(checked(name), target, help)
                       ->capture_default_str()
                       ->check(CLI::Range(min, max)),
                   read_env_);
}

void app_flags::add(const std::string& name, int64_t& target, const std::string& help, int64_t min,
                    int64_t max) {
  detail::with_env(app_.add_option(checked(name), target, help)
                       ->capture_default_str()
                       ->check(CLI::Range(min, max)),
                   read_env_);
}

void app_flags::add(const std::string& name, std::string& target, const std::string& help) {
  detail::with_env(app_.add_option(checked(name), target, help)->capture_default_str(), read_env_);
}

void app_flags::add(const std::string& name, std::chrono::milliseconds& target,
                    const std::string& help, std::chrono::milliseconds at_least) {
  detail::with_env(detail::duration_flag(app_, checked(name), target,
                                         detail::format_duration(target), help, at_least),
                   read_env_);
}

void app_flags::add_switch(const std::string& name, bool& target, const std::string& help) {
  detail::with_env(app_.add_flag(checked(name), target, help), read_env_);
}

}  // namespace keel
