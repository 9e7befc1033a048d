#pragma once

#include <memory>

#include <spdlog/formatter.h>

namespace keel::detail {

/// `--log-format=json`: each log line one JSON object, for log shippers:
/// `{"time":"2026-12-04T22:30:01.123456Z","level":"info","logger":"node","message":"...",
/// "trace_id":"..."}`. `trace_id` is there when the line was written for a request (inside
/// a turn, or under a log_trace_scope), so every line about one request can be found by
/// its id. Times are UTC with microseconds.
/// Thread safety: externally synchronized, as spdlog's formatters are: each sink formats
/// under its own lock, with its own clone().
class json_log_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace keel::detail
