#include "keel/node/detail/json_log_formatter.hpp"

#include <ctime>

#include <fmt/format.h>
#include <spdlog/details/log_msg.h>

#include "keel/runtime/http/json.hpp"
#include "keel/runtime/log_trace.hpp"

namespace keel::detail {

namespace {

void append_time(std::chrono::system_clock::time_point time, spdlog::memory_buf_t& dest) {
  auto since = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - seconds).count();
  std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  fmt::format_to(std::back_inserter(dest), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                 utc.tm_sec, micros);
}

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

}  // namespace

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  append(dest, R"({"time":")");
  append_time(msg.time, dest);
  append(dest, R"(","level":")");
  auto level = spdlog::level::to_string_view(msg.level);
  append(dest, {level.data(), level.size()});
  append(dest, R"(","logger":")");
  append(dest, http::json_escape({msg.logger_name.data(), msg.logger_name.size()}));
  append(dest, R"(","message":")");
  append(dest, http::json_escape({msg.payload.data(), msg.payload.size()}));
  append(dest, "\"");
  if (const auto* trace = log_trace_scope::current()) {
    append(dest, R"(,"trace_id":")");
    append(dest, trace->to_hex());
    append(dest, "\"");
  }
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
  return std::make_unique<json_log_formatter>();
}

}  // namespace keel::detail
