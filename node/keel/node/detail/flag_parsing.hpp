#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace keel::detail {

/// Parses "250ms", "5s", "5m", "1h" (a bare number is milliseconds) into `out`; returns
/// why not, or empty.
std::string parse_duration_into(const std::string& text, std::chrono::milliseconds& out);

/// The shortest exact text of `d` that parse_duration_into reads back: "2m", "1500ms".
std::string format_duration(std::chrono::milliseconds d);

/// Parses "1MiB", "512KiB", "1048576" into `out`; returns why not, or empty.
std::string parse_size_into(const std::string& text, size_t& out);

/// Parses "off" (0) or a whole number >= 1 into `out`; returns why not, or empty.
std::string parse_cap_into(const std::string& text, size_t& out);

/// A duration flag; values below `at_least` are refused, naming the minimum.
CLI::Option* duration_flag(CLI::App& app, const std::string& name,
                           std::chrono::milliseconds& target, const std::string& default_text,
                           const std::string& help,
                           std::chrono::milliseconds at_least = std::chrono::milliseconds{0});

/// KEEL_<NAME>, dashes as underscores: --http-port reads KEEL_HTTP_PORT.
std::string env_name(const CLI::Option& opt);

/// `opt`, reading its KEEL_* variable when `read_environment`.
CLI::Option* with_env(CLI::Option* opt, bool read_environment);

}  // namespace keel::detail
