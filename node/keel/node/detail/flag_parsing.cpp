#include "keel/node/detail/flag_parsing.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

#include <CLI/CLI.hpp>

namespace keel::detail {

std::string parse_duration_into(const std::string& text, std::chrono::milliseconds& out) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0) return "not a duration: '" + text + "' (e.g. 250ms, 5s, 5m)";
  std::string unit{end, text.data() + text.size()};
  int64_t factor = 0;
  if (unit.empty() || unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60000;
  else if (unit == "h")
    factor = 3600000;
  else
    return "unknown duration unit '" + unit + "' in '" + text + "' (ms, s, m, h)";
  out = std::chrono::milliseconds{value * factor};
  return {};
}

std::string parse_size_into(const std::string& text, size_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{}) return "not a size: '" + text + "' (e.g. 1MiB, 64KiB, 1024)";
  std::string unit{end, text.data() + text.size()};
  uint64_t factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KiB")
    factor = 1 << 10;
  else if (unit == "MiB")
    factor = 1 << 20;
  else if (unit == "GiB")
    factor = 1ULL << 30;
  else
    return "unknown size unit '" + unit + "' in '" + text + "' (B, KiB, MiB, GiB)";
  out = static_cast<size_t>(value * factor);
  return {};
}

CLI::Option* duration_flag(CLI::App& app, const std::string& name,
                           std::chrono::milliseconds& target, const std::string& default_text,
                           const std::string& help, std::chrono::milliseconds at_least) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name, at_least](const std::string& text) {
            auto err = parse_duration_into(text, target);
            if (err.empty() && target < at_least)
              err = (at_least.count() == 1 ? std::string{"must be more than 0"}
                     : at_least.count() % 1000 == 0
                         ? "must be at least " + std::to_string(at_least.count() / 1000) + "s"
                         : "must be at least " + std::to_string(at_least.count()) + "ms") +
                    ", not '" + text + "'";
            if (!err.empty()) throw CLI::ValidationError(name, err);
          },
          help)
      ->default_str(default_text);
}

std::string parse_cap_into(const std::string& text, size_t& out) {
  if (text == "off") {
    out = 0;
    return {};
  }
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1)
    return "expected off or a number of connections >= 1, not '" + text + "'";
  out = value;
  return {};
}

std::string env_name(const CLI::Option& opt) {
  std::string name = opt.get_name(false, true);
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  std::string var = "KEEL_";
  for (char c : name) var += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return var;
}

std::string format_duration(std::chrono::milliseconds d) {
  constexpr std::pair<int64_t, const char*> units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
  auto ms = d.count();
  for (auto [factor, unit] : units)
    if (ms > 0 && ms % factor == 0) return std::to_string(ms / factor) + unit;
  return std::to_string(ms) + "ms";
}

CLI::Option* with_env(CLI::Option* opt, bool read_environment) {
  if (read_environment) opt->envname(env_name(*opt));
  return opt;
}

}  // namespace keel::detail
