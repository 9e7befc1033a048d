#pragma once

#include <string>
#include <string_view>

namespace keel::rideshare {

/// What an alert is about; its name is the alert's `kind` in the API (api.md, "Alerts").
enum class alert_kind { matched, searching, accepted, started, completed, cancelled, payment };

constexpr std::string_view name_of(alert_kind kind) {
  switch (kind) {
    case alert_kind::matched:
      return "matched";
    case alert_kind::searching:
      return "searching";
    case alert_kind::accepted:
      return "accepted";
    case alert_kind::started:
      return "started";
    case alert_kind::completed:
      return "completed";
    case alert_kind::cancelled:
      return "cancelled";
    case alert_kind::payment:
      return "payment";
  }
  return "";
}

}  // namespace keel::rideshare
