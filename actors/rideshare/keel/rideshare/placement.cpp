#include "keel/rideshare/placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

#include "keel/rideshare/actor_names.hpp"

namespace keel::rideshare {

namespace {

constexpr std::string_view payment_prefix = "pay-";
constexpr std::string_view ride_prefix = "r-";
constexpr std::string_view rider_group_type = "rider-group";
constexpr size_t group_digits = 8;
constexpr size_t ride_digits = 16;

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The rider group in a ride id "r-<8 hex>-<16 hex>"; nullopt for ids of any other form
// (older builds made "r-<16 hex>").
std::optional<std::string_view> group_in_ride_id(std::string_view key) {
  constexpr size_t size = ride_prefix.size() + group_digits + 1 + ride_digits;
  if (key.size() != size || !key.starts_with(ride_prefix) ||
      key[ride_prefix.size() + group_digits] != '-')
    return std::nullopt;
  auto group = key.substr(ride_prefix.size(), group_digits);
  if (!lower_hex(group) || !lower_hex(key.substr(size - ride_digits))) return std::nullopt;
  return group;
}

}  // namespace

std::string rider_group_of(std::string_view rider_id) {
  return fmt::format("{:08x}", static_cast<uint32_t>(fnv1a64(rider_id)));
}

std::string new_ride_id(std::string_view rider_id) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{}-{:016x}", ride_prefix, rider_group_of(rider_id), rng());
}

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
