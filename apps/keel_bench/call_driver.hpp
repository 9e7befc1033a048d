#pragma once

// The closed-loop call driver keel-bench's call benchmarks share.

#include <chrono>
#include <functional>
#include <future>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace keel::bench {

// Drives `n` calls with `window` in flight; each answer sends the next. `issue(i, done)`
// sends call i and must run `done` in the same actor when it is answered.
struct driver_state {
  int sent = 0;
  int answered = 0;
  int failed = 0;
};
using issue_fn = std::function<void(caf::stateful_actor<driver_state>*, std::function<void(bool)>)>;

inline double drive(caf::actor_system& sys, int n, int window, issue_fn issue) {
  std::promise<double> done;
  auto start = std::chrono::steady_clock::now();
  sys.spawn([&, n, window, issue](caf::stateful_actor<driver_state>* self) {
    auto next = std::make_shared<std::function<void()>>();
    *next = [self, n, issue, next, &done, start] {
      ++self->state.sent;
      issue(self, [self, n, next, &done, start](bool ok) {
        if (!ok) ++self->state.failed;
        if (++self->state.answered == n) {
          auto secs =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          done.set_value(self->state.failed > 0 ? 0.0 : n / secs);
          self->quit();
          return;
        }
        if (self->state.sent < n) (*next)();
      });
    };
    for (int i = 0; i < window && i < n; ++i) (*next)();
  });
  return done.get_future().get();
}

}  // namespace keel::bench
