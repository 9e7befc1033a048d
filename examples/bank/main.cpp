// bank-node: a Keel node serving the bank's actors and its JSON routes (README.md). The
// node host (Keel::node) gives flags, the data dir, the HTTP server and clean shutdown.
#include "bank/bank.hpp"
#include "keel/node/node_main.hpp"

int main(int argc, char** argv) {
  return keel::node_main(argc, argv, [](keel::node_app& app) {
    bank::register_bank(app.types());
    app.add_routes(bank::add_bank_routes);
  });
}
