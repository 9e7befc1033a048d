#pragma once

#include <utility>

#include "keel/runtime/trace_id.hpp"

namespace keel {

/// Names the trace the calling thread works for while it is in scope, so that every log
/// line written meanwhile (the runtime's, an app handler's) can carry the trace id: the
/// JSON log format (`--log-format=json`) reads it. Scopes nest; the innermost wins.
/// Thread safety: thread-confined: a scope names the trace of the thread that made it,
/// and must end on that thread.
class log_trace_scope {
 public:
  explicit log_trace_scope(const trace_id& trace) noexcept
      : trace_(trace), outer_(std::exchange(current_, this)) {}
  ~log_trace_scope() { current_ = outer_; }
  log_trace_scope(const log_trace_scope&) = delete;
  log_trace_scope& operator=(const log_trace_scope&) = delete;

  /// The trace of the innermost scope on this thread; null outside any scope or when it
  /// names no valid trace.
  static const trace_id* current() noexcept {
    return current_ && current_->trace_.valid() ? &current_->trace_ : nullptr;
  }

 private:
  // A copy: the message that carried the trace may be gone before the scope ends.
  trace_id trace_;
  log_trace_scope* outer_;
  static inline thread_local log_trace_scope* current_ = nullptr;
};

}  // namespace keel
