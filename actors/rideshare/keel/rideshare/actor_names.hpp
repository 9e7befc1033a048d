#pragma once

#include <string>
#include <string_view>

#include "keel/runtime/actor_id.hpp"

namespace keel::rideshare {

// The ride-sharing actor types. Keys: driver/rider/ride/payment ids as the API gives them,
// cells and areas "x:y", alerts "rider:<id>" or "driver:<id>", ride_key the Idempotency-Key.
inline constexpr std::string_view driver_type = "driver";
inline constexpr std::string_view cell_type = "cell";
inline constexpr std::string_view area_type = "area";
inline constexpr std::string_view quote_type = "quote";
inline constexpr std::string_view ride_type = "ride";
inline constexpr std::string_view rider_type = "rider";
inline constexpr std::string_view payment_type = "payment";
inline constexpr std::string_view processor_type = "processor";
inline constexpr std::string_view alerts_type = "alerts";
inline constexpr std::string_view ride_key_type = "ride_key";

inline actor_id driver_actor(std::string id) {
  return {std::string{driver_type}, std::move(id)};
}
inline actor_id cell_actor(std::string key) {
  return {std::string{cell_type}, std::move(key)};
}
inline actor_id area_actor(std::string key) {
  return {std::string{area_type}, std::move(key)};
}
inline actor_id ride_actor(std::string id) {
  return {std::string{ride_type}, std::move(id)};
}
inline actor_id rider_actor(std::string id) {
  return {std::string{rider_type}, std::move(id)};
}
inline actor_id payment_actor(std::string id) {
  return {std::string{payment_type}, std::move(id)};
}
inline actor_id processor_actor(std::string id) {
  return {std::string{processor_type}, std::move(id)};
}
/// `who` is "rider" or "driver".
inline actor_id alerts_actor(std::string_view who, const std::string& id) {
  return {std::string{alerts_type}, std::string{who} + ":" + id};
}

}  // namespace keel::rideshare
