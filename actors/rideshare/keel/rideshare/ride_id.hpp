#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keel::rideshare {

// Ride ids as the gateway mints them: "r-<rider group>-<16 hex>", the group naming where
// the ride lives (placement.hpp) and the rest unguessable, since a ride id is all a caller
// needs to read or cancel the ride.

/// The group of a rider and of its rides: 8 hex digits of a hash of the rider's id, so any
/// rider id fits in a ride id.
std::string rider_group_of(std::string_view rider_id);

/// A new ride id for a ride of `rider_id`; its 64 random bits come from the kernel's
/// random source, so ids are unique across threads, nodes and restarts, and unpredictable.
std::string new_ride_id(std::string_view rider_id);

/// The rider group in a ride id "r-<8 hex>-<16 hex>"; nullopt for ids of any other form
/// (older builds made "r-<16 hex>").
std::optional<std::string_view> group_in_ride_id(std::string_view ride_id);

}  // namespace keel::rideshare
