// The simulated external payment processor: each idempotency key charged once, failing
// at --payment-failure-rate.
#include <random>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

void register_processor(type_registry& types, const rideshare_options& opts) {
  double failure_rate = opts.payment_failure_rate;
  types
      .add_type<ProcessorState>(std::string{processor_type})
      // Keyed by its payment's id, and placed with it.
      .partition_key(std::string{payment_placement_name}, payment_placement)
      .on<Charge>([failure_rate](const Charge& m, context& ctx) -> caf::expected<ChargeResult> {
        ChargeResult out;
        if (ctx.view<ProcessorState>().done().count(m.idempotency_key())) {
          out.set_replayed(true);
          return out;
        }
        thread_local std::mt19937_64 rng{std::random_device{}()};
        if (failure_rate > 0 && std::uniform_real_distribution<double>{0, 1}(rng) < failure_rate)
          return make_error(errc::unavailable, "simulated processor failure");
        (*ctx.state<ProcessorState>().mutable_done())[m.idempotency_key()] = m.amount_cents();
        return out;
      })
      .on<GetLedger>([](const GetLedger&, context& ctx) { return ctx.view<ProcessorState>(); });
}

}  // namespace keel::rideshare
