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
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_key.hpp"
#include "keel/runtime/task.hpp"

namespace keel {

/// One handler: its request prototype (for JSON parsing at the edge) and the call.
struct handler_entry {
  const google::protobuf::Message* request_prototype = nullptr;
  std::function<void(const google::protobuf::Message&, context&)> invoke;
  // Only actors send it (type_builder::internal): the HTTP edge refuses it.
  bool internal = false;
};

/// Everything Keel knows about one actor type.
/// Immutable after registration; safe to share between threads.
struct actor_type_info {
  std::string name;
  const google::protobuf::Message* state_prototype = nullptr;  // null: stateless worker
  size_t max_workers = 0;                                      // stateless workers per node
  bool reentrant = false;
  bool keeps_entries = false;      // loads and commits named entries beside the state
  std::string partition_key_name;  // empty: placed by its id (partition_key.hpp)
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

/// Adds handlers to one type: returned by type_registry::add_type<State>, where State is the
/// type's state message, and by add_stateless, as type_builder<> (State void: a type
/// without state has no state handlers and keeps no entries). A second handler for one
/// request type is not added: it is recorded as a wiring mistake in the registry, which
/// node_runtime::start then refuses.
/// Thread safety: externally synchronized (used while wiring, before the node starts).
template <class State = void>
class type_builder {
 public:
  /// Requires: `info` and `problems` (the registry's) outlive the builder.
  type_builder(actor_type_info& info, std::vector<std::string>& problems)
      : info_(&info), problems_(&problems) {}

  /// A handler that answers with what it returns. `F` takes one of
  ///   (const Request&, context&)
  ///   (const Request&, State&, context&)        the state to change: ctx.state<State>()
  ///   (const Request&, const State&, context&)  read-only: ctx.view<State>(), no copy, and
  ///                                             the turn writes no state
  /// and returns a reply message or caf::expected of one, or is a coroutine returning task<>
  /// of either, which may `co_await ctx.ask<R>(...)` and answers when it returns
  /// (context::ask). The state references stay valid for the whole turn, across each
  /// `co_await`; in a reentrant type a coroutine's `const State&` is the state as its turn
  /// started, since other turns commit meanwhile. A read-only handler that still takes
  /// ctx.state<State>() writes what it changes there: take State& instead. A handler
  /// taking State by value does not compile (its changes would be lost).
  template <class Request, class F>
  type_builder& on(F handler) {
    add<Request>(adapt<Request>(std::move(handler)));
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

  /// Runs `F(std::string_view name, context&)` (or `const std::string&`) when a reminder
  /// fires; it may be a coroutine returning task<>, for which the name stays valid across
  /// every `co_await`.
  template <class F>
  type_builder& on_reminder(F fn) {
    if (info_->on_reminder)
      twice("on_reminder");
    else
      info_->on_reminder = name_handler(std::move(fn));
    return *this;
  }

  /// Runs `F(std::string_view name, context&)` (or `const std::string&`) when a timer fires;
  /// as on_reminder, it may be a coroutine returning task<>.
  template <class F>
  type_builder& on_timer(F fn) {
    if (info_->on_timer)
      twice("on_timer");
    else
      info_->on_timer = name_handler(std::move(fn));
    return *this;
  }

  /// The type keeps named entries beside its state (context::put_entry): they are loaded
  /// with each activation. Only a type with state has it: a stateless one does not compile.
  type_builder& with_entries() requires(!std::is_void_v<State>) {
    info_->keeps_entries = true;
    return *this;
  }

  /// The handlers of `Requests` are steps of the app's own protocols: other actors send
  /// them, and the HTTP edge (`POST /v1/actors/...`) refuses them with 403 `forbidden`,
  /// whatever the caller's key. Call after their on<>; a request without a handler is a
  /// wiring mistake.
  template <class... Requests>
  type_builder& internal() {
    (mark_internal(Requests::descriptor()->name()), ...);
    return *this;
  }

  /// Places the type's actors by `fn` of their keys instead of by their ids, so that
  /// actors that call each other can share a partition and so a node (partition_key.hpp,
  /// docs/writing-actors.md "Placement affinity"). `name` is recorded with the data: change it
  /// whenever `fn` changes. A second declaration, or another name for a type this process
  /// declared before, is a wiring mistake.
  /// A stateless type has none: it runs wherever it is called.
  type_builder& partition_key(std::string name,
                              partition_key_fn fn) requires(!std::is_void_v<State>) {
    if (!info_->partition_key_name.empty()) {
      problems_->push_back("actor type '" + info_->name + "' declares two partition keys");
      return *this;
    }
    if (auto err = partition_keys::declare(info_->name, {name, fn}))
      problems_->push_back(message_of(err));
    else
      info_->partition_key_name = std::move(name);
    return *this;
  }

  /// Continuations of `ask` run via CAF `then`: other messages may run while one waits.
  type_builder& reentrant() {
    info_->reentrant = true;
    return *this;
  }

 private:
  using invoke_fn = std::function<void(const google::protobuf::Message&, context&)>;

  template <class T>
  static constexpr bool always_false_v = false;

  // Answers with what a handler returned, or runs the coroutine it returned.
  template <class Result>
  static void deliver(context& ctx, Result&& result) {
    if constexpr (is_task_v<std::decay_t<Result>>)
      ctx.run_coroutine(std::move(result));
    else
      ctx.reply_with(std::forward<Result>(result));
  }

  // A reentrant type's other turns may commit while this coroutine waits, replacing the
  // message view() returned: the frame keeps a copy instead.
  template <class Request, class F, class Task, class Snapshot>
  static Task with_snapshot(const F& body, const Request& request, Snapshot snapshot,
                            context& ctx) {
    co_return co_await body(request, std::as_const(snapshot), ctx);
  }

  // The type of the second parameter of a handler that is not a template (a lambda without
  // `auto` parameters, a function object), else `unknown`.
  struct unknown {};
  template <class Member>
  struct second_parameter_of {
    using type = unknown;
  };
  template <class C, class R, class A, class B, class... Rest>
  struct second_parameter_of<R (C::*)(A, B, Rest...) const> {
    using type = B;
  };
  template <class C, class R, class A, class B, class... Rest>
  struct second_parameter_of<R (C::*)(A, B, Rest...)> {
    using type = B;
  };
  template <class F>
  static auto second_parameter(int) -> second_parameter_of<decltype(&F::operator())>;
  template <class F>
  static auto second_parameter(...) -> second_parameter_of<void>;

  template <class Request, class F>
  invoke_fn adapt(F handler) const {
    using google::protobuf::Message;
    // Invocable as a read-only handler, it would get a copy whose changes are dropped.
    static_assert(!std::is_same_v<typename decltype(second_parameter<F>(0))::type, State>,
                  "on<Request>(f): f takes its State by value, so its changes would be lost: "
                  "take State& to change it, const State& to read it");
    if constexpr (std::is_invocable_v<const F&, const Request&, context&>) {
      return [handler = std::move(handler)](const Message& m, context& ctx) {
        deliver(ctx, handler(static_cast<const Request&>(m), ctx));
      };
    } else if constexpr (std::is_void_v<State>) {
      static_assert(always_false_v<F>,
                    "a stateless type's handler takes (const Request&, "
                    "context&)");
    } else if constexpr (std::is_invocable_v<const F&, const Request&, const State&, context&>) {
      // Read-only: view() makes no working copy, so the turn has no state to compare or
      // write (detail/turn.cpp); only entries or reminders it changes through ctx commit.
      using result = std::invoke_result_t<const F&, const Request&, const State&, context&>;
      return [handler = std::move(handler), info = info_](const Message& m, context& ctx) {
        const auto& request = static_cast<const Request&>(m);
        (void)info;  // read only by a coroutine handler; clang warns of an unused capture
        if constexpr (is_task_v<result>) {
          if (info->reentrant)
            return ctx.run_coroutine(
                with_snapshot<Request, F, result, State>(handler, request, ctx.view<State>(), ctx));
        }
        deliver(ctx, handler(request, ctx.view<State>(), ctx));
      };
    } else if constexpr (std::is_invocable_v<const F&, const Request&, State&, context&>) {
      return [handler = std::move(handler)](const Message& m, context& ctx) {
        deliver(ctx, handler(static_cast<const Request&>(m), ctx.state<State>(), ctx));
      };
    } else {
      static_assert(always_false_v<F>,
                    "on<Request>(f): f takes (const Request&, context&), "
                    "(const Request&, State&, context&) or (const "
                    "Request&, const State&, context&)");
    }
  }

  // A coroutine gets the name as a string of its own frame: the timer's message is gone
  // once it first waits, and a string_view parameter then points into that copy.
  template <class F>
  static std::function<void(const std::string&, context&)> name_handler(F fn) {
    static_assert(std::is_invocable_v<const F&, const std::string&, context&>,
                  "on_reminder/on_timer: f takes (std::string_view or const std::string&, "
                  "context&)");
    using result = std::invoke_result_t<const F&, const std::string&, context&>;
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

  void mark_internal(const std::string& message) {
    auto it = info_->handlers.find(message);
    if (it != info_->handlers.end())
      it->second.internal = true;
    else
      problems_->push_back("actor type '" + info_->name + "' marks message '" + message +
                           "' internal but has no handler for it");
  }

  // The first on_reminder or on_timer stays; a second is a wiring mistake.
  void twice(const char* what) {
    problems_->push_back("actor type '" + info_->name + "' has two " + what + " handlers");
  }

  // The first handler of a request type stays; a second is a wiring mistake.
  template <class Request>
  void add(invoke_fn fn) {
    std::string message{Request::descriptor()->name()};
    auto [it, added] = info_->handlers.try_emplace(message);
    if (!added) {
      problems_->push_back("actor type '" + info_->name + "' has two handlers for message '" +
                           message + "'");
      return;
    }
    it->second.request_prototype = &Request::default_instance();
    it->second.invoke = std::move(fn);
    info_->by_request.emplace_back(Request::descriptor(), &it->second);
  }

  actor_type_info* info_;
  std::vector<std::string>* problems_;
};

/// The actor types a node serves, and the wiring mistakes made while adding them.
/// Thread safety: externally synchronized while wiring; immutable (safe to share) once the
/// node has started.
class type_registry {
 public:
  /// A persistent type whose state is a `State` message.
  template <class State>
  type_builder<State> add_type(std::string name) {
    auto& info = emplace(std::move(name));
    info.state_prototype = &State::default_instance();
    return {info, problems_};
  }

  /// A stateless worker type: up to `max_workers` activations per node, always local.
  type_builder<> add_stateless(std::string name, size_t max_workers) {
    auto& info = emplace(std::move(name));
    info.max_workers = max_workers == 0 ? 1 : max_workers;
    return {info, problems_};
  }

  const actor_type_info* find(std::string_view name) const;

  const std::map<std::string, std::unique_ptr<actor_type_info>, std::less<>>& types() const {
    return types_;
  }

  /// Nothing if every type and every handler was added once; else errc::bad_payload whose
  /// message names each mistake, in the order made ("actor type 'ride' registered twice",
  /// "actor type 'ride' has two handlers for message 'RequestRide'"). node_runtime::start
  /// checks it: the mistake is in the app's code, so retrying won't help.
  [[nodiscard]] caf::error check() const;

 private:
  // A name already taken gets a type of its own that no node serves: the first stays as
  // registered, and the second's handlers go nowhere.
  actor_type_info& emplace(std::string name);

  std::map<std::string, std::unique_ptr<actor_type_info>, std::less<>> types_;
  std::vector<std::unique_ptr<actor_type_info>> rejected_;
  std::vector<std::string> problems_;
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
