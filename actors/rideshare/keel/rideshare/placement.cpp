#include "keel/rideshare/placement.hpp"

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/ride_id.hpp"

namespace keel::rideshare {

namespace {

constexpr std::string_view payment_prefix = "pay-";
constexpr std::string_view rider_group_type = "rider-group";

}  // namespace

cell_id region_of(cell_id c) {
  // Floor division without negating: -INT64_MIN overflows.
  auto floor_div = [](int64_t v) {
    return v / cells_per_region - (v % cells_per_region < 0 ? 1 : 0);
  };
  return {floor_div(c.x), floor_div(c.y)};
}

placement_key cell_placement(std::string_view key) noexcept {
  if (auto c = parse_cell_key(key)) return {"region", cell_key(region_of(*c))};
  return {std::string{cell_type}, std::string{key}};
}

placement_key rider_placement(std::string_view key) noexcept {
  return {std::string{rider_group_type}, rider_group_of(key)};
}

placement_key ride_placement(std::string_view key) noexcept {
  if (auto group = group_in_ride_id(key))
    return {std::string{rider_group_type}, std::string{*group}};
  return {std::string{ride_type}, std::string{key}};
}

placement_key payment_placement(std::string_view key) noexcept {
  if (key.starts_with(payment_prefix) && key.size() > payment_prefix.size())
    return ride_placement(key.substr(payment_prefix.size()));
  return {std::string{payment_type}, std::string{key}};
}

placement_key alerts_placement(std::string_view key) noexcept {
  auto colon = key.find(':');
  if (colon != key.npos) {
    auto who = key.substr(0, colon);
    if (who == rider_type) return rider_placement(key.substr(colon + 1));
    if (who == driver_type) return {std::string{who}, std::string{key.substr(colon + 1)}};
  }
  return {std::string{alerts_type}, std::string{key}};
}

}  // namespace keel::rideshare
