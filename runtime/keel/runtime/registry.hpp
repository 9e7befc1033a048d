#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>
#include <caf/expected.hpp>

#include "keel/runtime/context.hpp"
#include "keel/runtime/task.hpp"

namespace keel {

/// One handler: its request prototype (for JSON parsing at the edge) and the call.
struct handler_entry {
  const google::protobuf::Message* request_prototype = nullptr;
  std::function<void(const google::protobuf::Message&, context&)> invoke;
};

/// Everything Keel knows about one actor type.
/// Immutable after registration; safe to share between threads.
struct actor_type_info {
  std::string name;
  const google::protobuf::Message* state_prototype = nullptr;  // null: stateless worker
  size_t max_workers = 0;                                      // stateless workers per node
  bool reentrant = false;
  bool keeps_entries = false;  // loads and commits named entries beside the state
  std::map<std::string, handler_entry, std::less<>> handlers;  // by request message name
  // The same handlers by request type: a local call finds its handler without comparing
  // names (a few entries, scanned).
  std::vector<std::pair<const google::protobuf::Descriptor*, const handler_entry*>> by_request;
  std::function<void(const std::string&, context&)> on_reminder;
  std::function<void(const std::string&, context&)> on_timer;

  bool stateless() const noexcept { return state_prototype == nullptr; }
  const handler_entry* find(std::string_view message) const;
  /// The handler of requests of exactly this type; null if none.
  const handler_entry* find(const google::protobuf::Descriptor* request) const;
};

/// Adds handlers to one type; returned by type_registry::add_*.
/// Thread safety: externally synchronized (used while wiring, before the node starts).
class type_builder {
 public:
  explicit type_builder(actor_type_info& info) : info_(info) {}

  /// A handler that answers with what it returns: `F(const Request&, context&)` returns a
  /// reply message or caf::expected of one, or is a coroutine returning task<> of either,
  /// which may `co_await ctx.ask<R>(...)` and answers when it returns (context::ask).
  template <class Request, class F>
  type_builder& on(F handler) {
    using result = std::invoke_result_t<F, const Request&, context&>;
    add<Request>([handler = std::move(handler)](const google::protobuf::Message& m, context& ctx) {
      if constexpr (is_task_v<result>)
        ctx.run_coroutine(handler(static_cast<const Request&>(m), ctx));
      else
        ctx.reply_with(handler(static_cast<const Request&>(m), ctx));
    });
    return *this;
  }

  /// A handler that replies later through `ctx.reply`, typically after `ctx.ask`.
  template <class Request, class F>
  type_builder& on_async(F handler) {
    add<Request>([handler = std::move(handler)](const google::protobuf::Message& m, context& ctx) {
      handler(static_cast<const Request&>(m), ctx);
    });
    return *this;
  }

  /// Runs `F(const std::string& name, context&)` when a reminder fires; it may be a
  /// coroutine returning task<>.
  template <class F>
  type_builder& on_reminder(F fn) {
    info_.on_reminder = name_handler(std::move(fn));
    return *this;
  }

  /// Runs `F(const std::string& name, context&)` when a timer fires; it may be a coroutine
  /// returning task<>.
  template <class F>
  type_builder& on_timer(F fn) {
    info_.on_timer = name_handler(std::move(fn));
    return *this;
  }

  /// The type keeps named entries beside its state (context::put_entry): they are loaded
  /// with each activation. Only persistent types can; a stateless one throws
  /// std::invalid_argument here, while wiring.
  type_builder& with_entries();

  /// Continuations of `ask` run via CAF `then`: other messages may run while one waits.
  type_builder& reentrant() {
    info_.reentrant = true;
    return *this;
  }

 private:
  // A coroutine gets the name by value: the timer's message is gone once it first waits.
  template <class F>
  static std::function<void(const std::string&, context&)> name_handler(F fn) {
    using result = std::invoke_result_t<F, const std::string&, context&>;
    if constexpr (is_task_v<result>) {
      return [fn = std::move(fn)](const std::string& name, context& ctx) {
        ctx.run_coroutine([](const F& body, std::string name, context& ctx) -> task<> {
          co_await body(name, ctx);
        }(fn, name, ctx));
      };
    } else {
      return fn;
    }
  }

  template <class Request>
  void add(std::function<void(const google::protobuf::Message&, context&)> fn) {
    auto& entry = info_.handlers[Request::descriptor()->name()];
    entry.request_prototype = &Request::default_instance();
    entry.invoke = std::move(fn);
    std::erase_if(info_.by_request, [&](const auto& e) { return e.second == &entry; });
    info_.by_request.emplace_back(Request::descriptor(), &entry);
  }

  actor_type_info& info_;
};

/// The actor types a node serves.
/// Thread safety: externally synchronized while wiring; immutable (safe to share) once the
/// node has started.
class type_registry {
 public:
  /// A persistent type whose state is a `State` message.
  template <class State>
  type_builder add_type(std::string name) {
    auto& info = emplace(std::move(name));
    info.state_prototype = &State::default_instance();
    return type_builder{info};
  }

  /// A stateless worker type: up to `max_workers` activations per node, always local.
  type_builder add_stateless(std::string name, size_t max_workers) {
    auto& info = emplace(std::move(name));
    info.max_workers = max_workers == 0 ? 1 : max_workers;
    return type_builder{info};
  }

  const actor_type_info* find(std::string_view name) const;

  const std::map<std::string, std::unique_ptr<actor_type_info>, std::less<>>& types() const {
    return types_;
  }

 private:
  actor_type_info& emplace(std::string name);
  std::map<std::string, std::unique_ptr<actor_type_info>, std::less<>> types_;
};

/// The type registered as `name`, or errc::unknown_actor_type naming it. Every entry
/// point (HTTP, the router, calls from other nodes) resolves through here, so a caller
/// sees the same error text whichever way its call came in.
[[nodiscard]] caf::expected<const actor_type_info*> resolve_type(const type_registry& types,
                                                                 std::string_view name);

/// The handler of `type` for the request named `message`, or errc::unknown_message naming
/// both. With `request`, the handler is found by the request's protobuf type instead: a
/// handler of another message type that shares its short name must not receive it.
/// Internal messages (`$reminder`, `$timer`) have no handler; callers that take them check
/// for them first.
[[nodiscard]] caf::expected<const handler_entry*> resolve_handler(
    const actor_type_info& type, std::string_view message,
    const google::protobuf::Descriptor* request = nullptr);

}  // namespace keel
