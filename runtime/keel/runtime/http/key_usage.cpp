#include "keel/runtime/http/key_usage.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace keel::http {

std::optional<int> key_usage::record::take(const rate_limit& limit, steady_time now) {
  std::lock_guard guard{mutex_};
  double elapsed = tokens_ ? std::chrono::duration<double>(now - refilled_).count() : 0;
  double tokens = std::min(limit.burst, tokens_.value_or(limit.burst) + elapsed * limit.per_second);
  refilled_ = now;
  if (tokens >= 1) {
    tokens_ = tokens - 1;
    return std::nullopt;
  }
  tokens_ = tokens;
  return seconds_until_token(tokens, limit.per_second);
}

void key_usage::record::count(int status) noexcept {
  auto slot = std::clamp(status / 100, 1, 5) - 1;
  by_class_[static_cast<size_t>(slot)].add();
}

key_usage::record& key_usage::of(std::string_view name) {
  std::lock_guard guard{mutex_};
  auto it = records_.find(name);
  if (it == records_.end())
    it = records_.emplace(std::string{name}, std::make_unique<record>()).first;
  return *it->second;
}

void key_usage::render(std::string& out) const {
  render_header(out, "keel_http_requests_by_key_total", "counter",
                "HTTP requests by API key name and status class.");
  std::lock_guard guard{mutex_};
  for (const auto& [name, rec] : records_) {
    if (name.empty()) continue;
    for (size_t i = 0; i < rec->by_class_.size(); ++i)
      if (auto n = rec->by_class_[i].value())
        out += fmt::format("keel_http_requests_by_key_total{{key=\"{}\",status=\"{}xx\"}} {}\n",
                           name, i + 1, n);
  }
}

}  // namespace keel::http
