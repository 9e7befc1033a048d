// keel-node: a Keel node serving the ride-sharing app and the counter, wired by the node
// host (keel::node_main), as any app's node is.
#include "keel/node/node_main.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/runtime/builtin_actors.hpp"
#include "rideshare_flags.hpp"

int main(int argc, char** argv) {
  keel::rideshare::rideshare_options ride;
  auto flags = [&ride](keel::app_flags& f) { keel::app::add_rideshare_flags(f, ride); };
  return keel::node_main(argc, argv, flags, [&ride](keel::node_app& app) {
    keel::register_counter(app.types());
    keel::rideshare::register_rideshare(app.types(), ride);
    app.add_routes([&ride](keel::http::gateway& gw, keel::node_runtime& runtime) {
      keel::rideshare::add_rideshare_routes(gw, runtime, ride);
    });
  });
}
