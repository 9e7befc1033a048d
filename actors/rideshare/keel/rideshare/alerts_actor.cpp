// Alert inboxes: one per rider or driver, the newest alerts kept as numbered entries.
#include <algorithm>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

// Stores alert number `st.added()` in its slot, overwriting the alert `kept` older.
void store_alert(context& ctx, AlertsState& st, const Alert& alert, int kept) {
  StoredAlert stored;
  stored.set_number(st.added());
  *stored.mutable_alert() = alert;
  ctx.put_entry(std::to_string(st.added() % kept), stored);
  st.set_added(st.added() + 1);
}

}  // namespace

void register_alerts(type_registry& types, const rideshare_options& opts) {
  int kept = std::max(opts.alerts_kept, 1);
  types.add_type<AlertsState>(std::string{alerts_type})
      .partition_key(std::string{alerts_placement_name}, alerts_placement)
      .with_entries()
      .on<AddAlert>([kept](const AddAlert& m, context& ctx) {
        auto& st = ctx.state<AlertsState>();
        if (st.legacy_alerts_size() > 0) {
          for (int i = st.legacy_alerts_size() - 1; i >= 0; --i)  // oldest first
            store_alert(ctx, st, st.legacy_alerts(i), kept);
          st.clear_legacy_alerts();
        }
        store_alert(ctx, st, m.alert(), kept);
        return Done{};
      })
      .on<GetAlerts>([kept](const GetAlerts&, context& ctx) {
        auto stored = ctx.entries<StoredAlert>();
        std::sort(stored.begin(), stored.end(), [](const auto& a, const auto& b) {
          return a.second.number() > b.second.number();
        });
        AlertInbox out;  // newest first; slots of a larger bound used before count too
        for (const auto& [slot, s] : stored) *out.add_alerts() = s.alert();
        for (const auto& legacy : ctx.view<AlertsState>().legacy_alerts())
          *out.add_alerts() = legacy;
        while (out.alerts_size() > kept) out.mutable_alerts()->RemoveLast();
        return out;
      });
}

}  // namespace keel::rideshare
