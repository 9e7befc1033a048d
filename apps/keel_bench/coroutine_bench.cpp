#include "coroutine_bench.hpp"

#include "bench_node.hpp"
#include "call_driver.hpp"

#include <time.h>

#include <fmt/format.h>

#include "keel/runtime/actor_call.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/task.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using builtin::CounterState;
using builtin::Echo;

constexpr int window = 100;  // calls in flight, over as many actors
const actor_id answerer{"bench_echo", "e"};

// Two types whose Echo turn asks `bench_echo` and replies with its answer, writing nothing:
// what differs is only how the turn waits for the answer.
void register_ask_types(type_registry& types) {
  types.add_stateless("bench_echo", 2).on<Echo>([](const Echo& m, context&) { return m; });
  types.add_type<CounterState>("ask_then").on_async<Echo>([](const Echo& m, context& ctx) {
    ctx.ask<Echo>(answerer, m, [&ctx](caf::expected<Echo> answer) {
      if (!answer) return ctx.reply(std::move(answer.error()));
      ctx.reply(std::move(*answer));
    });
  });
  types.add_type<CounterState>("ask_await")
      .on<Echo>([](const Echo& m, context& ctx) -> task<caf::expected<Echo>> {
        co_return co_await ctx.ask<Echo>(answerer, m);
      });
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct turn_cost {
  double per_second;      // wall clock
  double per_cpu_second;  // turns per second of the whole process's CPU time
};

// Runs `n` calls of `type`, `window` in flight over `window` actors. The CPU time is the
// figure compared: on a shared host, the wall-clock rate moves by 2x between runs as the
// two workers share a core or not, while the work per turn stays.
turn_cost measure(keel_node_fixture& node, const std::string& type, int n) {
  auto* router = &node.rt->router();
  auto request = std::make_shared<Echo>();
  request->set_text("x");
  message_ptr message = request;
  auto deadline = std::chrono::steady_clock::now() + 600s;
  auto next_key = std::make_shared<int>(0);
  auto cpu_before = process_cpu_seconds();
  auto rate = drive(*node.sys, n, window, [=](auto* self, std::function<void(bool)> done) {
    actor_id target{type, std::to_string((*next_key)++ % window)};
    call_from_actor(self, *router, target, message, deadline, trace_id{}, "bench",
                    wait_mode::multiplex, [done](call_result r) { done(static_cast<bool>(r)); });
  });
  auto cpu = process_cpu_seconds() - cpu_before;
  return {rate, rate > 0 && cpu > 0 ? n / cpu : 0.0};
}

}  // namespace

void bench_coroutine_turns(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  prog.step(fmt::format("(i) turn with one ask, {} in flight: coroutine vs continuation", window));
  int n = cfg.quick ? 50000 : 200000;
  keel_node_fixture node{false, register_ask_types};
  measure(node, "ask_then", 2000);  // warm-up: activations, allocators
  measure(node, "ask_await", 2000);
  std::vector<double> awaited, continued;
  for (int r = 0; r < cfg.rounds; ++r) {
    // Each goes first in every other round: neither always gets the warmer machine.
    turn_cost then_cost{}, await_cost{};
    if (r % 2 == 0) then_cost = measure(node, "ask_then", n);
    await_cost = measure(node, "ask_await", n);
    if (r % 2 == 1) then_cost = measure(node, "ask_then", n);
    awaited.push_back(await_cost.per_cpu_second);
    continued.push_back(then_cost.per_cpu_second);
    prog.note(
        fmt::format("round {}: per CPU second coroutine {:.0f}, continuation {:.0f} turns "
                    "(cost {:.3f}x); wall clock {:.0f} vs {:.0f} turns/s",
                    r + 1, await_cost.per_cpu_second, then_cost.per_cpu_second,
                    then_cost.per_cpu_second / await_cost.per_cpu_second, await_cost.per_second,
                    then_cost.per_second));
  }
  // A coroutine turn may cost at most 1.1x the continuation turn: its rate at least 1/1.1.
  out.push_back({fmt::format("i. one-ask turn, {} in flight: co_await", window), median(awaited),
                 "turns/cpu-s", median(continued), median_ratio(awaited, continued), 1 / 1.1});
}

}  // namespace keel::bench
