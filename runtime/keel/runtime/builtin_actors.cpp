#include "keel/runtime/builtin_actors.hpp"

#include <thread>

#include <fmt/format.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel {

using namespace keel::builtin;

void register_counter(type_registry& types) {
  types.add_type<CounterState>("counter")
      .on<Increment>(
          [](const Increment& m, CounterState& st, context&) -> caf::expected<CounterValue> {
            int64_t after = 0;
            // Refused, not wrapped: a counter past INT64_MAX would read as a large negative.
            if (__builtin_add_overflow(st.value(), m.by(), &after))
              return make_error(errc::conflict, fmt::format("Increment by {} would overflow the "
                                                            "counter's value {} (int64)",
                                                            m.by(), st.value()));
            st.set_value(after);
            CounterValue out;
            out.set_value(after);
            return out;
          })
      .on<Get>([](const Get&, const CounterState& st, context&) {
        CounterValue out;
        out.set_value(st.value());
        return out;
      });
}

namespace {

const std::map<std::string, errc, std::less<>>& codes_by_name() {
  static const std::map<std::string, errc, std::less<>> codes = [] {
    std::map<std::string, errc, std::less<>> out;
    for (uint8_t c = 1; c <= static_cast<uint8_t>(last_errc); ++c)
      out.emplace(std::string{code_name(static_cast<errc>(c))}, static_cast<errc>(c));
    return out;
  }();
  return codes;
}

// `remind`: reminders and timers on request, counting their firings.
void register_remind_actor(type_registry& types) {
  types.add_type<ReminderCount>("remind")
      .on<Remind>([](const Remind& m, context& ctx) {
        auto name = m.name();
        if (name.empty()) {
          name = "r" + std::to_string(ctx.state<ReminderCount>().names_size());
          ctx.state<ReminderCount>().add_names(name);
        }
        ctx.register_reminder(name, std::chrono::milliseconds{m.in_ms()},
                              std::chrono::milliseconds{m.period_ms()});
        return ctx.state<ReminderCount>();
      })
      .on<Forget>([](const Forget& m, context& ctx) {
        ctx.unregister_reminder(m.name());
        return ctx.state<ReminderCount>();
      })
      .on<GetReminders>(
          [](const GetReminders&, context& ctx) { return ctx.state<ReminderCount>(); })
      .on<ArmTimer>([](const ArmTimer& m, context& ctx) {
        ctx.set_timer("t", std::chrono::milliseconds{m.in_ms()});
        return ctx.state<ReminderCount>();
      })
      .on_reminder([](const std::string&, context& ctx) {
        auto& st = ctx.state<ReminderCount>();
        st.set_fired(st.fired() + 1);
      })
      .on_timer([](const std::string&, context& ctx) {
        auto& st = ctx.state<ReminderCount>();
        st.set_timers(st.timers() + 1);
      });
}

}  // namespace

void register_test_actors(type_registry& types) {
  types.add_type<CounterState>("slow").on<Sleep>([](const Sleep& m, context&) {
    std::this_thread::sleep_for(std::chrono::milliseconds{m.ms()});
    Slept out;
    out.set_ms(m.ms());
    return out;
  });
  types.add_type<ThrowerState>("thrower")
      .on<Bump>([](const Bump&, context& ctx) {
        auto& st = ctx.state<ThrowerState>();
        st.set_count(st.count() + 1);
        Bumped out;
        out.set_count(st.count());
        return out;
      })
      .on<Throw>([](const Throw& m, context& ctx) -> Bumped {
        // Changes the state first: the throw must leave the last committed state in place.
        ctx.state<ThrowerState>().set_count(-1000);
        throw std::runtime_error(m.message().empty() ? "thrown on request" : m.message());
      })
      .on<Refuse>([](const Refuse&, context& ctx) -> caf::expected<Bumped> {
        ctx.state<ThrowerState>().set_count(-2000);
        return make_error(errc::conflict, "refused on request");
      });
  types.add_stateless("echo", 4)
      .on<Echo>([](const Echo& m, context&) { return m; })
      .on<Fail>([](const Fail& m, context&) -> caf::expected<Echo> {
        auto it = codes_by_name().find(m.code());
        if (it == codes_by_name().end())
          return make_error(errc::bad_payload, "code: unknown error code '" + m.code() + "'");
        return make_error(it->second, m.message().empty() ? "failed on request" : m.message());
      });
  register_remind_actor(types);
  types.add_type<CounterState>("relay")
      .on_async<Relay>([](const Relay& m, context& ctx) {
        Sleep sleep;
        sleep.set_ms(m.sleep_ms());
        ctx.ask<Slept>(actor_id{m.target_type(), m.target_key()}, sleep,
                       [&ctx](caf::expected<Slept> answer) {
                         if (!answer) return ctx.reply(std::move(answer.error()));
                         ctx.reply(*answer);
                       });
      })
      .on<Forward>([](const Forward& m, context& ctx) {
        Increment inc;
        inc.set_by(m.by());
        ctx.tell(actor_id{"counter", m.counter_key()}, inc);
        auto& st = ctx.state<CounterState>();
        st.set_value(st.value() + 1);  // counts forwards, so the turn commits
        CounterValue out;
        out.set_value(st.value());
        return out;
      });
}

}  // namespace keel
