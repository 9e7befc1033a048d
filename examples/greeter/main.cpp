// A Keel application outside Keel's tree: one actor type, a node runtime over LevelDB in
// the directory given, two greetings, a restart, and a third greeting that remembers the
// first two. Exits 0 when every answer is the expected one.
#include <algorithm>
#include <cstdio>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "greeter/greeter.pb.h"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"

namespace {

using namespace std::chrono_literals;

void register_greeter(keel::type_registry& types) {
  types.add_type<greeter::GreeterState>("greeter").on<greeter::Greet>(
      [](const greeter::Greet& m, greeter::GreeterState& st, keel::context&) {
        *st.add_greeted() = m.name();
        greeter::Greeting out;
        out.set_times(
            static_cast<int32_t>(std::count(st.greeted().begin(), st.greeted().end(), m.name())));
        out.set_text("Hello, " + m.name() + " (" + std::to_string(out.times()) + ")");
        return out;
      });
}

// Greets `name` through the actor greeter/front on a fresh runtime over `dir`.
int greet(const keel::type_registry& types, const std::string& dir, const std::string& name,
          int expected_times) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = keel::open_leveldb_store({dir, true});
  if (!store)
    return std::fprintf(stderr, "store: %s\n", keel::message_of(store.error()).c_str()), 1;
  auto rt = keel::node_runtime::start(sys, types, std::move(*store), keel::make_system_clock(), {});
  if (!rt) return std::fprintf(stderr, "runtime: %s\n", keel::message_of(rt.error()).c_str()), 1;
  auto request = std::make_shared<greeter::Greet>();
  request->set_name(name);
  auto reply = (*rt)->call_and_wait(keel::actor_id{"greeter", "front"}, request, 5s);
  if (!reply) return std::fprintf(stderr, "call: %s\n", keel::message_of(reply.error()).c_str()), 1;
  const auto& greeting = static_cast<const greeter::Greeting&>(**reply);
  std::printf("%s\n", greeting.text().c_str());
  return greeting.times() == expected_times ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: greeter DATA_DIR\n"), 2;
  keel::type_registry types;
  register_greeter(types);
  std::string dir = argv[1];
  if (greet(types, dir, "ada", 1) || greet(types, dir, "ada", 2)) return 1;
  return greet(types, dir, "ada", 3);  // a third runtime: the state survived the restarts
}
