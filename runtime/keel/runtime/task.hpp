#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace keel {

/// A coroutine that runs inside one turn: a handler written as a loop of `co_await
/// ctx.ask<Reply>(...)` instead of a chain of continuations. A handler returning
/// `task<Reply>` (or `task<caf::expected<Reply>>`) answers with what it `co_return`s; a
/// reminder or timer handler returns `task<>`. Another coroutine of the same turn can
/// `co_await` a task, which runs it to its end and yields its value (or rethrows what it
/// threw).
///
/// Lazy: the body starts when awaited, or when the turn starts it (context::run_coroutine).
/// The task owns its frame and destroys it with itself; the turn owns the handler's task,
/// so a turn destroyed while its coroutine waits destroys the frame unresumed.
/// Thread safety: activation-confined: created, resumed and destroyed only by its turn.
template <class T = void>
class [[nodiscard]] task;

namespace coroutine_detail {

// What every task's promise holds: who awaits it and what it threw.
struct promise_base {
  std::coroutine_handle<> continuation;  // the awaiting coroutine; none for a turn's root
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }

  // Returns to the awaiting coroutine (symmetric transfer: no stack growth in a loop of
  // awaits). A root stays suspended at its end, so the turn sees done() and reads it.
  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      auto next = self.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { error = std::current_exception(); }

  void rethrow_if_failed() const {
    if (error) std::rethrow_exception(error);
  }
};

template <class T>
struct promise final : promise_base {
  std::optional<T> value;

  task<T> get_return_object() noexcept;
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) { value.emplace(std::forward<U>(v)); }

  /// The returned value, or what the body threw. Requires: the body has ended.
  T take() {
    rethrow_if_failed();
    return std::move(*value);
  }
};

template <>
struct promise<void> final : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() const { rethrow_if_failed(); }
};

}  // namespace coroutine_detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = coroutine_detail::promise<T>;
  using value_type = T;

  task(task&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (frame_) frame_.destroy();
      frame_ = std::exchange(other.frame_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (frame_) frame_.destroy();
  }

  // Awaited by another coroutine of the turn: runs the body until it ends, then resumes
  // the awaiting one with its value.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    frame_.promise().continuation = awaiting;
    return frame_;
  }
  T await_resume() { return frame_.promise().take(); }

  /// Gives up ownership of the frame, not started yet: the turn takes it.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(frame_, {}); }

 private:
  friend promise_type;
  explicit task(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}

  std::coroutine_handle<promise_type> frame_;
};

namespace coroutine_detail {

template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}

inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}

}  // namespace coroutine_detail

/// Whether `T` is some task<...>: how the registry tells a coroutine handler apart.
template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

}  // namespace keel
